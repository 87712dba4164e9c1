{%- set codes = [('ZDRYLB', 'zdrylb', 'police_key_person_category')] -%}
{%- set listed_on = clean_date(date8('lgsj'), '_extracted_at') -%}
{%- set delisted_on = clean_date(date8('cgsj')) -%}
with

source as (
    {{ latest_version(source('police', 'police__zdry'), 'gxsj') }}
),

final as (
    select
        zdrybh as source_record_id,
        {{ id_number_columns('gmsfhm') }},
        {{ person_name('xm') }} as person_name,
        {{ map_code('zdrylb', 'police_key_person_category') }} as category_code,
        {{ listed_on }} as listed_on,
        {{ delisted_on }} as delisted_on,
        {{ clean_ts(ts14('gxsj'), '_extracted_at') }} as source_updated_at,
        {{ invalid_fields([('source_updated_at', 'gxsj', clean_ts(ts14('gxsj'), '_extracted_at')), ('listed_on', 'lgsj', listed_on), ('delisted_on', 'cgsj', delisted_on)]) }} as invalid_fields,
        {{ unknown_codes(codes) }} as unknown_codes,
        _batch_id as batch_id
    from source
)

select * from final
