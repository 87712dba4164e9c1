{%- set lon = clean_coordinates('util.hub_float(lon)', 'util.hub_float(lat)', 'extent', 'lon') -%}
{%- set lat = clean_coordinates('util.hub_float(lon)', 'util.hub_float(lat)', 'extent', 'lat') -%}
{#- an incremental table (macros/incremental_staging.sql): one of the largest registers -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='building_id',
        on_schema_change='sync_all_columns',
        post_hook=["{{ drop_vanished_staging_rows(source('grid', 'grid__building'), \"coalesce(util.hub_tstz(updated_at), '-infinity')\", key='building_id') }}",
                   "{{ analyze_when_rebuilt() }}"],
    )
}}
{%- set state = incremental_staging_state(ref('stg_grid__county_extent')) %}
with

source as (
    select * from ({{ latest_version(source('grid', 'grid__building'), "coalesce(util.hub_tstz(updated_at), '-infinity')") }}) as latest
    {{ changed_records_only(source('grid', 'grid__building'), "coalesce(util.hub_tstz(updated_at), '-infinity')", state, key='building_id') }}
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
        source._batch_id as batch_id,
        '{{ state.fingerprint }}'::text as code_fingerprint
    from source
    left join extent on true
)

select * from final
