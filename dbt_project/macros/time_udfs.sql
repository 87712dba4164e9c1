{#
  Tolerant date/time parsing for the files and API feeds (created before every run, idempotent).

  hub_ts(text)    timestamptz from ISO-8601 (offset or Z honoured; naive = Asia/Shanghai), YYYY/M/D[ H:M[:S]],
                  YYYYMMDDHH24MISS or a bare date (midnight Asia/Shanghai); full-width digits accepted;
                  anything unparseable -> null (a not_null test reports it, the load never crashes)
  hub_date(text)  date from YYYY-MM-DD, YYYY/M/D, YYYY.M.D, YYYY年M月D日, YYYYMMDD, an Excel serial day
                  number, or the local (Asia/Shanghai) date of a timestamp; unparseable -> null
  hub_tstz(text)  hub_ts with a fast path for a database's own timestamp text (parse_ts and latest_version use it)
  hub_jsonb(text) jsonb, malformed -> null; hub_geojson_polygon(text) GeoJSON Polygon -> polygon, else null
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
-- hub_ts without the exception handler's cost for the common shape (a database's own text of a timestamp, ISO-8601
-- with seconds and an offset, or naive = Asia/Shanghai): that shape, with a day of 01..28, an hour < 24 and an
-- offset PostgreSQL accepts, cannot fail the cast; everything else goes through hub_ts. Same results as hub_ts.
create or replace function util.hub_tstz(t text) returns timestamptz language sql stable parallel unsafe as $$
  select case
    when t ~ '^(19|20)\d{2}-(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])[ T]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?([+-](0\d|1[0-5])(:?[0-5]\d)?|Z)$'
      then t::timestamptz
    when t ~ '^(19|20)\d{2}-(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])[ T]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$'
      then t::timestamp at time zone 'Asia/Shanghai'
    else util.hub_ts(t)
  end
$$;
-- text -> jsonb; malformed JSON -> null
create or replace function util.hub_jsonb(t text) returns jsonb language plpgsql immutable parallel unsafe as $$
begin
  return t::jsonb;
exception when others then return null;
end $$;
-- GeoJSON Polygon text (outer ring) -> PostgreSQL polygon; anything else (malformed JSON, another geometry,
-- non-numeric coordinates) -> null
create or replace function util.hub_geojson_polygon(t text) returns polygon language plpgsql immutable parallel unsafe as $$
declare
  g jsonb := util.hub_jsonb(t);
begin
  if g is null or jsonb_typeof(g -> 'coordinates' -> 0) is distinct from 'array' then return null; end if;
  return polygon('(' || regexp_replace(
      regexp_replace((g -> 'coordinates' -> 0)::text, '\[\s*([-0-9.eE+]+)\s*,\s*([-0-9.eE+]+)\s*\]', '(\1,\2)', 'g'),
      '^\[|\]$', '', 'g') || ')');
exception when others then return null;
end $$;
{% endmacro %}

{% macro parse_ts(column) -%}
    util.hub_tstz({{ column }})
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
