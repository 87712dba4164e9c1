{%- set codes = [('gender', 'gender', 'sex'), ('correctionType', 'correctiontype', 'justice_correction_type'),
                 ('status', 'status', 'justice_correction_status')] -%}
{%- set birth_date = clean_date(parse_date('birthdate'), '_extracted_at') -%}
{%- set start_date = clean_date(parse_date('startdate')) -%}
{#- endDate is legitimately in the future (the end of the supervision term): only impossible dates go -#}
{%- set end_date = clean_date(parse_date('enddate')) -%}
{%- set updated_at = clean_ts(parse_ts('updatedat'), '_extracted_at') -%}
with

source as (
    {{ latest_version(source('justice', 'justice__corrections'), "coalesce(util.hub_tstz(updatedat), '-infinity')") }}
),

final as (
    select
        caseid as source_record_id,
        {{ id_number_columns('idnumber') }},
        {{ person_name('name') }} as person_name,
        {{ sex_code('gender') }} as sex,
        {{ birth_date }} as birth_date,
        {{ map_code('correctiontype', 'justice_correction_type') }} as correction_type,
        {{ start_date }} as start_date,
        {{ end_date }} as end_date,
        nullif(trim(supervisingoffice), '') as supervising_office,
        nullif(trim(residenceaddress), '') as residence_address,
        {{ map_code('status', 'justice_correction_status') }} as status,
        {{ updated_at }} as source_updated_at,
        {{ invalid_fields([('birth_date', 'birthdate', birth_date), ('start_date', 'startdate', start_date),
                           ('end_date', 'enddate', end_date), ('source_updated_at', 'updatedat', updated_at)]) }}
            as invalid_fields,
        {{ unknown_codes(codes) }} as unknown_codes,
        _batch_id as batch_id
    from source
)

select * from final
