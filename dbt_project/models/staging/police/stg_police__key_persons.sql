with

source as (
    {{ latest_version(source('police', 'police__zdry'), 'gxsj') }}
),

final as (
    select
        zdrybh as source_record_id,
        {{ id_number_columns('gmsfhm') }},
        {{ person_name('xm') }} as person_name,
        zdrylb as category_code,
        {{ date8('lgsj') }} as listed_on,
        {{ date8('cgsj') }} as delisted_on,
        {{ ts14('gxsj') }} as source_updated_at,
        _batch_id as batch_id
    from source
)

select * from final
