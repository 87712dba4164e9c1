with

source as (
    {{ latest_version(source('police', 'police__rk_czrk'), 'gxsj') }}
),

final as (
    select
        rybh as source_record_id,
        {{ id_number_columns('gmsfhm') }},
        {{ person_name('xm') }} as person_name,
        {{ sex_code('xb') }} as sex,
        {{ date8('csrq') }} as birth_date,
        mz as ethnicity_code,
        hh as household_no,
        yhzgx as relation_code,
        hjdz_xzqh as registered_division_code,
        hjdz as registered_address,
        xzz as current_address,
        case ryzt when '0' then 'normal' when '1' then 'deceased' when '2' then 'moved_out'
             when '3' then 'missing' else 'unknown' end as person_status,
        {{ ts14('gxsj') }} as source_updated_at,
        _batch_id as batch_id
    from source
)

select * from final
