{%- set codes = [('XB', 'xb', 'sex')] -%}
{%- set birth_date = clean_date(date8('csrq'), '_extracted_at') -%}
{%- set registered_on = clean_date(date8('djrq'), '_extracted_at') -%}
{#- valid-until is legitimately in the future: only impossible dates go -#}
{%- set valid_until = clean_date(date8('yxqz')) -%}
{#- an incremental table (macros/incremental_staging.sql): one of the largest registers -#}
{%- set staging = incremental_staging('police', 'police__rk_ldrk', 'gxsj') %}
with

source as (
    {{ staging.changed_versions }}
),

final as (
    select
        djbh as source_record_id,
        {{ id_number_columns('gmsfhm') }},
        {{ person_name('xm') }} as person_name,
        {{ sex_code('xb') }} as sex,
        {{ birth_date }} as birth_date,
        hjdz as hometown_address,
        zzdz as current_address,
        {{ registered_on }} as registered_on,
        {{ valid_until }} as valid_until,
        {{ clean_ts(ts14('gxsj'), '_extracted_at') }} as source_updated_at,
        {{ invalid_fields([('source_updated_at', 'gxsj', clean_ts(ts14('gxsj'), '_extracted_at')), ('birth_date', 'csrq', birth_date), ('registered_on', 'djrq', registered_on),
                           ('valid_until', 'yxqz', valid_until)]) }} as invalid_fields,
        {{ unknown_codes(codes) }} as unknown_codes,
        _record_key as raw_record_key,
        _batch_id as batch_id,
        '{{ staging.fingerprint }}'::text as code_fingerprint
    from source
)

select * from final
