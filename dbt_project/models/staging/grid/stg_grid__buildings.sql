{%- set lon = clean_coordinates('util.hub_float(lon)', 'util.hub_float(lat)', 'extent', 'lon') -%}
{%- set lat = clean_coordinates('util.hub_float(lon)', 'util.hub_float(lat)', 'extent', 'lat') -%}
{#- an incremental table (macros/incremental_staging.sql): one of the largest registers -#}
{%- set staging = incremental_staging('grid', 'grid__building', "coalesce(util.hub_tstz(updated_at), '-infinity')", also_depends_on='stg_grid__county_extent') %}
with

source as (
    {{ staging.changed_versions }}
),

extent as (
    select * from {{ ref('stg_grid__county_extent') }}
),

final as (
    select
        source.building_id,
        source.std_address,
        util.hub_addr_key(source.std_address) as address_key,
        {{ lon }} as lon,
        {{ lat }} as lat,
        trim(source.grid_code) as grid_code,
        {{ map_code('source.building_type', 'grid_building_type') }} as building_type,
        {{ clean_ts(parse_ts('source.updated_at'), 'source._extracted_at') }} as source_updated_at,
        {{ invalid_fields([('source_updated_at', 'source.updated_at', clean_ts(parse_ts('source.updated_at'), 'source._extracted_at')), ('coordinates', 'coalesce(source.lon, source.lat)', lon)]) }} as invalid_fields,
        {{ unknown_codes([('building_type', 'source.building_type', 'grid_building_type')]) }} as unknown_codes,
        source._record_key as raw_record_key,
        source._batch_id as batch_id,
        '{{ staging.fingerprint }}'::text as code_fingerprint
    from source
    left join extent on true
)

select * from final
