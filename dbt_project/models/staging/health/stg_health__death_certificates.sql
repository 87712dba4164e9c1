with

source as (
    {{ latest_version(source('health', 'health__death_cert'), 'updated_at::timestamptz') }}
),

final as (
    select
        cert_no as source_record_id,
        {{ id_number_columns('id_card') }},
        {{ person_name('name') }} as person_name,
        death_date::date as death_date,
        cause_icd10,
        address,
        updated_at::timestamptz as source_updated_at,
        _batch_id as batch_id
    from source
)

select * from final
