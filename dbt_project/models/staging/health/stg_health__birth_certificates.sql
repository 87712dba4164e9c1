{%- set birth_date = clean_date(parse_date('birth_date'), '_extracted_at') -%}
with

source as (
    {{ latest_version(source('health', 'health__birth_cert'), "coalesce(util.hub_tstz(updated_at), '-infinity')") }}
),

final as (
    select
        cert_no as source_record_id,
        util.hub_id_clean(mother_id_card) as mother_id_number,
        {{ person_name('child_name') }} as child_name,
        {{ sex_code('sex') }} as sex,
        {{ birth_date }} as birth_date,
        birth_address,
        {{ clean_ts(parse_ts('updated_at'), '_extracted_at') }} as source_updated_at,
        {{ invalid_fields([('source_updated_at', 'updated_at', clean_ts(parse_ts('updated_at'), '_extracted_at')), ('birth_date', 'birth_date', birth_date)]) }} as invalid_fields,
        {{ unknown_codes([('sex', 'sex', 'sex')]) }} as unknown_codes,
        _batch_id as batch_id
    from source
)

select * from final
