{%- set codes = [('XB', 'xb', 'sex')] -%}
{%- set birth_date = clean_date(date8('csrq'), '_extracted_at') -%}
{%- set registered_on = clean_date(date8('djrq'), '_extracted_at') -%}
{#- valid-until is legitimately in the future: only impossible dates go -#}
{%- set valid_until = clean_date(date8('yxqz')) -%}
{#- an incremental table (macros/incremental_staging.sql): one of the largest registers -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='source_record_id',
        on_schema_change='sync_all_columns',
        post_hook=["{{ drop_vanished_staging_rows(source('police', 'police__rk_ldrk'), 'gxsj') }}",
                   "{{ analyze_when_rebuilt() }}"],
    )
}}
{%- set state = incremental_staging_state() %}
with

source as (
    select * from ({{ latest_version(source('police', 'police__rk_ldrk'), 'gxsj') }}) as latest
    {{ changed_records_only(source('police', 'police__rk_ldrk'), 'gxsj', state) }}
),

final as (
    select
        djbh as source_record_id,
        {{ id_number_columns('gmsfhm') }},
        {{ person_name('xm') }} as person_name,
        {{ sex_code('xb') }} as sex,
        {{ birth_date }} as birth_date,
        hjdz as hometown_address,
        zzdz as current_address,
        {{ registered_on }} as registered_on,
        {{ valid_until }} as valid_until,
        {{ clean_ts(ts14('gxsj'), '_extracted_at') }} as source_updated_at,
        {{ invalid_fields([('source_updated_at', 'gxsj', clean_ts(ts14('gxsj'), '_extracted_at')), ('birth_date', 'csrq', birth_date), ('registered_on', 'djrq', registered_on),
                           ('valid_until', 'yxqz', valid_until)]) }} as invalid_fields,
        {{ unknown_codes(codes) }} as unknown_codes,
        _batch_id as batch_id,
        '{{ state.fingerprint }}'::text as code_fingerprint
    from source
)

select * from final
