-- One row per resident, with the ID number and name in clear, for officials of the resident's jurisdiction
-- (row-level security: macro jurisdiction_policy). Never published.
with

residents as (
    select * from {{ ref('int_residents__profiled') }}
),

grids as (
    select * from {{ ref('dim_grid') }}
),

tags as (
    select * from {{ ref('bridge_resident_tag') }}
    where valid_to is null
),

county as (
    select division_code as county_code from {{ ref('dim_division') }} where level = 1
),

current_tags as (
    select resident_key, array_agg(distinct tag_code order by tag_code) as tag_codes
    from tags
    group by 1
),

final as (
    select
        r.resident_key::text as resident_key,
        r.id_number::text as id_number,
        r.person_name::text as person_name,
        r.sex::text as sex,
        r.birth_date::date as birth_date,
        g.grid_code::text as grid_code,
        g.village_code::text as village_code,
        g.township_code::text as township_code,
        c.county_code::text as county_code,
        coalesce(t.tag_codes, '{}')::text[] as tag_codes
    from residents as r
    cross join county as c
    left join grids as g on g.grid_key = r.current_grid_key
    left join current_tags as t on t.resident_key = r.resident_key
)

select * from final
