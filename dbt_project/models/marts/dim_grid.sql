with

grids as (
    select * from {{ ref('stg_grid__grids') }}
),

divisions as (
    select * from {{ ref('stg_grid__divisions') }}
),

staff as (
    select grid_code, count(*) as staff_count
    from {{ ref('stg_grid__staff') }}
    where is_active
    group by 1
),

residents as (
    select current_grid_key, count(*) as resident_count
    from {{ ref('int_residents__profiled') }}
    where not is_deceased
    group by 1
),

final as (
    select
        ('G' || g.grid_code)::text as grid_key,
        g.grid_code::text as grid_code,
        g.grid_name::text as grid_name,
        g.grid_type::text as grid_type,
        g.village_code::text as village_code,
        v.division_name::text as village_name,
        v.parent_code::text as township_code,
        t.division_name::text as township_name,
        (g.retired_at is null)::boolean as is_active,
        coalesce(s.staff_count, 0)::int as staff_count,
        coalesce(r.resident_count, 0)::int as resident_count
    from grids as g
    left join divisions as v on v.division_code = g.village_code
    left join divisions as t on t.division_code = v.parent_code
    left join staff as s on s.grid_code = g.grid_code
    left join residents as r on r.current_grid_key = 'G' || g.grid_code
)

select * from final
