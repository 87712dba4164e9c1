{%- set codes = [('gender', 'gender', 'sex'), ('status', 'status', 'justice_resettlement_status')] -%}
{%- set birth_date = clean_date(parse_date('birthdate'), '_extracted_at') -%}
{%- set release_date = clean_date(parse_date('releasedate')) -%}
{%- set updated_at = clean_ts(parse_ts('updatedat'), '_extracted_at') -%}
with

source as (
    {{ latest_version(source('justice', 'justice__resettlement'), "coalesce(util.hub_tstz(updatedat), '-infinity')") }}
),

final as (
    select
        recordid as source_record_id,
        {{ id_number_columns('idnumber') }},
        {{ person_name('name') }} as person_name,
        {{ sex_code('gender') }} as sex,
        {{ birth_date }} as birth_date,
        {{ release_date }} as release_date,
        nullif(trim(offensecategory), '') as offense_category,
        nullif(trim(residenceaddress), '') as residence_address,
        {{ map_code('status', 'justice_resettlement_status') }} as status,
        {{ updated_at }} as source_updated_at,
        {{ invalid_fields([('birth_date', 'birthdate', birth_date), ('release_date', 'releasedate', release_date),
                           ('source_updated_at', 'updatedat', updated_at)]) }} as invalid_fields,
        {{ unknown_codes(codes) }} as unknown_codes,
        _batch_id as batch_id
    from source
)

select * from final
