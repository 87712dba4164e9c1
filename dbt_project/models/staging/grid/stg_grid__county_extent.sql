-- The county's bounding box, derived from the grid platform's own grid boundaries (never a fixed coordinate):
-- every boundary vertex in the WGS84 range, widened by var('county_extent_margin_degrees') on each side.
-- Staging nulls department coordinates outside it. No grids yet: one row of nulls (the WGS84 range applies).
with

grids as (
    select * from {{ ref('stg_grid__grids') }}
),

boxes as (
    -- a polygon's bounding box: [0] upper-right, [1] lower-left corner
    select box(boundary_polygon) as b
    from grids
    where boundary_polygon is not null
),

inside_wgs84 as (
    select b from boxes
    where (b[1])[0] >= -180 and (b[0])[0] <= 180 and (b[1])[1] >= -90 and (b[0])[1] <= 90
),

final as (
    select
        min((b[1])[0]) - {{ var('county_extent_margin_degrees') }} as min_lon,
        max((b[0])[0]) + {{ var('county_extent_margin_degrees') }} as max_lon,
        min((b[1])[1]) - {{ var('county_extent_margin_degrees') }} as min_lat,
        max((b[0])[1]) + {{ var('county_extent_margin_degrees') }} as max_lat,
        count(*)::int as grids
    from inside_wgs84
)

select * from final
