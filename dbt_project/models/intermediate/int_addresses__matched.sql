-- One row per distinct free-text address seen in any department, matched to the building registry, in order:
-- 1. the normalised address (with or without township) is a building's standard address;
-- 2. the address is a building-address prefix (`红旗村3组`, `花园社区解放路`) whose buildings all lie in one grid;
-- 3. steps 1-2 after repairing a one-character typo in the village/community name (`洪旗村` -> `红旗村`) when
--    exactly one village of the county is that close;
-- else the village/community by name (village_only), else unassigned. `match_level` says which.
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
    select distinct address, util.hub_addr_key(address) as address_key
    from (
        select address from person_addresses
        union all select address from incident_addresses
        union all select address from mediation_addresses
        union all select address from petition_addresses
    ) as a
),

buildings as (
    select b.*, t.division_name as township_name, v.division_name as village_name, v.division_code as village_code
    from {{ ref('stg_grid__buildings') }} as b
    inner join {{ ref('stg_grid__grids') }} as g on g.grid_code = b.grid_code
    inner join divisions as v on v.division_code = g.village_code
    inner join divisions as t on t.division_code = v.parent_code
),

building_keys as (
    select building_id, grid_code, village_code, address_key as match_key from buildings
    union all
    select building_id, grid_code, village_code, substr(address_key, char_length(util.hub_addr_key(township_name)) + 1)
    from buildings
),

unique_keys as (
    select match_key, min(building_id) as building_id, min(grid_code) as grid_code, min(village_code) as village_code
    from building_keys
    group by match_key
    having count(distinct building_id) = 1
),

-- prefixes a clerk stops at: the village/community, the group (3组), the road
building_prefixes as (
    select substring(match_key from '^(.*?(村|社区))') as prefix, grid_code, village_code from building_keys
    union all
    select substring(match_key from '^(.*?\d+组)'), grid_code, village_code from building_keys
    union all
    select substring(match_key from '^(.*?(村|社区).*?(路|街|巷))'), grid_code, village_code from building_keys
),

unique_prefixes as (
    select prefix, min(grid_code) as grid_code, min(village_code) as village_code
    from building_prefixes
    where prefix is not null
    group by prefix
    having count(distinct grid_code) = 1
),

villages as (
    select v.division_code as village_code, util.hub_addr_key(v.division_name) as village_key,
           util.hub_addr_key(t.division_name) as township_key
    from divisions as v
    inner join divisions as t on t.division_code = v.parent_code
    where v.division_level = 3
),

-- the village/community part a clerk typed: the first "...村" / "...社区" after any township
typed_villages as (
    select address, address_key,
           substring(address_key from '^(.*?(镇|乡|街道))') as typed_township,
           substring(regexp_replace(address_key, '^.*?(镇|乡|街道)', '') from '^(.{1,8}?(村|社区))') as typed_village
    from addresses
),

-- typed village names the registry does not know, once each (few distinct values: the fuzzy step stays cheap)
unknown_villages as materialized (
    select distinct t.typed_township, t.typed_village
    from typed_villages as t
    where t.typed_village is not null
      and not exists (select 1 from villages as x where x.village_key = t.typed_village)
      -- only addresses the registry does not already know as typed
      and not exists (select 1 from unique_keys as k where k.match_key = t.address_key)
      and not exists (select 1 from unique_prefixes as p where p.prefix = t.address_key)
),

-- one village one character away; when several are, the one in the township the clerk typed
village_repairs as (
    select typed_township, typed_village, min(village_key) as village_key
    from (
        select u.typed_township, u.typed_village, v.village_key, v.township_key = u.typed_township as same_township,
               count(*) over (partition by u.typed_township, u.typed_village) as n_all,
               count(*) filter (where v.township_key = u.typed_township)
                   over (partition by u.typed_township, u.typed_village) as n_same
        from unknown_villages as u
        inner join villages as v
            on char_length(v.village_key) = char_length(u.typed_village)
           and util.hub_substitutions(u.typed_village, v.village_key) = 1
    ) as c
    where n_all = 1 or (n_same = 1 and same_township)
    group by 1, 2
),

typo_repairs as (
    select t.address, r.village_key
    from typed_villages as t
    inner join village_repairs as r
        on r.typed_village = t.typed_village and r.typed_township is not distinct from t.typed_township
),

candidates as (
    select a.address, a.address_key, a.address_key as match_key, false as repaired
    from addresses as a
    union all
    select a.address, a.address_key, replace(a.address_key, t.typed_village, r.village_key), true
    from addresses as a
    inner join typed_villages as t on t.address = a.address
    inner join typo_repairs as r on r.address = a.address
),

exact_matches as (
    select c.address, c.repaired, k.building_id, k.grid_code, k.village_code
    from candidates as c
    inner join unique_keys as k on k.match_key = c.match_key
),

prefix_matches as (
    select c.address, c.repaired, p.grid_code, p.village_code
    from candidates as c
    inner join unique_prefixes as p on p.prefix = c.match_key
    -- `not in`, a hashed lookup: PostgreSQL estimates one row for these CTEs and planned `not exists` as a
    -- nested loop over every exact match for every candidate (18 s on county)
    where c.address not in (select e.address from exact_matches as e where e.address is not null)
),

building_matches as (
    select address, building_id, grid_code, village_code,
           case when repaired then 'address_repaired' else 'address' end as match_level,
           row_number() over (partition by address order by repaired) as rn
    from exact_matches
    union all
    select address, null, grid_code, village_code,
           case when repaired then 'address_prefix_repaired' else 'address_prefix' end,
           row_number() over (partition by address order by repaired)
    from prefix_matches
),

-- the village fallback is for addresses no building matched: every address x every village is a substring
-- scan, so only those are scanned (county: ~450 candidates instead of 190k), and they are materialised once
-- (inlined, the filter ran again for each of the 182 villages: 14 s)
unmatched_candidates as materialized (
    select * from candidates
    where address not in (
        select b.address from building_matches as b where b.rn = 1 and b.village_code is not null and b.address is not null
    )
),

village_matches as (
    select c.address, v.village_code,
           row_number() over (partition by c.address order by c.repaired, char_length(v.village_key) desc) as rn
    from unmatched_candidates as c
    inner join villages as v on strpos(c.match_key, v.village_key) > 0
),

final as (
    select
        a.address,
        a.address_key,
        b.building_id,
        b.grid_code,
        coalesce(b.village_code, v.village_code) as village_code,
        coalesce(b.match_level, case when v.village_code is not null then 'village_only' else 'unassigned' end)
            as match_level
    from addresses as a
    left join (
        select distinct on (address) * from building_matches where rn = 1 order by address, match_level
    ) as b on b.address = a.address
    left join village_matches as v on v.address = a.address and v.rn = 1
)

select * from final
