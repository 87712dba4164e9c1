-- One row per resolved resident: the best value of each attribute across the departments that know them.
-- Preference: police household register > floating register > other departments; latest update wins within.
with

records as (
    select * from {{ ref('int_person_records__unioned') }}
),

xref as (
    select * from {{ ref('int_residents__resolved') }}
),

addresses as (
    select * from {{ ref('int_addresses__matched') }}
),

key_persons as (
    select * from {{ ref('stg_police__key_persons') }}
),

joined as (
    select
        x.resident_key,
        x.id_number as resolved_id_number,
        r.source, r.source_object, r.person_name, r.sex, r.id_sex, r.birth_date, r.id_birth_date,
        r.residence_type, r.is_deceased, r.source_updated_at,
        a.grid_code as address_grid_code,
        case r.source_object when 'RK_CZRK' then 1 when 'RK_LDRK' then 2 else 3 end as source_rank
    from records as r
    inner join xref as x
        on x.source = r.source and x.source_object = r.source_object and x.source_record_id = r.source_record_id
    left join addresses as a on a.address = r.address
),

best as (
    select distinct on (resident_key)
        resident_key, resolved_id_number as id_number, person_name, coalesce(sex, id_sex) as sex,
        coalesce(birth_date, id_birth_date) as birth_date, residence_type, address_grid_code
    from joined
    order by resident_key, source_rank, (address_grid_code is null), source_updated_at desc
),

summary as (
    select
        resident_key,
        array_agg(distinct source order by source) as departments,
        bool_or(is_deceased) as is_deceased
    from joined
    group by 1
),

smd_flags as (
    select x.resident_key, bool_or(p.management_status in ('in_management', 'lost')) as is_smd_patient
    from {{ ref('stg_health__smd_patients') }} as p
    inner join xref as x on x.source = 'health' and x.source_object = 'smd_patient' and x.source_record_id = p.source_record_id
    group by 1
),

key_person_flags as (
    select
        x.resident_key,
        bool_or(k.category_code = '02') as is_drug_rehab,
        bool_or(k.category_code in ('01', '03', '05')) as is_key_person,
        bool_or(k.category_code = '04') as is_police_listed_smd
    from key_persons as k
    inner join xref as x on x.source = 'police' and x.source_object = 'ZDRY' and x.source_record_id = k.source_record_id
    where k.delisted_on is null
    group by 1
),

final as (
    select
        b.resident_key,
        b.id_number,
        b.person_name,
        b.sex,
        b.birth_date,
        b.residence_type,
        case when b.address_grid_code is not null then 'G' || b.address_grid_code end as current_grid_key,
        s.departments,
        coalesce(s.is_deceased, false) as is_deceased,
        false as is_community_correction,
        false as is_released_prisoner,
        coalesce(m.is_smd_patient, k.is_police_listed_smd, false) as is_smd_patient,
        coalesce(k.is_drug_rehab, false) as is_drug_rehab,
        coalesce(k.is_key_person, false) as is_key_person,
        false as is_subsistence_allowance,
        false as is_extreme_poverty,
        false as is_disabled,
        false as is_left_behind
    from best as b
    inner join summary as s on s.resident_key = b.resident_key
    left join key_person_flags as k on k.resident_key = b.resident_key
    left join smd_flags as m on m.resident_key = b.resident_key
)

select * from final
