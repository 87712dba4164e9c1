-- One row per resolved resident: the best value of each attribute across the departments that know them.
-- Preference: police household register > floating register > other departments; latest update wins within.
-- The grid (and building) is the best *placed* address in that order: a current address of any department
-- (one that names a road or group but not the house, or a village the registry does not have, does not hide
-- another department's placed address), else the household register's registered address (HJDZ, the address
-- of the person's 户口 in the county), labelled in grid_address_kind.
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

registered as (
    select source_record_id, registered_address, source_updated_at from {{ ref('stg_police__residents') }}
    where registered_address is not null
),

tags as (
    select * from {{ ref('int_resident_tags') }}
),

joined as (
    select
        x.resident_key,
        x.id_number as resolved_id_number,
        r.source, r.source_object, r.person_name, r.sex, r.id_sex, r.birth_date, r.id_birth_date,
        r.residence_type, r.is_deceased, r.source_updated_at,
        a.grid_code as address_grid_code,
        a.building_id as address_building_id,
        case r.source_object when 'RK_CZRK' then 1 when 'RK_LDRK' then 2 else 3 end as source_rank
    from records as r
    inner join xref as x
        on x.source = r.source and x.source_object = r.source_object and x.source_record_id = r.source_record_id
    left join addresses as a on a.address = r.address
),

best as (
    select distinct on (resident_key)
        resident_key, resolved_id_number as id_number, person_name, coalesce(sex, id_sex) as sex,
        coalesce(birth_date, id_birth_date) as birth_date, residence_type
    from joined
    order by resident_key, source_rank, (address_grid_code is null), source_updated_at desc
),

placed_addresses as (
    select resident_key, address_grid_code, address_building_id, 'current' as grid_address_kind, source_rank,
           1 as kind_rank, source_updated_at
    from joined
    where address_grid_code is not null
    union all
    select x.resident_key, a.grid_code, a.building_id, 'registered', 1, 2, g.source_updated_at
    from xref as x
    inner join registered as g
        on x.source = 'police' and x.source_object = 'RK_CZRK' and g.source_record_id = x.source_record_id
    inner join addresses as a on a.address = g.registered_address
    where a.grid_code is not null
),

best_grid as (
    select distinct on (resident_key) resident_key, address_grid_code, address_building_id, grid_address_kind
    from placed_addresses
    order by resident_key, kind_rank, source_rank, source_updated_at desc
),

summary as (
    select
        resident_key,
        array_agg(distinct source order by source) as departments,
        bool_or(is_deceased) as is_deceased
    from joined
    group by 1
),

tag_flags as (
    -- the nine special-population flags summarise the current person tags (valid_to is null)
    select
        resident_key,
        bool_or(tag_code = 'community_correction') as is_community_correction,
        bool_or(tag_code = 'released_prisoner') as is_released_prisoner,
        bool_or(tag_code = 'smd_patient') as is_smd_patient,
        bool_or(tag_code = 'drug_rehab') as is_drug_rehab,
        bool_or(tag_code = 'key_person') as is_key_person,
        bool_or(tag_code = 'subsistence_allowance') as is_subsistence_allowance,
        bool_or(tag_code = 'extreme_poverty') as is_extreme_poverty,
        bool_or(tag_code = 'disabled') as is_disabled,
        bool_or(tag_code = 'left_behind') as is_left_behind
    from tags
    where valid_to is null
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
        case when g.address_grid_code is not null then 'G' || g.address_grid_code end as current_grid_key,
        g.address_building_id as current_building_id,
        g.grid_address_kind,
        s.departments,
        coalesce(s.is_deceased, false) as is_deceased,
        coalesce(t.is_community_correction, false) as is_community_correction,
        coalesce(t.is_released_prisoner, false) as is_released_prisoner,
        coalesce(t.is_smd_patient, false) as is_smd_patient,
        coalesce(t.is_drug_rehab, false) as is_drug_rehab,
        coalesce(t.is_key_person, false) as is_key_person,
        coalesce(t.is_subsistence_allowance, false) as is_subsistence_allowance,
        coalesce(t.is_extreme_poverty, false) as is_extreme_poverty,
        coalesce(t.is_disabled, false) as is_disabled,
        coalesce(t.is_left_behind, false) as is_left_behind
    from best as b
    inner join summary as s on s.resident_key = b.resident_key
    left join tag_flags as t on t.resident_key = b.resident_key
    left join best_grid as g on g.resident_key = b.resident_key
)

select * from final
