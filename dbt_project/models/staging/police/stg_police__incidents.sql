{%- set codes = [('JQLB', 'jqlb', 'police_incident_category'), ('CJJG', 'cjjg', 'police_incident_outcome'),
                 ('JQZT', 'jqzt', 'police_incident_status')] -%}
{%- set reported_at = clean_ts(ts14('bjsj'), '_extracted_at') -%}
{#- JD / WD: 0 or empty mean "unknown" in the police system; text, or a point outside the county, is dropped -#}
{%- set raw_lon = "util.hub_float(nullif(trim(jd), '0'))" -%}
{%- set raw_lat = "util.hub_float(nullif(trim(wd), '0'))" -%}
{%- set lon = clean_coordinates(raw_lon, raw_lat, 'extent', 'lon') -%}
{%- set lat = clean_coordinates(raw_lon, raw_lat, 'extent', 'lat') -%}
{#- an incremental table (macros/incremental_staging.sql): one of the largest registers -#}
{%- set staging = incremental_staging('police', 'police__jq_jjxx', 'gxsj', also_depends_on='stg_grid__county_extent') %}
with

source as (
    {{ staging.changed_versions }}
),

extent as (
    select * from {{ ref('stg_grid__county_extent') }}
),

final as (
    select
        source.jjbh as source_record_id,
        {{ reported_at }} as reported_at,
        {{ map_code('jqlb', 'police_incident_category') }} as category_code,
        source.fadz as location_text,
        {{ lon }} as lon,
        {{ lat }} as lat,
        source.bjrsfzh as caller_id_number_raw,
        util.hub_id_clean(source.bjrsfzh) as caller_id_number,
        source.sarysfzh as involved_id_numbers_raw,
        {{ map_code('cjjg', 'police_incident_outcome') }} as outcome,
        {{ map_code('jqzt', 'police_incident_status') }} as status,
        case when trim(source.jqzt) = '1' then {{ clean_ts(ts14('gxsj'), '_extracted_at') }} end as closed_at,
        {{ clean_ts(ts14('gxsj'), '_extracted_at') }} as source_updated_at,
        {{ invalid_fields([('source_updated_at', 'gxsj', clean_ts(ts14('gxsj'), '_extracted_at')), ('reported_at', 'bjsj', reported_at),
                           ('coordinates', "coalesce(nullif(trim(jd), '0'), nullif(trim(wd), '0'))", lon)]) }}
            as invalid_fields,
        {{ unknown_codes(codes) }} as unknown_codes,
        source._record_key as raw_record_key,
        source._batch_id as batch_id,
        '{{ staging.fingerprint }}'::text as code_fingerprint
    from source
    left join extent on true
)

select * from final
