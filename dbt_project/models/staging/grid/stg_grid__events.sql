{%- set reported_at = clean_ts(parse_ts('source.reported_at'), 'source._extracted_at') -%}
{%- set closed_at = clean_ts(parse_ts('source.closed_at'), 'source._extracted_at') -%}
{%- set lon = clean_coordinates('util.hub_float(source.lon)', 'util.hub_float(source.lat)', 'extent', 'lon') -%}
{%- set lat = clean_coordinates('util.hub_float(source.lon)', 'util.hub_float(source.lat)', 'extent', 'lat') -%}
{#- an incremental table (macros/incremental_staging.sql): one of the largest registers -#}
{%- set staging = incremental_staging('grid', 'grid__grid_event', "coalesce(util.hub_tstz(updated_at), '-infinity')", also_depends_on='stg_grid__county_extent') %}
with

source as (
    {{ staging.changed_versions }}
),

extent as (
    select * from {{ ref('stg_grid__county_extent') }}
),

final as (
    select
        source.event_id as source_record_id,
        trim(source.grid_code) as reported_grid_code,
        source.reporter_staff_id,
        {{ map_code('source.category_code', 'grid_event_category') }} as category_code,
        {{ reported_at }} as reported_at,
        {{ lon }} as lon,
        {{ lat }} as lat,
        {{ map_code('source.status', 'grid_event_status') }} as source_status,
        case when trim(source.status) = '办结' then 'closed' else 'open' end as status,
        {{ map_code('source.escalation_level', 'grid_escalation_level') }} as escalation_level,
        source.assigned_dept,
        {{ closed_at }} as closed_at,
        {{ clean_ts(parse_ts('source.updated_at'), 'source._extracted_at') }} as source_updated_at,
        {{ invalid_fields([('source_updated_at', 'source.updated_at', clean_ts(parse_ts('source.updated_at'), 'source._extracted_at')), ('reported_at', 'source.reported_at', reported_at), ('closed_at', 'source.closed_at', closed_at),
                           ('coordinates', 'coalesce(source.lon, source.lat)', lon)]) }} as invalid_fields,
        {{ unknown_codes([('category_code', 'source.category_code', 'grid_event_category'),
                          ('status', 'source.status', 'grid_event_status'),
                          ('escalation_level', 'source.escalation_level', 'grid_escalation_level')]) }} as unknown_codes,
        source._record_key as raw_record_key,
        source._batch_id as batch_id,
        '{{ staging.fingerprint }}'::text as code_fingerprint
    from source
    left join extent on true
)

select * from final
