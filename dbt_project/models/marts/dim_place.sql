-- Published: standard buildings of the grid platform's registry, with the residents living in each.
with

buildings as (
    select * from {{ ref('stg_grid__buildings') }}
),

residents as (
    select current_building_id, count(*) as resident_count
    from {{ ref('int_residents__profiled') }}
    where not is_deceased and current_building_id is not null
    group by 1
),

final as (
    select
        ('B' || b.building_id)::text as place_key,
        b.building_id::text as building_id,
        b.std_address::text as std_address,
        case when b.grid_code is not null then 'G' || b.grid_code end::text as grid_key,
        b.lon::double precision as lon,
        b.lat::double precision as lat,
        b.building_type::text as building_type,
        coalesce(r.resident_count, 0)::int as resident_count
    from buildings as b
    left join residents as r on r.current_building_id = b.building_id
)

select * from final
