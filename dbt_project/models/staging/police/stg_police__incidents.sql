with

source as (
    {{ latest_version(source('police', 'police__jq_jjxx'), 'gxsj') }}
),

final as (
    select
        jjbh as source_record_id,
        {{ ts14('bjsj') }} as reported_at,
        jqlb as category_code,
        fadz as location_text,
        -- 0 or empty means "unknown" in the police system
        nullif(nullif(trim(jd), ''), '0')::double precision as lon,
        nullif(nullif(trim(wd), ''), '0')::double precision as lat,
        bjrsfzh as caller_id_number_raw,
        util.hub_id_clean(bjrsfzh) as caller_id_number,
        sarysfzh as involved_id_numbers_raw,
        case cjjg when '1' then 'handled_on_scene' when '2' then 'filed_as_case' when '3' then 'mediated'
             when '4' then 'referred' else 'other' end as outcome,
        case jqzt when '1' then 'closed' else 'open' end as status,
        case when jqzt = '1' then {{ ts14('gxsj') }} end as closed_at,
        {{ ts14('gxsj') }} as source_updated_at,
        _batch_id as batch_id
    from source
)

select * from final
