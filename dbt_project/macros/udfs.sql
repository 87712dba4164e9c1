{#
  SQL functions shared by the staging models, created before every run (idempotent).

  hub_fw2hw(text)        full-width digits/letters/space -> half-width
  hub_id_clean(text)     ID number as sent -> upper-case, half-width, no spaces; 15-digit legacy numbers
                         are expanded to 18 by the GB 11643 rule (insert "19", compute the check character)
  hub_id_check(text)     ISO 7064 MOD 11-2 check character of the first 17 digits
  hub_id_status(text)    valid / repaired / invalid_check / invalid_date / malformed / missing
  hub_date8(text)        YYYYMMDD -> date, hub_ts14(text) YYYYMMDDHH24MISS -> timestamptz (Asia/Shanghai);
                         impossible dates and times -> null
  hub_int(text), hub_float(text)  numbers as text -> int / double precision; anything else -> null
  hub_date_between(d, lo, hi), hub_ts_between(t, lo, hi)  the value when inside [lo, hi], else null
  hub_cn_digits(text)    Chinese numerals in house and group numbers -> digits (三组十五号 -> 3组15号)
  hub_addr_key(text)     address normalised for matching against the building registry
  hub_substitutions(a,b) number of differing characters of two equal-length strings (typo tolerance)
  Tested against python-stdnum's cn.ric in tests/dbt_project/test_udfs.py.
#}
{% macro create_udfs() %}
create schema if not exists util;
create or replace function util.hub_fw2hw(t text) returns text language sql immutable parallel safe as $$
  select translate(t, '０１２３４５６７８９ＸｘＡＢＣＤＥＦ　', '0123456789XxABCDEF ')
$$;
create or replace function util.hub_id_check(body17 text) returns text language sql immutable parallel safe as $$
  -- weights 2^(18-i) mod 11 written out: one expression, which PostgreSQL inlines into the caller (the former
  -- generate_series + sum was a sub-plan executed per call, most of the cost of staging an ID at county scale)
  select substr('10X98765432', (
      substr(body17, 1, 1)::int * 7 + substr(body17, 2, 1)::int * 9 + substr(body17, 3, 1)::int * 10
    + substr(body17, 4, 1)::int * 5 + substr(body17, 5, 1)::int * 8 + substr(body17, 6, 1)::int * 4
    + substr(body17, 7, 1)::int * 2 + substr(body17, 8, 1)::int * 1 + substr(body17, 9, 1)::int * 6
    + substr(body17, 10, 1)::int * 3 + substr(body17, 11, 1)::int * 7 + substr(body17, 12, 1)::int * 9
    + substr(body17, 13, 1)::int * 10 + substr(body17, 14, 1)::int * 5 + substr(body17, 15, 1)::int * 8
    + substr(body17, 16, 1)::int * 4 + substr(body17, 17, 1)::int * 2) % 11 + 1, 1)
$$;
create or replace function util.hub_id_compact(t text) returns text language sql immutable parallel safe as $$
  select nullif(upper(regexp_replace(util.hub_fw2hw(coalesce(t, '')), '[\s\-]', '', 'g')), '')
$$;
create or replace function util.hub_id_clean(t text) returns text language sql immutable parallel safe as $$
  -- no CTE, so it is inlined like hub_id_compact and hub_id_check
  select case
    when util.hub_id_compact(t) ~ '^\d{15}$'
      then substr(util.hub_id_compact(t), 1, 6) || '19' || substr(util.hub_id_compact(t), 7, 9)
        || util.hub_id_check(substr(util.hub_id_compact(t), 1, 6) || '19' || substr(util.hub_id_compact(t), 7, 9))
    else util.hub_id_compact(t) end
$$;
create or replace function util.hub_id_birth_ok(v text) returns boolean language sql immutable parallel safe as $$
  -- plain arithmetic, no exception block: a PL/pgSQL exception handler needs a subtransaction, which parallel
  -- plans (county scale) cannot start; CASE keeps make_date away from impossible months and year 0
  select case
    when substr(v, 7, 8) !~ '^\d{8}$' then false
    when substr(v, 7, 4)::int = 0 or substr(v, 11, 2)::int not between 1 and 12 then false
    else substr(v, 13, 2)::int between 1 and extract(day from
           make_date(substr(v, 7, 4)::int, substr(v, 11, 2)::int, 1) + interval '1 month - 1 day')::int
  end
$$;
create or replace function util.hub_date8(t text) returns date language sql immutable parallel safe as $$
  -- YYYYMMDD -> date; year 0, month 13, 31 February, text -> null, never an error (CASE keeps the casts behind
  -- the format check; no exception block, so parallel safe)
  select case
    when trim(t) !~ '^\d{8}$' then null
    when not util.hub_id_birth_ok('000000' || trim(t)) then null
    else make_date(substr(trim(t), 1, 4)::int, substr(trim(t), 5, 2)::int, substr(trim(t), 7, 2)::int)
  end
$$;
create or replace function util.hub_ts14(t text) returns timestamptz language sql stable parallel safe as $$
  -- YYYYMMDDHH24MISS (Asia/Shanghai) -> timestamptz; impossible dates or times -> null, never an error
  select case
    when trim(t) !~ '^\d{14}$' then null
    when not util.hub_id_birth_ok('000000' || left(trim(t), 8)) then null
    when substr(trim(t), 9, 2)::int > 23 or substr(trim(t), 11, 2)::int > 59 or substr(trim(t), 13, 2)::int > 59 then null
    else make_timestamp(substr(trim(t), 1, 4)::int, substr(trim(t), 5, 2)::int, substr(trim(t), 7, 2)::int,
                        substr(trim(t), 9, 2)::int, substr(trim(t), 11, 2)::int, substr(trim(t), 13, 2)::int)
         at time zone 'Asia/Shanghai'
  end
$$;
create or replace function util.hub_int(t text) returns int language sql immutable parallel safe as $$
  -- an integer as text (full-width digits, spaces around, a trailing .0 accepted) -> int; anything else -> null
  select case when trim(util.hub_fw2hw(t)) ~ '^[+-]?\d{1,9}(\.0*)?$'
              then split_part(trim(util.hub_fw2hw(t)), '.', 1)::int end
$$;
create or replace function util.hub_float(t text) returns double precision language sql immutable parallel safe as $$
  -- a decimal number as text -> double precision; text, empty, overflowing exponents -> null
  select case when trim(util.hub_fw2hw(t)) ~ '^[+-]?(\d{1,15}(\.\d*)?|\.\d+)([eE][+-]?\d{1,2})?$'
              then trim(util.hub_fw2hw(t))::double precision end
$$;
create or replace function util.hub_date_between(d date, lo date, hi date) returns date language sql immutable parallel safe as $$
  select case when d >= lo and d <= hi then d end
$$;
create or replace function util.hub_ts_between(t timestamptz, lo timestamptz, hi timestamptz) returns timestamptz
language sql immutable parallel safe as $$
  select case when t >= lo and t <= hi then t end
$$;
create or replace function util.hub_id_status(t text) returns text language plpgsql immutable parallel safe as $$
-- PL/pgSQL so the normalised number is computed once per call (as an inlined SQL expression it was recomputed
-- in every branch): 330k county resident IDs in ~2 s instead of 12 s. No exception block: parallel safe.
declare
  v text := util.hub_id_clean(t);  -- null exactly when nothing but spaces/dashes was sent
begin
  if v is null then return 'missing'; end if;
  if v !~ '^\d{17}[\dX]$' then return 'malformed'; end if;
  if not util.hub_id_birth_ok(v) or substr(v, 7, 4)::int < 1900 then return 'invalid_date'; end if;
  if util.hub_id_check(substr(v, 1, 17)) <> substr(v, 18, 1) then return 'invalid_check'; end if;
  if coalesce(t, '') <> v then return 'repaired'; end if;
  return 'valid';
end
$$;
create or replace function util.hub_cn_digits(t text) returns text language sql immutable parallel safe as $$
  select translate(
    regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
    regexp_replace(regexp_replace(t,
      '([一二三四五六七八九])百([一二三四五六七八九])十([一二三四五六七八九])', '\1\2\3', 'g'),
      '([一二三四五六七八九])百([一二三四五六七八九])十', '\1\20', 'g'),
      '([一二三四五六七八九])百零([一二三四五六七八九])', '\10\2', 'g'),
      '([一二三四五六七八九])百', '\100', 'g'),
      '([一二三四五六七八九])十([一二三四五六七八九])', '\1\2', 'g'),
      '([一二三四五六七八九])十', '\10', 'g'),
      '十([一二三四五六七八九])', '1\1', 'g'),
      '十', '10', 'g'),
    '零一二三四五六七八九', '0123456789')
$$;
create or replace function util.hub_addr_key(t text) returns text language sql immutable parallel safe as $$
  select nullif(util.hub_cn_digits(regexp_replace(util.hub_fw2hw(coalesce(t, '')), '\s|^.{1,4}县', '', 'g')), '')
$$;
create or replace function util.hub_substitutions(a text, b text) returns int language sql immutable parallel safe as $$
  -- characters that differ between two strings of equal length (a clerk's homophone typo: 红旗 / 洪旗); null
  -- when the lengths differ
  select case when char_length(a) = char_length(b)
              then (select count(*)::int from generate_series(1, char_length(a)) as i
                    where substr(a, i, 1) <> substr(b, i, 1)) end
$$;
drop function if exists util.hub_id_hash(text, text);
create or replace function util.hub_id_hash(id18 text) returns text language sql stable parallel safe as $$
  -- HMAC-SHA256 (RFC 2104) of the ID number with the hub's pseudonymisation key. The embedded server has no
  -- pgcrypto, so HMAC is built from core sha256(): H((K xor opad) || H((K xor ipad) || m)), the padded keys read
  -- from hub_secret.id_hash_key as the caller (only the transformer may read it; govhub.keys installs it). No
  -- key ever appears in compiled SQL.
  select case when id18 is null then null
              else encode(sha256(k.outer_key || sha256(k.inner_key || convert_to(id18, 'UTF8'))), 'hex') end
  from hub_secret.id_hash_key as k
$$;
revoke execute on function util.hub_id_hash(text) from public;
create or replace function util.hub_mask_name(name text) returns text language sql immutable parallel safe as $$
  -- 张三 -> 张*, 张三明 -> 张*明, 欧阳明华 -> 欧**华
  select case when name is null or name = '' then null
              when char_length(name) = 1 then '*'
              when char_length(name) = 2 then left(name, 1) || '*'
              else left(name, 1) || repeat('*', char_length(name) - 2) || right(name, 1) end
$$;
{% endmacro %}

{# `dbt run-operation install_udfs` creates the functions outside a build (tests, ad-hoc SQL). #}
{% macro install_udfs() %}
    {% do run_query(create_udfs()) %}
{% endmacro %}
