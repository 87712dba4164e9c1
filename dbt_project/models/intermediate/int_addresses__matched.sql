-- One row per distinct free-text address seen in any department, matched to the building registry:
-- exact normalised address, or the same without township, else the village/community by name.
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
    inner join {{ ref('stg_grid__divisions') }} as v on v.division_code = g.village_code
    inner join {{ ref('stg_grid__divisions') }} as t on t.division_code = v.parent_code
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

villages as (
    select division_code as village_code, util.hub_addr_key(division_name) as village_key
    from {{ ref('stg_grid__divisions') }}
    where division_level = 3
),

matched as (
    select
        a.address,
        a.address_key,
        k.building_id,
        k.grid_code,
        coalesce(k.village_code, v.village_code) as village_code,
        case when k.building_id is not null then 'address'
             when v.village_code is not null then 'village_only'
             else 'unassigned' end as match_level,
        row_number() over (partition by a.address order by char_length(v.village_key) desc nulls last) as rn
    from addresses as a
    left join unique_keys as k on k.match_key = a.address_key
    left join villages as v on k.building_id is null and strpos(a.address_key, v.village_key) > 0
),

final as (
    select address, address_key, building_id, grid_code, village_code, match_level
    from matched
    where rn = 1
)

select * from final
