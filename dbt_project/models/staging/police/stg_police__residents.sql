{%- set codes = [('XB', 'xb', 'sex'), ('MZ', 'mz', 'police_ethnicity'), ('YHZGX', 'yhzgx', 'police_relation'),
                 ('RYZT', 'ryzt', 'police_person_status')] -%}
{%- set birth_date = clean_date(date8('csrq'), '_extracted_at') -%}
{#- an incremental table (macros/incremental_staging.sql): the county's largest register, read by four data
    tests, the quality summaries and the person records on every run -#}
{%- set staging = incremental_staging('police', 'police__rk_czrk', 'gxsj') %}
with

source as (
    {{ staging.changed_versions }}
),

final as (
    select
        rybh as source_record_id,
        {{ id_number_columns('gmsfhm') }},
        {{ person_name('xm') }} as person_name,
        {{ sex_code('xb') }} as sex,
        {{ birth_date }} as birth_date,
        {{ map_code('mz', 'police_ethnicity') }} as ethnicity_code,
        hh as household_no,
        {{ map_code('yhzgx', 'police_relation') }} as relation_code,
        hjdz_xzqh as registered_division_code,
        hjdz as registered_address,
        xzz as current_address,
        {{ map_code('ryzt', 'police_person_status') }} as person_status,
        {{ clean_ts(ts14('gxsj'), '_extracted_at') }} as source_updated_at,
        {{ invalid_fields([('source_updated_at', 'gxsj', clean_ts(ts14('gxsj'), '_extracted_at')), ('birth_date', 'csrq', birth_date)]) }} as invalid_fields,
        {{ unknown_codes(codes) }} as unknown_codes,
        _record_key as raw_record_key,
        _batch_id as batch_id,
        '{{ staging.fingerprint }}'::text as code_fingerprint
    from source
)

select * from final
