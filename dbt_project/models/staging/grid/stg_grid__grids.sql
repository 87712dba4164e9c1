with

source as (
    {{ latest_version(source('grid', 'grid__grid'), 'updated_at::timestamptz') }}
),

final as (
    select
        trim(grid_code) as grid_code,
        grid_name,
        trim(village_code) as village_code,
        grid_type,
        boundary as boundary_geojson,
        -- GeoJSON ring -> PostgreSQL polygon (built-in geometric type; PostGIS is not in every build)
        polygon(
            '(' || regexp_replace(
                regexp_replace((boundary::jsonb -> 'coordinates' -> 0)::text, '\[\s*([-0-9.]+)\s*,\s*([-0-9.]+)\s*\]', '(\1,\2)', 'g'),
                '^\[|\]$', '', 'g') || ')'
        ) as boundary_polygon,
        created_at::timestamptz as created_at,
        retired_at::timestamptz as retired_at,
        updated_at::timestamptz as source_updated_at
    from source
)

select * from final
