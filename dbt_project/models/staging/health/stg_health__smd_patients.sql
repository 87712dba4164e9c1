{%- set birth_date = clean_date(parse_date('birth_date'), '_extracted_at') -%}
{%- set last_followup_date = clean_date(parse_date('last_followup_date'), '_extracted_at') -%}
{#- risk_level: 0-5 of the national management guideline; text or another number is dropped -#}
{%- set risk_level = "case when util.hub_int(risk_level) between 0 and 5 then util.hub_int(risk_level) end" -%}
with

source as (
    {{ latest_version(source('health', 'health__smd_patient'), "coalesce(util.hub_tstz(updated_at), '-infinity')") }}
),

final as (
    select
        patient_id as source_record_id,
        {{ id_number_columns('id_card') }},
        {{ person_name('name') }} as person_name,
        {{ sex_code('sex') }} as sex,
        {{ birth_date }} as birth_date,
        diagnosis_code,
        {{ risk_level }} as risk_level,
        {{ map_code('management_status', 'health_management_status') }} as management_status,
        address,
        {{ last_followup_date }} as last_followup_date,
        {{ clean_ts(parse_ts('updated_at'), '_extracted_at') }} as source_updated_at,
        {{ invalid_fields([('source_updated_at', 'updated_at', clean_ts(parse_ts('updated_at'), '_extracted_at')), ('birth_date', 'birth_date', birth_date), ('risk_level', 'risk_level', risk_level),
                           ('last_followup_date', 'last_followup_date', last_followup_date)]) }} as invalid_fields,
        {{ unknown_codes([('sex', 'sex', 'sex'), ('management_status', 'management_status', 'health_management_status')]) }}
            as unknown_codes,
        _batch_id as batch_id
    from source
)

select * from final
