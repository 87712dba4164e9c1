with

source as (
    {{ latest_version(source('justice', 'justice__corrections'), "coalesce(util.hub_ts(updatedat), '-infinity')") }}
),

final as (
    select
        caseid as source_record_id,
        {{ id_number_columns('idnumber') }},
        {{ person_name('name') }} as person_name,
        {{ sex_code('gender') }} as sex,
        {{ parse_date('birthdate') }} as birth_date,
        nullif(trim(correctiontype), '') as correction_type,
        {{ parse_date('startdate') }} as start_date,
        {{ parse_date('enddate') }} as end_date,
        nullif(trim(supervisingoffice), '') as supervising_office,
        nullif(trim(residenceaddress), '') as residence_address,
        nullif(trim(status), '') as status,
        {{ parse_ts('updatedat') }} as source_updated_at,
        _batch_id as batch_id
    from source
)

select * from final
