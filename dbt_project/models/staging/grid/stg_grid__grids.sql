{%- set codes = [('grid_type', 'grid_type', 'grid_type')] -%}
{%- set created_at = clean_ts(parse_ts('created_at'), '_extracted_at') -%}
{%- set retired_at = clean_ts(parse_ts('retired_at')) -%}
with

source as (
    {{ latest_version(source('grid', 'grid__grid'), "coalesce(util.hub_tstz(updated_at), '-infinity')") }}
),

final as (
    -- one row per grid code as the hub normalises it (trimmed): the latest update wins should two records of
    -- the platform trim to the same code, so grid_key stays unique whatever the platform sends
    select distinct on (trim(grid_code))
        trim(grid_code) as grid_code,
        grid_name,
        trim(village_code) as village_code,
        {{ map_code('grid_type', 'grid_type') }} as grid_type,
        boundary as boundary_geojson,
        -- GeoJSON ring -> PostgreSQL polygon (built-in geometric type; PostGIS is not in every build); a boundary
        -- that is not a GeoJSON polygon is null
        util.hub_geojson_polygon(boundary) as boundary_polygon,
        {{ created_at }} as created_at,
        {{ retired_at }} as retired_at,
        {{ clean_ts(parse_ts('updated_at'), '_extracted_at') }} as source_updated_at,
        {{ invalid_fields([('source_updated_at', 'updated_at', clean_ts(parse_ts('updated_at'), '_extracted_at')), ('boundary', 'boundary', 'util.hub_geojson_polygon(boundary)'),
                           ('created_at', 'created_at', created_at), ('retired_at', 'retired_at', retired_at)]) }}
            as invalid_fields,
        {{ unknown_codes(codes) }} as unknown_codes
    from source
    order by trim(grid_code), util.hub_tstz(updated_at) desc nulls last, _extracted_at desc
)

select * from final
