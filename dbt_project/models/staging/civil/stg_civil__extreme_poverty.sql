with

source as (
    {{ civil_listing('civil__特困人员', has_status=true) }}
),

final as (
    select
        _record_key as source_record_id,
        {{ id_number_columns('"身份证号"') }},
        {{ person_name('"姓名"') }} as person_name,
        {{ sex_code('"性别"') }} as sex,
        {{ parse_date('"出生日期"') }} as birth_date,
        nullif(trim("家庭住址"), '') as address,
        nullif(trim("所属乡镇"), '') as township_name,
        nullif(trim("所属村社区"), '') as village_name,
        case trim("供养方式") when '集中供养' then 'centralised' when '分散供养' then 'dispersed' end as support_mode,
        {{ parse_date('"认定日期"') }} as recognised_on,
        {{ civil_listing_columns(has_status=true) }}
    from source
)

select * from final
