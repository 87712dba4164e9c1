{#
  Address functions, created before every run (on-run-start, idempotent). They know no place name: the names
  of the county, its townships and villages come from the division table in int_addresses__matched.

  hub_addr_clean(text)      NFKC (full-width digits, letters, space -> half-width), no spaces or punctuation
  hub_cn_int(text)          a house/group/building number as written -> integer: 15, 十五, 一百零五, 一二〇, 两
                            (null when the text is not a number)
  hub_addr_rest(text)       what follows the village/community in an address -> {group or road, number, building,
                            leftover}: groups 组/社/屯/队/小组/村民小组 -> 'N组', roads kept as typed, house numbers
                            号/号院/# -> 'N', buildings 栋/幢/号楼/座/单元 -> 'N' (the first one: 3栋2单元 -> 3),
                            rooms (室) dropped; whatever does not parse is the leftover
  hub_addr_rest_key(text[]) the parts as one comparable string ('3组|15|2'), for equality and edit distance
  hub_addr_stem(text)       a division name without its level word (清河县 -> 清河, 红旗村 -> 红旗); null when
                            fewer than two characters would remain
  hub_regex_escape(text)    a literal for a regular expression
  hub_edit_distance(a, b)   Levenshtein distance in characters: fuzzystrmatch's levenshtein when the extension can
                            be created (trusted since PostgreSQL 13; the embedded server ships it), else
                            hub_edit_distance_plpgsql, the same distance in PL/pgSQL
  Tested in tests/dbt_project/test_address_udfs.py.
#}
{% macro create_address_udfs() %}
create schema if not exists util;
create or replace function util.hub_addr_clean(t text) returns text language sql immutable parallel safe as $$
  select nullif(regexp_replace(normalize(coalesce(t, ''), NFKC),
                '[[:space:],.;:()\[\]{}<>"''`~!?@$%^&*_=+|\\/·•・、，。；：（）【】《》“”‘’！？…]+', '', 'g'), '')
$$;
create or replace function util.hub_cn_int(t text) returns int language plpgsql immutable parallel safe as $$
declare
  s text := translate(t, '〇零一二两三四五六七八九', '001223456789');
  m text[];
begin
  if s is null or s = '' then return null; end if;
  if s ~ '^[0-9]+$' and char_length(s) <= 9 then return s::int; end if;  -- Arabic, or Chinese digit by digit (一二〇 -> 120)
  m := regexp_match(s, '^(?:(\d)千)?0?(?:(\d)百)?0?(?:(\d)?(十))?(\d)?$');
  if m is null or s !~ '[千百十]' then return null; end if;
  return coalesce(m[1]::int, 0) * 1000 + coalesce(m[2]::int, 0) * 100
       + case when m[4] is not null then coalesce(m[3]::int, 1) * 10 else 0 end + coalesce(m[5]::int, 0);
end
$$;
create or replace function util.hub_addr_rest(t text) returns text[] language plpgsql immutable parallel safe as $$
declare
  num constant text := '([0-9〇零一二两三四五六七八九十百千]+)';
  s text := coalesce(util.hub_addr_clean(t), '');
  m text[];
  grp text;
  house text;
  bld text;
begin
  -- the common forms in Arabic digits, in one expression (4x faster than the general reading below)
  m := regexp_match(s, '^([0-9]+)(?:村民小组|小组|组|社|屯|队)([0-9]+)(?:号院|号)$');
  if m is not null and char_length(m[1]) <= 9 and char_length(m[2]) <= 9 then
    return array[m[1]::int || '组', m[2]::int::text, null, null];
  end if;
  m := regexp_match(s, '^([^0-9]+?(?:大道|大街|路|街|巷|弄))([0-9]+)(?:号院|号)(?:([0-9]+)(?:栋|幢|号楼|座|单元))?$');
  if m is not null and char_length(m[2]) <= 9 and coalesce(char_length(m[3]), 0) <= 9 then
    return array[m[1], m[2]::int::text, m[3]::int::text, null];
  end if;
  -- village group (组 and the words departments use for it) or a road/street
  m := regexp_match(s, '^' || num || '(?:村民小组|小组|组|社|屯|队)(.*)$');
  if m is not null and util.hub_cn_int(m[1]) is not null then
    grp := util.hub_cn_int(m[1]) || '组';
    s := m[2];
  else
    m := regexp_match(s, '^([^0-9]*?(?:大道|大街|路|街|巷|弄))(.*)$');
    if m is not null and m[2] ~ ('^' || num) then
      grp := m[1];
      s := m[2];
    end if;
  end if;
  -- house number: N号, N号院, N# (not N号楼, a building)
  m := regexp_match(s, '^' || num || '(?:号院|号(?!楼)|#)(.*)$');
  if m is not null and util.hub_cn_int(m[1]) is not null then
    house := util.hub_cn_int(m[1])::text;
    s := m[2];
  elsif s ~ ('^' || num || '$') and util.hub_cn_int(s) is not null then
    house := util.hub_cn_int(s)::text;  -- a bare trailing number
    s := '';
  end if;
  -- building: the first of N栋 / N幢 / N号楼 / N座 / N单元
  m := regexp_match(s, '^' || num || '(?:栋|幢|号楼|座|单元)(.*)$');
  if house is not null and m is not null and util.hub_cn_int(m[1]) is not null then
    bld := util.hub_cn_int(m[1])::text;
    s := regexp_replace(m[2], '^[0-9〇零一二两三四五六七八九十百千]+(?:单元|层|楼)', '');
  end if;
  s := regexp_replace(s, '[0-9〇零一二两三四五六七八九十百千]+室$', '');  -- a flat, below the registry's grain
  return array[grp, house, bld, nullif(s, '')];
end
$$;
create or replace function util.hub_addr_rest_key(p text[]) returns text language sql immutable parallel safe as $$
  select concat_ws('|', coalesce(p[1], ''), coalesce(p[2], ''), coalesce(p[3], ''), p[4])
$$;
create or replace function util.hub_addr_stem(name text) returns text language sql immutable parallel safe as $$
  select case when char_length(s) >= 2 then s end
  from (select regexp_replace(util.hub_addr_clean(name),
    '(特别行政区|自治区|自治州|自治县|自治旗|地区|街道办事处|办事处|街道|村民委员会|村委会|社区居委会|居民委员会|居委会|社区|嘎查|苏木|省|市|盟|州|县|旗|区|镇|乡|村)$',
    '') as s) as x
$$;
create or replace function util.hub_regex_escape(t text) returns text language sql immutable parallel safe as $$
  select regexp_replace(t, '([.^$*+?()\[\]{}|\\-])', '\\\1', 'g')
$$;
create or replace function util.hub_edit_distance_plpgsql(a text, b text) returns int language plpgsql immutable
parallel safe as $$
-- Levenshtein distance in characters (insert, delete, substitute: 1 each), for servers without fuzzystrmatch
declare
  prev int[];
  cur int[];
  la int := char_length(a);
  lb int := char_length(b);
begin
  if a is null or b is null or la > 255 or lb > 255 then return null; end if;
  prev := array(select generate_series(0, lb));
  for i in 1..la loop
    cur := array[i];
    for j in 1..lb loop
      cur := cur || least(prev[j + 1] + 1, cur[j] + 1,
                          prev[j] + case when substr(a, i, 1) = substr(b, j, 1) then 0 else 1 end);
    end loop;
    prev := cur;
  end loop;
  return prev[lb + 1];
end
$$;
do $do$
declare
  ext_schema text;
begin
  begin
    create extension if not exists fuzzystrmatch with schema util;
  exception when others then
    null;  -- not installed on this server, or no privilege: the PL/pgSQL distance
  end;
  select n.nspname into ext_schema
  from pg_extension as e inner join pg_namespace as n on n.oid = e.extnamespace
  where e.extname = 'fuzzystrmatch';
  -- levenshtein takes at most 255 characters; longer strings are never "similar" addresses anyway
  execute format($f$
    create or replace function util.hub_edit_distance(a text, b text) returns int language sql immutable
    parallel safe as $b$
      select case when char_length(a) <= 255 and char_length(b) <= 255 then %s(a, b) end
    $b$ $f$, case when ext_schema is null then 'util.hub_edit_distance_plpgsql'
                  else quote_ident(ext_schema) || '.levenshtein' end);
end
$do$;
{% endmacro %}

{# `dbt run-operation install_address_udfs` creates the functions outside a build (tests, ad-hoc SQL). #}
{% macro install_address_udfs() %}
    {% do run_query(create_address_udfs()) %}
{% endmacro %}

{#
  Confidence of an address assignment: the share of that method's assignments whose grid (village for the
  village-only methods) was the true one on the simulated `tiny` counties of dialect seeds 1-3 (README, "Addresses");
  methods that never fired there carry a prior, marked below.
#}
{% macro address_match_confidence(method) %}
    case
        when {{ method }} = 'exact' then 0.998                      -- 4,298 of 4,304 (seeds 1-3)
        when {{ method }} = 'exact_repaired_village' then 1.0       -- 334 of 334; small 31: 1,769 of 1,769 (homophones)
        when {{ method }} = 'group' then 1.0                        -- 456 of 456
        when {{ method }} = 'village' then 1.0                      -- the village's only grid
        when {{ method }} like '%_repaired_village' then 0.95       -- prior: not seen on seeds 1-3
        when {{ method }} = 'number' then 0.95                      -- prior: not seen on seeds 1-3
        -- leave-one-out on the registry: a building's closest other numbers (1 edit) lay in its own grid in 300
        -- of 300 cases where they lay in one grid; never needed by a simulated address
        when {{ method }} = 'similar' then 0.95
        when {{ method }} like 'village_name%' then 1.0             -- village right in 30 of 30 (no grid)
        when {{ method }} = 'village_scan' then 0.9                 -- prior
        else 0.0
    end::numeric(4, 3)
{% endmacro %}
