{#- 状态: the contract lists no values for this register; it mirrors 低保对象 (在保 / 停保) -#}
{%- set codes = [('性别', '"性别"', 'sex'), ('供养方式', '"供养方式"', 'civil_support_mode'), ('状态', '"状态"', 'civil_status')] -%}
{%- set birth_date = clean_date(parse_date('"出生日期"'), '_extracted_at') -%}
{%- set recognised_on = clean_date(parse_date('"认定日期"')) -%}
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
        {{ birth_date }} as birth_date,
        nullif(trim("家庭住址"), '') as address,
        nullif(trim("所属乡镇"), '') as township_name,
        nullif(trim("所属村社区"), '') as village_name,
        {{ map_code('"供养方式"', 'civil_support_mode') }} as support_mode,
        {{ recognised_on }} as recognised_on,
        {{ invalid_fields([('birth_date', '"出生日期"', birth_date), ('recognised_on', '"认定日期"', recognised_on)]) }} as invalid_fields,
        {{ unknown_codes(codes) }} as unknown_codes,
        {{ civil_listing_columns(has_status=true) }}
    from source
)

select * from final
