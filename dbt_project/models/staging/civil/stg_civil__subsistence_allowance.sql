with

source as (
    {{ civil_listing('civil__低保对象', has_status=true) }}
),

final as (
    select
        _record_key as source_record_id,
        "户主身份证号" as household_head_id_number_raw,
        util.hub_id_clean("户主身份证号") as household_head_id_number,
        {{ id_number_columns('"成员身份证号"') }},
        {{ person_name('"姓名"') }} as person_name,
        {{ sex_code('"性别"') }} as sex,
        {{ parse_date('"出生日期"') }} as birth_date,
        nullif(trim("家庭住址"), '') as address,
        nullif(trim("所属乡镇"), '') as township_name,
        nullif(trim("所属村社区"), '') as village_name,
        case trim("保障类别") when '城市低保' then 'urban' when '农村低保' then 'rural' end as allowance_type,
        {{ parse_amount('"月保障金额"') }} as monthly_amount,
        {{ parse_date('"救助开始日期"') }} as allowance_start_date,
        {{ civil_listing_columns(has_status=true) }}
    from source
)

select * from final
