{%- set codes = [('性别', '"性别"', 'sex'), ('残疾类别', '"残疾类别"', 'civil_disability_type'),
                 ('残疾等级', '"残疾等级"', 'civil_disability_grade')] -%}
with

source as (
    {{ civil_listing('civil__残疾人') }}
),

final as (
    select
        _record_key as source_record_id,
        {{ id_number_columns('"身份证号"') }},
        {{ person_name('"姓名"') }} as person_name,
        {{ sex_code('"性别"') }} as sex,
        {{ map_code('"残疾类别"', 'civil_disability_type') }} as disability_type,
        -- 一级..四级 as 1..4; a grade the contract does not list is null (the column is a number) and listed in unknown_codes
        nullif({{ map_code('"残疾等级"', 'civil_disability_grade') }}, 'unknown')::int as disability_grade,
        nullif(trim("家庭住址"), '') as address,
        {{ unknown_codes(codes) }} as unknown_codes,
        {{ civil_listing_columns(has_status=false) }}
    from source
)

select * from final
