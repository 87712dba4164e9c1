{%- set followup_date = clean_date(parse_date('followup_date'), '_extracted_at') -%}
{%- set risk_level = "case when util.hub_int(risk_level) between 0 and 5 then util.hub_int(risk_level) end" -%}
{#- an incremental table (macros/incremental_staging.sql): one of the largest registers -#}
{%- set staging = incremental_staging('health', 'health__smd_followup', "coalesce(util.hub_tstz(updated_at), '-infinity')") %}
with

source as (
    {{ staging.changed_versions }}
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
        _record_key as raw_record_key,
        _batch_id as batch_id,
        '{{ staging.fingerprint }}'::text as code_fingerprint
    from source
)

select * from final
