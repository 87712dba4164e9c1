{%- set death_date = clean_date(parse_date('death_date'), '_extracted_at') -%}
with

source as (
    {{ latest_version(source('health', 'health__death_cert'), "coalesce(util.hub_tstz(updated_at), '-infinity')") }}
),

final as (
    select
        cert_no as source_record_id,
        {{ id_number_columns('id_card') }},
        {{ person_name('name') }} as person_name,
        {{ death_date }} as death_date,
        cause_icd10,
        address,
        {{ clean_ts(parse_ts('updated_at'), '_extracted_at') }} as source_updated_at,
        {{ invalid_fields([('source_updated_at', 'updated_at', clean_ts(parse_ts('updated_at'), '_extracted_at')), ('death_date', 'death_date', death_date)]) }} as invalid_fields,
        _batch_id as batch_id
    from source
)

select * from final
