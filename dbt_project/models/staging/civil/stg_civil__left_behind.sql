{%- set codes = [('类型', '"类型"', 'civil_left_behind_type')] -%}
with

source as (
    {{ civil_listing('civil__留守人员') }}
),

final as (
    select
        _record_key as source_record_id,
        {{ id_number_columns('"身份证号"') }},
        {{ person_name('"姓名"') }} as person_name,
        {{ map_code('"类型"', 'civil_left_behind_type') }} as left_behind_type,
        "监护人身份证号" as guardian_id_number_raw,
        util.hub_id_clean("监护人身份证号") as guardian_id_number,
        nullif(trim("家庭住址"), '') as address,
        {{ unknown_codes(codes) }} as unknown_codes,
        {{ civil_listing_columns(has_status=false) }}
    from source
)

select * from final
