{%- set followup_date = clean_date(parse_date('followup_date'), '_extracted_at') -%}
{%- set risk_level = "case when util.hub_int(risk_level) between 0 and 5 then util.hub_int(risk_level) end" -%}
{#- an incremental table (macros/incremental_staging.sql): one of the largest registers -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='source_record_id',
        on_schema_change='sync_all_columns',
        post_hook=["{{ drop_vanished_staging_rows(source('health', 'health__smd_followup'), \"coalesce(util.hub_tstz(updated_at), '-infinity')\") }}",
                   "{{ analyze_when_rebuilt() }}"],
    )
}}
{%- set state = incremental_staging_state() %}
with

source as (
    select * from ({{ latest_version(source('health', 'health__smd_followup'), "coalesce(util.hub_tstz(updated_at), '-infinity')") }}) as latest
    {{ changed_records_only(source('health', 'health__smd_followup'), "coalesce(util.hub_tstz(updated_at), '-infinity')", state) }}
),

final as (
    select
        followup_id as source_record_id,
        patient_id,
        {{ followup_date }} as followup_date,
        {{ map_code('followup_type', 'health_followup_type') }} as followup_type,
        {{ risk_level }} as risk_level,
        {{ clean_ts(parse_ts('updated_at'), '_extracted_at') }} as source_updated_at,
        {{ invalid_fields([('source_updated_at', 'updated_at', clean_ts(parse_ts('updated_at'), '_extracted_at')), ('followup_date', 'followup_date', followup_date), ('risk_level', 'risk_level', risk_level)]) }}
            as invalid_fields,
        {{ unknown_codes([('followup_type', 'followup_type', 'health_followup_type')]) }} as unknown_codes,
        _batch_id as batch_id,
        '{{ state.fingerprint }}'::text as code_fingerprint
    from source
)

select * from final
