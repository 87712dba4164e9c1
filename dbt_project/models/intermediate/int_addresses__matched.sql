-- One row per distinct free-text address seen in any department, matched to the building registry.
--
-- Parsing (util functions of macros/addresses.sql; every place name comes from the division table):
--   cleaned (full-width -> half-width, no spaces or punctuation), then read as
--   [province/prefecture ...省/市/州/盟/地区]{0,2} [county] [township] village rest
--   where the county, township and village are the division table's names, each in full or as its stem with
--   any level word of its level (清河 / 清河县, 开通 / 开通镇 / 开通乡, 红旗 / 红旗村 / 红旗村委会); a village typed
--   without its level word must be followed by a number (红旗3组). The rest is split into group or road, house
--   number and building (util.hub_addr_rest: 三社 -> 3组, 十五号院 -> 15, 3幢 / 3单元 -> 3). The registry's
--   std_address is read the same way after its own village's name.
-- Matching, in order (match_level, match_method):
--   1. address / exact: the village and rest equal one building's (or the address names no building and the
--      house number is one building);
--   2. address_prefix / number: the house number's buildings lie in one grid (an urban number with several
--      buildings, the building left out); group: the group's or road's buildings lie in one grid (红旗村3组);
--      village: the village has one grid;
--   3. address_similar / similar: the closest rest in the village by edit distance (util.hub_edit_distance), at
--      most var('address_max_edit_distance') edits, all closest buildings in one grid;
--   when the village name is unknown, a village of the county one edit away (exactly one, preferring the
--   township typed) repairs it and 1-3 run again (match_level *_repaired); an address whose village appears
--   anywhere else in it (an odd prefix) is village_only; else unassigned.
-- match_confidence is the share of assignments of that method that were right on the simulated counties of
-- dialect seeds 1-3 (tuning), see the README; a village found by name in two townships with no township
-- typed stays ambiguous (no village) unless the rest names one grid.
{% set upper_re = '(?:[^省市盟州]{1,10}(?:特别行政区|自治区|省|市|盟|自治州|州|地区)){0,2}' %}
{% set county_words = '(?:自治县|自治旗|县|旗|区|市)' %}
{% set township_words = '(?:街道办事处|办事处|街道|苏木|镇|乡)' %}
{% set village_words = '(?:村民委员会|村委会|社区居委会|居民委员会|居委会|社区|嘎查|村)' %}
{% set numeral = '[0-9〇零一二两三四五六七八九十百千]' %}
with

person_addresses as (
    select address from {{ ref('int_person_records__unioned') }} where address is not null
),

incident_addresses as (
    select location_text as address from {{ ref('stg_police__incidents') }} where location_text is not null
),

mediation_addresses as (
    select location_text as address from {{ ref('stg_justice__mediations') }} where location_text is not null
),

petition_addresses as (
    select petitioner_address as address from {{ ref('stg_petition__petitions') }} where petitioner_address is not null
),

divisions as (
    select * from {{ ref('stg_grid__divisions') }}
),

addresses as (
    select address, util.hub_addr_key(address) as address_key, coalesce(util.hub_addr_clean(address), '') as cleaned
    from (
        select address from person_addresses
        union
        select address from incident_addresses
        union
        select address from mediation_addresses
        union
        select address from petition_addresses
    ) as a
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
                     when 2 then '{{ township_words }}' else '{{ village_words }}' end || '?'
                else util.hub_regex_escape(full_name) end as pattern
    from names
    where division_level in (1, 2, 3)
),

patterns as (
    select
        coalesce(string_agg(distinct pattern, '|') filter (where division_level = 1), '(?:x^)') as county_re,
        coalesce(string_agg(distinct pattern, '|') filter (where division_level = 2), '(?:x^)') as township_re,
        coalesce(string_agg(distinct pattern, '|') filter (where division_level = 3), '(?:x^)') as village_re
    from name_patterns
),

-- head = province/prefecture, county, township as typed; village as typed; the rest
parsed as (
    select a.address, a.cleaned,
           regexp_match(a.cleaned, '^{{ upper_re }}(?:' || p.county_re || ')?(' || p.township_re || ')?('
                        || p.village_re || ')(.*)$') as m,
           regexp_match(a.cleaned, '^{{ upper_re }}(?:' || p.county_re || ')?(' || p.township_re || ')?(.*)$') as h
    from addresses as a
    cross join patterns as p
),

villages as (
    select v.division_code as village_code, v.parent_code as township_code, v.full_name, v.stem
    from names as v
    where v.division_level = 3
),

townships as (
    select division_code as township_code, full_name, stem from names where division_level = 2
),

-- the township a clerk typed, if any
typed as (
    select p.address, p.cleaned,
           coalesce(p.m[1], p.h[1]) as typed_township,
           case when p.m is not null and (p.m[2] ~ '{{ village_words }}$' or p.m[3] ~ '^{{ numeral }}')
                then p.m[2] end as typed_village,
           case when p.m is not null and (p.m[2] ~ '{{ village_words }}$' or p.m[3] ~ '^{{ numeral }}')
                then p.m[3] end as rest,
           p.h[2] as after_head
    from parsed as p
),

typed_stems as (
    select t.*, regexp_replace(t.typed_village, '{{ village_words }}$', '') as typed_village_stem,
           regexp_replace(t.typed_township, '{{ township_words }}$', '') as typed_township_stem
    from typed as t
),

typed_townships as (
    select t.address, w.township_code
    from typed_stems as t
    inner join townships as w on w.full_name = t.typed_township
    union
    select t.address, w.township_code
    from typed_stems as t
    inner join townships as w on w.stem = t.typed_township_stem
),

-- villages named exactly (in full or by stem); restricted to the typed township when one was typed
named_villages as (
    select n.address, n.village_code, n.rest, false as repaired, bool_or(n.exact_name) as exact_name,
           bool_or(tt.township_code is null or tt.township_code = v.township_code) as in_typed_township
    from (
        select t.address, v.village_code, t.rest, true as exact_name
        from typed_stems as t
        inner join villages as v on v.full_name = t.typed_village
        union all
        select t.address, v.village_code, t.rest, false
        from typed_stems as t
        inner join villages as v on v.stem = t.typed_village_stem
    ) as n
    inner join villages as v on v.village_code = n.village_code
    left join typed_townships as tt on tt.address = n.address
    group by n.address, n.village_code, n.rest
),

-- an unknown village name (a typo: 洪旗村 for 红旗村): a village of the county one edit away, exactly one, or
-- exactly one in the township typed
unknown_villages as materialized (
    select t.address, t.typed_township,
           substring(t.after_head from '^(.{2,10}?{{ village_words }})') as typed_village,
           substring(t.after_head from '^.{2,10}?{{ village_words }}(.*)$') as rest
    from typed as t
    where t.address not in (select n.address from named_villages as n)
),

repair_candidates as (
    select u.address, u.rest, v.village_code,
           tt.township_code = v.township_code as same_township,
           count(*) over (partition by u.address) as n_all,
           count(*) filter (where tt.township_code = v.township_code) over (partition by u.address) as n_same
    from unknown_villages as u
    inner join villages as v
        on abs(char_length(v.full_name) - char_length(u.typed_village)) <= 1
       and char_length(u.typed_village) >= 3
       and util.hub_edit_distance(u.typed_village, v.full_name) = 1
    left join typed_townships as tt on tt.address = u.address
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
    from {{ ref('stg_grid__buildings') }} as b
    inner join {{ ref('stg_grid__grids') }} as g on g.grid_code = b.grid_code
    inner join villages as v on v.village_code = g.village_code
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
    from {{ ref('stg_grid__grids') }}
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
    where address not in (select address from placed_exact)
    group by address, method
    having count(distinct grid_code) = 1
),

-- 3. the closest rests of the village, for addresses neither 1 nor 2 placed
unplaced as materialized (
    select * from address_parts as a
    where a.address not in (select address from placed_exact)
      and a.address not in (select address from placed_prefix)
      and a.rest_key <> '|||'
),

similar_candidates as (
    select address, repaired, distance, grid_code, village_code, building_id
    from (
        select u.address, u.repaired, k.grid_code, k.village_code, k.building_id,
               util.hub_edit_distance(u.rest_key, k.rest_key) as distance,
               min(util.hub_edit_distance(u.rest_key, k.rest_key)) over (partition by u.address) as best
        from unplaced as u
        inner join building_keys as k on k.village_code = u.village_code
    ) as d
    where distance = best and distance <= {{ var('address_max_edit_distance', 2) }}
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

village_scan as (
    select distinct on (a.address) a.address, v.village_code
    from addresses as a
    inner join villages as v on strpos(a.cleaned, v.full_name) > 0
    where a.address not in (select address from address_parts)
    order by a.address, char_length(v.full_name) desc, v.village_code
),

final as (
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
)

select f.*, {{ address_match_confidence('f.match_method', 'f.edit_distance') }} as match_confidence
from final as f
