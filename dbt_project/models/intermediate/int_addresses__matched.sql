-- One row per distinct free-text address seen in any department (person records' addresses, the household
-- register's registered addresses, event locations), matched to the building registry.
--
-- Parsing (util functions of macros/addresses.sql; every place name comes from the division table):
--   cleaned (NFKC: full-width -> half-width; no spaces or punctuation), then read as
--   [province / prefecture: any ...省/自治区/市/州/盟/地区, read off only when a county or township name follows]
--   [county] [township] village rest
--   where the county and township are the division table's names, in full or as the stem with any level word of
--   its level (清河 / 清河县, 开通 / 开通镇 / 开通乡), and the village is the longest division name or stem that
--   starts what follows (a stem must be followed by a level word or a number: 红旗3组, 红旗村委会3组). The rest
--   is split into group or road, house number and building (util.hub_addr_rest: 三社 -> 3组, 十五号院 -> 15,
--   3幢 / 3单元 -> 3). The registry's std_address is read the same way after its own village's name.
-- Matching, in order (match_level, match_method):
--   1. address / exact: the village and rest equal one building's (or the address names no building and the
--      house number is one building);
--   2. address_prefix / number: the house number's buildings lie in one grid (an urban number with several
--      buildings, the building left out); group: the group's or road's buildings lie in one grid (红旗村3组);
--      village: the village has one grid;
--   3. address_similar / similar: the closest rests of the village by edit distance (util.hub_edit_distance), at
--      most var('address_max_edit_distance', 1) edits, all closest buildings in one grid;
--   when no village name starts the text, a village of the county whose name reads the same (a homophone typed
--   by a pinyin input method: 汪庄胜村 for 王庄胜村, seed char_pinyin), else one edit away (exactly one, or exactly
--   one in the township typed) repairs it and 1-3 run again (match_level *_repaired, method *_repaired_village); a
--   village named in two townships with no township typed stays ambiguous unless the rest names one grid; an
--   address with a village name elsewhere in it is village_only (village_scan); else unassigned.
-- match_confidence: macro address_match_confidence (the share of each method's assignments that were right on
-- the tuning seeds).
--
-- Incremental, keyed on address: an address's row depends on its text and the reference data alone (divisions,
-- grids, buildings, char_pinyin), never on other addresses, so a run parses only the texts not stored yet and
-- merges them in; every text again when reference_fingerprint changes (that data, the code of this model, its
-- parents and macros, the util functions it calls). Texts no department sends any more are deleted (post-hook
-- drop_vanished_addresses). `--full-refresh` parses every text; both paths give the same rows
-- (tests/dbt_project/test_incremental_models.py).
{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='address',
        on_schema_change='sync_all_columns',
        post_hook=["{{ drop_vanished_addresses() }}"],
    )
}}

{#- Code the rows depend on besides the SQL functions (fingerprinted in SQL, `util_functions`): this model's and
    its parents' SQL, and the macros it expands (rendered here, so a changed confidence table or edit-distance
    bound counts too). -#}
{%- set code_checksums = [local_md5(address_match_confidence('m') ~ '|' ~ address_texts() ~ '|'
                                    ~ var('address_max_edit_distance', 1))] + node_checksums() -%}
{#- A table built before this model was incremental has no reference_fingerprint: rebuild every row. (In a dbt
    unit test `this` is the name of the fixture, a string, with the columns the test gives.) -#}
{%- set incremental = is_incremental() and (this is string
    or 'reference_fingerprint' in (adapter.get_columns_in_relation(this) | map(attribute='name') | list)) -%}
{% set upper_re = '(?:[^省市盟]+(?:特别行政区|自治区|省|市|盟|州|地区))*' %}
{% set county_words = '(?:自治县|自治旗|县|旗|区|市)' %}
{% set township_words = '(?:街道办事处|办事处|街道|苏木|镇|乡)' %}
{% set village_words = '(?:村民委员会|村委会|社区居委会|居民委员会|居委会|社区|嘎查|村)' %}
{% set numeral = '[0-9〇零一二两三四五六七八九十百千]' %}
with

source_addresses as (
    {{ address_texts() }}
),

divisions as (
    select * from {{ ref('stg_grid__divisions') }}
),

grids as not materialized (
    select * from {{ ref('stg_grid__grids') }}
),

buildings_registry as not materialized (
    select * from {{ ref('stg_grid__buildings') }}
),

char_pinyin as not materialized (
    select * from {{ ref('char_pinyin') }}
),

{% if incremental %}
built as (
    select address, reference_fingerprint from {{ this }}
),
{% endif %}

-- the definitions of the SQL functions the parsing calls (macros/addresses.sql, udfs.sql): a deploy that changes
-- one reparses every address
util_functions as (
    select {{ util_function_definitions() }} as definitions
),

-- everything an address's row reads besides its text, by the columns read here
reference_rows as (
    select 'division' as kind, d::text as row_text from divisions as d
    union all
    select 'grid', (grid_code, village_code)::text from grids
    union all
    select 'building', (building_id, std_address, grid_code)::text from buildings_registry
    union all
    select 'pinyin', (ch, reading)::text from char_pinyin
),

-- materialized: referenced once on a full build, it would be inlined and the md5 of the whole reference text
-- computed once per address (18 s instead of 2 s on `small`)
reference as materialized (
    select md5('{{ code_checksums | join(",") }}|' || coalesce((select definitions from util_functions), '') || '|'
               || coalesce((select string_agg(kind || ':' || row_text, '|' order by kind, row_text) from reference_rows), ''))
        as reference_fingerprint
),

-- the texts to parse: all of them, or on an incremental run those not stored with the current fingerprint
addresses as (
    select s.address, util.hub_addr_key(s.address) as address_key, coalesce(util.hub_addr_clean(s.address), '') as cleaned
    from source_addresses as s
    {% if incremental %}
    where not exists (
        select from built as b
        inner join reference as r on r.reference_fingerprint = b.reference_fingerprint
        where b.address = s.address
    )
    {% endif %}
),

-- the ways a clerk writes each division: in full, or its stem with any level word of its level
names as (
    select division_code, division_level, parent_code,
           util.hub_addr_clean(division_name) as full_name,
           util.hub_addr_stem(division_name) as stem
    from divisions
    where division_name is not null
),

name_patterns as (
    select division_level,
           case when stem is not null
                then util.hub_regex_escape(stem) || case division_level when 1 then '{{ county_words }}'
                     else '{{ township_words }}' end || '?'
                else util.hub_regex_escape(full_name) end as pattern
    from names
    where division_level in (1, 2)
),

-- small patterns only (the county's names, the townships'): a pattern of every village name cost 14 ms an address
patterns as (
    select
        coalesce(string_agg(distinct pattern, '|') filter (where division_level = 1), 'x^') as county_re,
        coalesce(string_agg(distinct pattern, '|') filter (where division_level = 2), 'x^') as township_re
    from name_patterns
),

-- the head a clerk may write before the village: province and prefecture (any names, read off only when a name
-- of the county or one of its townships follows), the county, the township
heads as (
    select address, cleaned, after_upper,
           regexp_replace(after_upper, '^(?:' || county_re || ')', '') as after_county,
           county_re, township_re
    from (
        select a.address, a.cleaned, p.county_re, p.township_re,
               case when u.stripped ~ ('^(?:' || p.county_re || '|' || p.township_re || ')') then u.stripped
                    else a.cleaned end as after_upper
        from addresses as a
        cross join patterns as p
        cross join lateral (
            select case when a.cleaned ~ '^.{1,20}?(?:省|自治区|市|州|盟|地区)'
                        then regexp_replace(a.cleaned, '^{{ upper_re }}', '') else a.cleaned end as stripped
        ) as u
    ) as x
),

typed as (
    select address, cleaned, after_county, t[1] as typed_township, coalesce(t[2], after_county) as after_head
    from (
        select h.*, regexp_match(h.after_county, '^(' || h.township_re || ')(.*)$') as t from heads as h
    ) as x
),

villages as (
    select v.division_code as village_code, v.parent_code as township_code, v.full_name, v.stem
    from names as v
    where v.division_level = 3
),

townships as (
    select division_code as township_code, full_name, stem from names where division_level = 2
),

-- every way of writing a village: its full name, its stem (then a level word or a number must follow)
village_names as (
    select full_name as name, village_code, township_code, true as exact_name from villages
    union all
    select stem, village_code, township_code, false from villages where stem is not null
),

typed_townships as (
    select t.address, w.township_code
    from typed as t
    inner join townships as w on w.full_name = t.typed_township
    union
    select t.address, w.township_code
    from typed as t
    inner join townships as w on w.stem = regexp_replace(t.typed_township, '{{ township_words }}$', '')
),

-- the village: the longest name that starts the text after the township (or after the county, when what looked
-- like a township's stem was the start of the village's name)
village_prefixes as (
    select x.address, x.after_township, x.text, substr(x.text, 1, l.n) as prefix
    from (
        select address, after_head as text, true as after_township from typed
        union all
        select address, after_county, false from typed where typed_township is not null
    ) as x
    cross join lateral generate_series(2, least(12, char_length(x.text))) as l(n)
),

village_hits as materialized (
    select x.address, x.after_township, n.village_code, n.township_code, n.exact_name,
           char_length(n.name) as name_length,
           substr(x.text, char_length(n.name) + 1) as rest
    from village_prefixes as x
    inner join village_names as n on n.name = x.prefix
),

village_best as (
    select *,
           rank() over (partition by address order by name_length desc, exact_name desc, after_township desc) as rk
    from village_hits
    -- a stem must be followed by a level word or a number (人民 of 人民社区 is not 人民路)
    where exact_name or rest ~ '^(?:{{ village_words }}|{{ numeral }})'
),

-- villages named exactly (in full or by stem); restricted to the typed township when one was typed
named_villages as (
    select b.address, b.village_code,
           case when b.exact_name then b.rest else regexp_replace(b.rest, '^{{ village_words }}', '') end as rest,
           false as repaired, b.exact_name,
           bool_or(tt.township_code is null or tt.township_code = b.township_code) as in_typed_township
    from village_best as b
    left join typed_townships as tt on tt.address = b.address
    where b.rk = 1
    group by b.address, b.village_code, b.rest, b.exact_name
),

-- an unknown village name (a typo: 洪旗村 for 红旗村): a village of the county one edit away, exactly one, or
-- exactly one in the township typed
-- `not exists`, never `not in (select …)`, for "not among these addresses": PostgreSQL hashes a NOT IN list only
-- while it fits in work_mem; at city scale (943k named addresses) it scanned the list once per address, and this
-- model ran for hours. An anti-join hashes (and spills) whatever the size.
unknown_villages as materialized (
    select t.address, t.typed_township,
           substring(t.after_head from '^(.{2,10}?{{ village_words }})') as typed_village,
           substring(t.after_head from '^.{2,10}?{{ village_words }}(.*)$') as rest
    from typed as t
    where not exists (select from named_villages as n where n.address = t.address)
),

-- the characters of the unknown names and of the villages, and the pairs of them that read alike (seed
-- char_pinyin: every toneless reading of GB 2312's characters): a clerk's pinyin input method puts a homophone
-- in a name (汪庄胜村 for 王庄胜村), wherever it is in the name
typed_chars as (
    select distinct u.typed_village, i.pos, substr(u.typed_village, i.pos, 1) as ch
    from unknown_villages as u
    cross join lateral generate_series(1, char_length(u.typed_village)) as i(pos)
    where char_length(u.typed_village) >= 3
),

village_chars as (
    select v.village_code, i.pos, substr(v.full_name, i.pos, 1) as ch
    from villages as v
    cross join lateral generate_series(1, char_length(v.full_name)) as i(pos)
),

chars_alike as (
    select t.typed_village, c.village_code, t.pos
    from typed_chars as t
    inner join village_chars as c on c.pos = t.pos and c.ch = t.ch
    union
    select t.typed_village, c.village_code, t.pos
    from typed_chars as t
    inner join char_pinyin as a on a.ch = t.ch
    inner join char_pinyin as b on b.reading = a.reading and b.ch <> a.ch
    inner join village_chars as c on c.pos = t.pos and c.ch = b.ch
),

homophone_names as (
    select a.typed_village, a.village_code
    from chars_alike as a
    inner join villages as v on v.village_code = a.village_code
    where char_length(v.full_name) = char_length(a.typed_village)
    group by a.typed_village, a.village_code
    having count(distinct a.pos) = char_length(a.typed_village)
),

-- the villages one edit away from each unknown name: per distinct name, not per address (many addresses carry
-- the same misspelt name; at city scale the per-address join computed the edit distance billions of times)
edited_names as (
    select n.typed_village, v.village_code
    from (select distinct typed_village from unknown_villages where char_length(typed_village) >= 3) as n
    inner join villages as v
        on abs(char_length(v.full_name) - char_length(n.typed_village)) <= 1
       and util.hub_edit_distance(n.typed_village, v.full_name) = 1
),

-- a homophone of the whole name (tier 1) is stronger evidence than any one-character edit (tier 2)
repair_options as (
    select u.address, u.rest, v.village_code, v.township_code, 1 as tier
    from unknown_villages as u
    inner join homophone_names as h on h.typed_village = u.typed_village
    inner join villages as v on v.village_code = h.village_code
    union all
    select u.address, u.rest, v.village_code, v.township_code, 2
    from unknown_villages as u
    inner join edited_names as e on e.typed_village = u.typed_village
    inner join villages as v on v.village_code = e.village_code
    where not exists (select 1 from homophone_names as h
                      where h.typed_village = u.typed_village and h.village_code = v.village_code)
),

repair_candidates as (
    select o.address, o.rest, o.village_code,
           tt.township_code = o.township_code as same_township,
           count(*) over (partition by o.address) as n_all,
           count(*) filter (where tt.township_code = o.township_code) over (partition by o.address) as n_same
    from (
        select *, min(tier) over (partition by address) as best_tier from repair_options
    ) as o
    left join typed_townships as tt on tt.address = o.address
    where o.tier = o.best_tier
),

repaired_villages as (
    select address, village_code, rest, true as repaired, true as in_typed_township
    from repair_candidates
    where n_all = 1 or (n_same = 1 and same_township)
),

address_villages as (
    select address, village_code, rest, repaired, util.hub_addr_rest(rest) as parts
    from (
        select address, village_code, rest, repaired,
               -- a typed township that does not hold the village: trust the village only when no other does
               rank() over (partition by address order by in_typed_township desc, exact_name desc) as rk
        from named_villages
    ) as n
    where rk = 1
    union all
    select address, village_code, rest, repaired, util.hub_addr_rest(rest)
    from repaired_villages
),

address_parts as (
    select address, village_code, repaired, parts, util.hub_addr_rest_key(parts) as rest_key,
           count(*) over (partition by address) as n_villages
    from address_villages
),

-- the registry, read the same way after its own village's name
buildings as (
    select b.building_id, b.grid_code, g.village_code,
           util.hub_addr_rest(substr(c.cleaned, c.cut)) as parts
    from buildings_registry as b
    inner join grids as g on g.grid_code = b.grid_code
    inner join villages as v on v.village_code = g.village_code
    -- only the villages of the addresses parsed in this run: every match below is within the address's village.
    -- A join to the distinct villages, not `in (select … from address_parts)`: estimated at a few rows, the
    -- materialised address_parts was scanned again for every grid (1,020 scans, 6.9 GB of temporary reads at
    -- county scale, growing with grids × addresses)
    inner join (select distinct p.village_code from address_parts as p) as parsed on parsed.village_code = g.village_code
    cross join lateral (
        select util.hub_addr_clean(b.std_address) as cleaned
    ) as s
    cross join lateral (
        select s.cleaned,
               case when strpos(s.cleaned, v.full_name) > 0 then strpos(s.cleaned, v.full_name) + char_length(v.full_name)
                    when strpos(s.cleaned, v.stem) > 0 then strpos(s.cleaned, v.stem) + char_length(v.stem)
                    else 1 end as cut
    ) as c
),

building_keys as (
    select building_id, grid_code, village_code, parts, util.hub_addr_rest_key(parts) as rest_key from buildings
),

grids_per_village as (
    select village_code, min(grid_code) as grid_code, count(distinct grid_code) as n_grids
    from grids
    group by 1
),

-- 1. exact: the whole rest, or the house number when the address names no building and the number is one building
exact_candidates as (
    select a.address, a.repaired, k.building_id, k.grid_code, k.village_code
    from address_parts as a
    inner join building_keys as k on k.village_code = a.village_code and k.rest_key = a.rest_key
    union all
    select a.address, a.repaired, k.building_id, k.grid_code, k.village_code
    from address_parts as a
    inner join building_keys as k
        on k.village_code = a.village_code and k.parts[1] = a.parts[1] and k.parts[2] = a.parts[2]
    where a.parts[3] is null and a.parts[4] is null and k.parts[3] is not null
),

-- one answer per address and step: a building when exactly one, a grid when all candidates share it
placed_exact as (
    select address, bool_or(repaired) as repaired, 1 as step, 'exact' as method, null::int as distance,
           min(building_id) as building_id, min(grid_code) as grid_code, min(village_code) as village_code
    from exact_candidates
    group by address
    having count(distinct building_id) = 1
),

-- 2. prefixes whose buildings lie in one grid: the house number (building left out), the group or road, the village
prefix_candidates as (
    select a.address, a.repaired, 'number' as method, k.grid_code, k.village_code, k.building_id
    from address_parts as a
    inner join building_keys as k
        on k.village_code = a.village_code and k.parts[1] = a.parts[1] and k.parts[2] = a.parts[2]
    where a.parts[3] is null and a.parts[4] is null
    union all
    select a.address, a.repaired, 'group', k.grid_code, k.village_code, k.building_id
    from address_parts as a
    inner join building_keys as k on k.village_code = a.village_code and k.parts[1] = a.parts[1]
    where a.parts[2] is null and a.parts[4] is null
    union all
    select a.address, a.repaired, 'village', g.grid_code, a.village_code, null
    from address_parts as a
    inner join grids_per_village as g on g.village_code = a.village_code and g.n_grids = 1
    where a.rest_key = '|||'
),

placed_prefix as (
    select address, bool_or(repaired) as repaired, 2 as step, method, null::int as distance,
           case when method = 'number' and count(distinct building_id) = 1 then min(building_id) end as building_id,
           min(grid_code) as grid_code, min(village_code) as village_code
    from prefix_candidates
    where not exists (select from placed_exact as e where e.address = prefix_candidates.address)
    group by address, method
    having count(distinct grid_code) = 1
),

-- 3. the closest rests of the village, for addresses neither 1 nor 2 placed
unplaced as materialized (
    select * from address_parts as a
    where not exists (select from placed_exact as e where e.address = a.address)
      and not exists (select from placed_prefix as p where p.address = a.address)
      and a.rest_key <> '|||'
),

-- an unplaced address whose rest key some building of its village has (several do: not placed exactly) is at
-- distance 0 from exactly those buildings, and no other building can be nearer: its candidates are those, without
-- an edit distance to every building of the village (at city scale 92,086 unplaced addresses × their villages'
-- buildings were 1.46 billion pairs, and the sort of their distances filled the disk)
unplaced_exact as materialized (
    select u.address, u.repaired, k.grid_code, k.village_code, k.building_id
    from unplaced as u
    inner join building_keys as k on k.village_code = u.village_code and k.rest_key = u.rest_key
    where char_length(u.rest_key) <= 255  -- as util.hub_edit_distance, which has no distance for longer texts
),

similar_candidates as (
    select address, repaired, 0 as distance, grid_code, village_code, building_id
    from unplaced_exact
    union all
    select address, repaired, distance, grid_code, village_code, building_id
    from (
        select u.address, u.repaired, k.grid_code, k.village_code, k.building_id,
               util.hub_edit_distance(u.rest_key, k.rest_key) as distance,
               min(util.hub_edit_distance(u.rest_key, k.rest_key)) over (partition by u.address) as best
        from unplaced as u
        inner join building_keys as k on k.village_code = u.village_code
        where not exists (select from unplaced_exact as x where x.address = u.address)
    ) as d
    where distance = best and distance <= {{ var('address_max_edit_distance', 1) }}
),

placed as (
    select * from placed_exact
    union all
    select * from placed_prefix
    union all
    select address, bool_or(repaired), 3, 'similar', min(distance),
           case when count(distinct building_id) = 1 then min(building_id) end,
           min(grid_code), min(village_code)
    from similar_candidates
    group by address
    having count(distinct grid_code) = 1
),

best_placed as (
    select distinct on (address) *
    from placed
    order by address, step, case method when 'number' then 1 when 'group' then 2 else 3 end
),

-- the village alone: named (one village), else any village name found in the address (longest)
village_only as (
    select address, min(village_code) as village_code, bool_or(repaired) as repaired
    from address_parts
    group by address
    having count(distinct village_code) = 1
),

-- the addresses no village name was read from, first and materialised: with the anti-join after the village
-- scan, PostgreSQL ran strpos for every address and village (43.5 million at county scale, rescanning the
-- addresses once per village) and then kept none of them
unparsed as materialized (
    select a.address, a.cleaned
    from addresses as a
    where not exists (select from address_parts as p where p.address = a.address)
),

village_scan as (
    select distinct on (a.address) a.address, v.village_code
    from unparsed as a
    inner join villages as v on strpos(a.cleaned, v.full_name) > 0
    order by a.address, char_length(v.full_name) desc, v.village_code
),

matched as (
    select
        a.address,
        a.address_key,
        b.building_id,
        b.grid_code,
        coalesce(b.village_code, o.village_code, s.village_code) as village_code,
        case
            when b.step is not null then
                case b.step when 1 then 'address' when 2 then 'address_prefix' else 'address_similar' end
                || case when b.repaired then '_repaired' else '' end
            when o.village_code is not null or s.village_code is not null then 'village_only'
            else 'unassigned'
        end as match_level,
        case
            when b.step is not null then b.method || case when b.repaired then '_repaired_village' else '' end
            when o.village_code is not null then 'village_name' || case when o.repaired then '_repaired' else '' end
            when s.village_code is not null then 'village_scan'
            when a.address in (select address from address_parts) then 'village_ambiguous'
            else 'none'
        end as match_method,
        b.distance as edit_distance
    from addresses as a
    left join best_placed as b on b.address = a.address
    left join village_only as o on o.address = a.address
    left join village_scan as s on s.address = a.address
),

final as (
    select
        m.*,
        {{ address_match_confidence('m.match_method') }} as match_confidence,
        r.reference_fingerprint,
        -- the run that (re)parsed the address: rows an incremental run did not touch keep their earlier value
        '{{ run_started_at }}'::timestamptz as built_at
    from matched as m
    cross join reference as r
)

select * from final
