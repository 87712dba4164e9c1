{%- set codes = [('性别', '"性别"', 'sex'), ('保障类别', '"保障类别"', 'civil_allowance_type'), ('状态', '"状态"', 'civil_status')] -%}
{%- set birth_date = clean_date(parse_date('"出生日期"'), '_extracted_at') -%}
{%- set start_date = clean_date(parse_date('"救助开始日期"')) -%}
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
        {{ birth_date }} as birth_date,
        nullif(trim("家庭住址"), '') as address,
        nullif(trim("所属乡镇"), '') as township_name,
        nullif(trim("所属村社区"), '') as village_name,
        {{ map_code('"保障类别"', 'civil_allowance_type') }} as allowance_type,
        {{ parse_amount('"月保障金额"') }} as monthly_amount,
        {{ start_date }} as allowance_start_date,
        {{ invalid_fields([('birth_date', '"出生日期"', birth_date), ('monthly_amount', '"月保障金额"', parse_amount('"月保障金额"')),
                           ('allowance_start_date', '"救助开始日期"', start_date)]) }} as invalid_fields,
        {{ unknown_codes(codes) }} as unknown_codes,
        {{ civil_listing_columns(has_status=true) }}
    from source
)

select * from final
