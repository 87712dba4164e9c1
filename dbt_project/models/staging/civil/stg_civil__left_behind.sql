with

source as (
    {{ civil_listing('civil__留守人员') }}
),

final as (
    select
        _record_key as source_record_id,
        {{ id_number_columns('"身份证号"') }},
        {{ person_name('"姓名"') }} as person_name,
        case trim("类型") when '留守儿童' then 'child' when '留守老人' then 'elderly' when '留守妇女' then 'woman'
             end as left_behind_type,
        "监护人身份证号" as guardian_id_number_raw,
        util.hub_id_clean("监护人身份证号") as guardian_id_number,
        nullif(trim("家庭住址"), '') as address,
        {{ civil_listing_columns(has_status=false) }}
    from source
)

select * from final
