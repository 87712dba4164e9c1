with

divisions as (
    select * from {{ ref('stg_grid__divisions') }}
),

final as (
    select
        d.division_code::text as division_code,
        d.division_name::text as name,
        d.division_level::int as level,
        d.division_kind::text as kind,
        d.parent_code::text as parent_code,
        (left(d.division_code, 6) || '000000')::text as county_code,
        case when d.division_level >= 2 then left(d.division_code, 9) || '000' end::text as township_code
    from divisions as d
)

select * from final
