{%- set codes = [('XB', 'xb', 'sex'), ('MZ', 'mz', 'police_ethnicity'), ('YHZGX', 'yhzgx', 'police_relation'),
                 ('RYZT', 'ryzt', 'police_person_status')] -%}
{%- set birth_date = clean_date(date8('csrq'), '_extracted_at') -%}
{#- an incremental table (macros/incremental_staging.sql): the county's largest register, read by four data
    tests, the quality summaries and the person records on every run -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='source_record_id',
        on_schema_change='sync_all_columns',
        post_hook=["{{ drop_vanished_staging_rows(source('police', 'police__rk_czrk'), 'gxsj') }}",
                   "{{ analyze_when_rebuilt() }}"],
    )
}}
{%- set state = incremental_staging_state() %}
with

source as (
    select * from ({{ latest_version(source('police', 'police__rk_czrk'), 'gxsj') }}) as latest
    {{ changed_records_only(source('police', 'police__rk_czrk'), 'gxsj', state) }}
),

final as (
    select
        rybh as source_record_id,
        {{ id_number_columns('gmsfhm') }},
        {{ person_name('xm') }} as person_name,
        {{ sex_code('xb') }} as sex,
        {{ birth_date }} as birth_date,
        {{ map_code('mz', 'police_ethnicity') }} as ethnicity_code,
        hh as household_no,
        {{ map_code('yhzgx', 'police_relation') }} as relation_code,
        hjdz_xzqh as registered_division_code,
        hjdz as registered_address,
        xzz as current_address,
        {{ map_code('ryzt', 'police_person_status') }} as person_status,
        {{ clean_ts(ts14('gxsj'), '_extracted_at') }} as source_updated_at,
        {{ invalid_fields([('source_updated_at', 'gxsj', clean_ts(ts14('gxsj'), '_extracted_at')), ('birth_date', 'csrq', birth_date)]) }} as invalid_fields,
        {{ unknown_codes(codes) }} as unknown_codes,
        _batch_id as batch_id,
        '{{ state.fingerprint }}'::text as code_fingerprint
    from source
)

select * from final
