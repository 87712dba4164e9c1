with

source as (
    {{ latest_version(source('health', 'health__smd_followup'), 'updated_at::timestamptz') }}
),

final as (
    select
        followup_id as source_record_id,
        patient_id,
        followup_date::date as followup_date,
        followup_type,
        risk_level::int as risk_level,
        updated_at::timestamptz as source_updated_at,
        _batch_id as batch_id
    from source
)

select * from final
