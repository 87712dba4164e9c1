with

source as (
    {{ latest_version(source('police', 'police__rk_ldrk'), 'gxsj') }}
),

final as (
    select
        djbh as source_record_id,
        {{ id_number_columns('gmsfhm') }},
        {{ person_name('xm') }} as person_name,
        {{ sex_code('xb') }} as sex,
        {{ date8('csrq') }} as birth_date,
        hjdz as hometown_address,
        zzdz as current_address,
        {{ date8('djrq') }} as registered_on,
        {{ date8('yxqz') }} as valid_until,
        {{ ts14('gxsj') }} as source_updated_at,
        _batch_id as batch_id
    from source
)

select * from final
