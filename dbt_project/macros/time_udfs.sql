{#
  Tolerant date/time parsing for the files and API feeds (created before every run, idempotent).

  hub_ts(text)    timestamptz from ISO-8601 (offset or Z honoured; naive = Asia/Shanghai), YYYY/M/D[ H:M[:S]],
                  YYYYMMDDHH24MISS or a bare date (midnight Asia/Shanghai); full-width digits accepted;
                  anything unparseable -> null (a not_null test reports it, the load never crashes)
  hub_date(text)  date from YYYY-MM-DD, YYYY/M/D, YYYY.M.D, YYYY年M月D日, YYYYMMDD, an Excel serial day
                  number, or the local (Asia/Shanghai) date of a timestamp; unparseable -> null
#}
{% macro create_time_udfs() %}
create schema if not exists util;
-- parallel unsafe: the exception handler needs a subtransaction, impossible in a parallel plan
create or replace function util.hub_ts(t text) returns timestamptz language plpgsql stable parallel unsafe as $$
declare
  v text := nullif(regexp_replace(trim(util.hub_fw2hw(coalesce(t, ''))), '\s+', ' ', 'g'), '');
begin
  if v is null then return null; end if;
  if v ~ '^\d{14}$' then return to_timestamp(v, 'YYYYMMDDHH24MISS')::timestamp at time zone 'Asia/Shanghai'; end if;
  if v ~ '^\d{8}$' then return to_date(v, 'YYYYMMDD')::timestamp at time zone 'Asia/Shanghai'; end if;
  v := regexp_replace(v, '^(\d{4})[/.年](\d{1,2})[/.月](\d{1,2})日?', '\1-\2-\3');
  if v ~ '^\d{4}-\d{1,2}-\d{1,2}$' then return v::date::timestamp at time zone 'Asia/Shanghai'; end if;
  if v !~ '^\d{4}-\d{1,2}-\d{1,2}[T ]\d{1,2}:\d{2}' then return null; end if;
  if v ~ '([zZ]|[+-]\d{2}(:?\d{2})?)$' and v ~ '[T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)? ?([zZ]|[+-]\d{2}(:?\d{2})?)$' then
    return v::timestamptz;
  end if;
  return v::timestamp at time zone 'Asia/Shanghai';
exception when others then return null;
end $$;
create or replace function util.hub_date(t text) returns date language plpgsql stable parallel unsafe as $$
declare
  v text := nullif(trim(util.hub_fw2hw(coalesce(t, ''))), '');
  d text;
begin
  if v is null then return null; end if;
  if v ~ '^\d{8}$' then return to_date(v, 'YYYYMMDD'); end if;
  if v ~ '^\d{5}(\.0+)?$' then return date '1899-12-30' + split_part(v, '.', 1)::int; end if;  -- Excel serial day
  d := regexp_replace(v, '^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?', '\1-\2-\3');
  if d ~ '^\d{4}-\d{1,2}-\d{1,2}$' then
    return make_date(split_part(d, '-', 1)::int, split_part(d, '-', 2)::int, split_part(d, '-', 3)::int);
  end if;
  return (util.hub_ts(v) at time zone 'Asia/Shanghai')::date;
exception when others then return null;
end $$;
{% endmacro %}

{% macro parse_ts(column) -%}
    util.hub_ts({{ column }})
{%- endmacro %}

{% macro parse_date(column) -%}
    util.hub_date({{ column }})
{%- endmacro %}

{# 'true'/'false' (also 是/否, 1/0, yes/no) -> boolean; anything else -> null. #}
{% macro parse_bool(column) -%}
    case lower(trim(util.hub_fw2hw({{ column }}))) when 'true' then true when '1' then true when '是' then true
         when 'yes' then true when 'false' then false when '0' then false when '否' then false when 'no' then false end
{%- endmacro %}

{# `dbt run-operation install_time_udfs` creates the date/time functions outside a build (tests, ad-hoc SQL). #}
{% macro install_time_udfs() %}
    {% do run_query(create_udfs()) %}
    {% do run_query(create_time_udfs()) %}
{% endmacro %}
