with

source as (
    {{ latest_version(source('health', 'health__smd_patient'), 'updated_at::timestamptz') }}
),

final as (
    select
        patient_id as source_record_id,
        {{ id_number_columns('id_card') }},
        {{ person_name('name') }} as person_name,
        {{ sex_code('sex') }} as sex,
        birth_date::date as birth_date,
        diagnosis_code,
        risk_level::int as risk_level,
        management_status,
        address,
        last_followup_date::date as last_followup_date,
        updated_at::timestamptz as source_updated_at,
        _batch_id as batch_id
    from source
)

select * from final
