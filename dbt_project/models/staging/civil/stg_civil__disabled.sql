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
        case trim("残疾类别") when '视力' then 'visual' when '听力' then 'hearing' when '言语' then 'speech'
             when '肢体' then 'physical' when '智力' then 'intellectual' when '精神' then 'psychiatric'
             when '多重' then 'multiple' end as disability_type,
        case trim("残疾等级") when '一级' then 1 when '二级' then 2 when '三级' then 3 when '四级' then 4 end as disability_grade,
        nullif(trim("家庭住址"), '') as address,
        {{ civil_listing_columns(has_status=false) }}
    from source
)

select * from final
