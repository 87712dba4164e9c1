with

source as (
    {{ latest_version(source('health', 'health__birth_cert'), 'updated_at::timestamptz') }}
),

final as (
    select
        cert_no as source_record_id,
        util.hub_id_clean(mother_id_card) as mother_id_number,
        {{ person_name('child_name') }} as child_name,
        {{ sex_code('sex') }} as sex,
        birth_date::date as birth_date,
        birth_address,
        updated_at::timestamptz as source_updated_at,
        _batch_id as batch_id
    from source
)

select * from final
