-- Published: no ID number and no full name ever leaves this model in clear.
with

residents as (
    select * from {{ ref('int_residents__profiled') }}
),

final as (
    select
        resident_key::text as resident_key,
        {{ keyed_id_hash('id_number') }}::text as id_hash,
        util.hub_mask_name(person_name)::text as name_masked,
        coalesce(sex, 'U')::text as sex,
        extract(year from birth_date)::int as birth_year,
        case
            when birth_date is null then 'unknown'
            when age(current_date, birth_date) < interval '18 years' then '0-17'
            when age(current_date, birth_date) < interval '35 years' then '18-34'
            when age(current_date, birth_date) < interval '60 years' then '35-59'
            when age(current_date, birth_date) < interval '80 years' then '60-79'
            else '80+'
        end::text as age_band,
        current_grid_key::text as current_grid_key,
        coalesce(residence_type, 'unknown')::text as residence_type,
        is_deceased::boolean as is_deceased,
        departments::text[] as departments,
        is_community_correction::boolean as is_community_correction,
        is_released_prisoner::boolean as is_released_prisoner,
        is_smd_patient::boolean as is_smd_patient,
        is_drug_rehab::boolean as is_drug_rehab,
        is_key_person::boolean as is_key_person,
        is_subsistence_allowance::boolean as is_subsistence_allowance,
        is_extreme_poverty::boolean as is_extreme_poverty,
        is_disabled::boolean as is_disabled,
        is_left_behind::boolean as is_left_behind
    from residents
)

select * from final
