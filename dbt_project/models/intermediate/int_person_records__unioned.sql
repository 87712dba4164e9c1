-- One row per source record that describes a person, across departments, in one vocabulary.
with

residents as (
    select * from {{ ref('stg_police__residents') }}
),

floating as (
    select * from {{ ref('stg_police__floating_residents') }}
),

key_persons as (
    select * from {{ ref('stg_police__key_persons') }}
),

smd_patients as (
    select * from {{ ref('stg_health__smd_patients') }}
),

deaths as (
    select * from {{ ref('stg_health__death_certificates') }}
),

corrections as (
    select * from {{ ref('stg_justice__corrections') }}
),

resettlement as (
    select * from {{ ref('stg_justice__resettlement') }}
),

petitions as (
    select * from {{ ref('stg_petition__petitions') }}
),

subsistence_allowance as (
    select * from {{ ref('stg_civil__subsistence_allowance') }}
),

extreme_poverty as (
    select * from {{ ref('stg_civil__extreme_poverty') }}
),

disabled as (
    select * from {{ ref('stg_civil__disabled') }}
),

left_behind as (
    select * from {{ ref('stg_civil__left_behind') }}
),

unioned as (
    select 'police' as source, 'RK_CZRK' as source_object, source_record_id, id_number_raw, id_number, id_status,
           person_name, sex, birth_date, current_address as address, 'registered' as residence_type,
           person_status = 'deceased' as is_deceased, source_updated_at
    from residents
    union all
    select 'police', 'RK_LDRK', source_record_id, id_number_raw, id_number, id_status,
           person_name, sex, birth_date, current_address, 'floating', false, source_updated_at
    from floating
    union all
    select 'police', 'ZDRY', source_record_id, id_number_raw, id_number, id_status,
           person_name, null, null, null, 'unknown', false, source_updated_at
    from key_persons
    union all
    select 'health', 'smd_patient', source_record_id, id_number_raw, id_number, id_status,
           person_name, sex, birth_date, address, 'unknown', management_status = 'deceased', source_updated_at
    from smd_patients
    union all
    select 'health', 'death_cert', source_record_id, id_number_raw, id_number, id_status,
           person_name, null, null, address, 'unknown', true, source_updated_at
    from deaths
    union all
    select 'justice', 'corrections', source_record_id, id_number_raw, id_number, id_status,
           person_name, sex, birth_date, residence_address, 'unknown', false, source_updated_at
    from corrections
    union all
    select 'justice', 'resettlement', source_record_id, id_number_raw, id_number, id_status,
           person_name, sex, birth_date, residence_address, 'unknown', false, source_updated_at
    from resettlement
    union all
    -- the petitioner of each petition (object named after the export file stem, as the civil registers)
    select 'petition', 'xinfang', source_record_id, id_number_raw, id_number, id_status,
           person_name, null, null, petitioner_address, 'unknown', false, source_updated_at
    from petitions
    union all
    -- civil registers carry no update time: the drop date of the record's latest change stands in
    select 'civil', '低保对象', source_record_id, id_number_raw, id_number, id_status,
           person_name, sex, birth_date, address, 'unknown', false, last_change_on::timestamp at time zone 'Asia/Shanghai'
    from subsistence_allowance
    union all
    select 'civil', '特困人员', source_record_id, id_number_raw, id_number, id_status,
           person_name, sex, birth_date, address, 'unknown', false, last_change_on::timestamp at time zone 'Asia/Shanghai'
    from extreme_poverty
    union all
    select 'civil', '残疾人', source_record_id, id_number_raw, id_number, id_status,
           person_name, sex, null, address, 'unknown', false, last_change_on::timestamp at time zone 'Asia/Shanghai'
    from disabled
    union all
    select 'civil', '留守人员', source_record_id, id_number_raw, id_number, id_status,
           person_name, null, null, address, 'unknown', false, last_change_on::timestamp at time zone 'Asia/Shanghai'
    from left_behind
),

final as (
    select
        *,
        -- the birth date and sex encoded in a usable ID number complete what a department left empty (a usable
        -- number has a real date from 1900 on; one after tomorrow identifies the person but tells no birth date)
        case when id_status in ('valid', 'repaired') and util.hub_date8(substr(id_number, 7, 8)) <= current_date + 1
             then util.hub_date8(substr(id_number, 7, 8)) end as id_birth_date,
        case when id_status in ('valid', 'repaired')
             then case when substr(id_number, 17, 1)::int % 2 = 1 then 'M' else 'F' end end as id_sex
    from unioned
)

select * from final
