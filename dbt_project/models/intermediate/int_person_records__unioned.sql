-- One row per source record that describes a person, across departments, in one vocabulary.
--
-- Incremental, keyed on (source, source_object, source_record_id): a run rebuilds only the records whose
-- current version differs from the stored row (change_key: the batch of the record's current version, and for
-- the civil registers also the drop of its latest listing change) or whose code changed (reference_fingerprint)
-- and merges them in; `hub run --full-refresh` rebuilds every row, and both paths give the same rows
-- (tests/dbt_project/test_incremental_models.py). Why per record and not "batches newer than the last run":
-- a held batch released later makes rows of an old batch current again (as int_events__unioned).
-- The comparison sits inside each branch, next to the staging view's plain columns, so PostgreSQL evaluates the
-- staging expressions (ID repair, dates, codes) only for the rows that changed: on a county's daily run the
-- model went from a full rebuild of every record to the day's few hundred.
{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key=['source', 'source_object', 'source_record_id'],
        on_schema_change='sync_all_columns',
        post_hook=["{{ drop_vanished_person_records() }}"],
    )
}}

{#- The code the rows depend on (code_fingerprint(): this model's SQL and its parents', the staging macros, the util
    SQL functions as installed): a change rebuilds every record on the next run. A table built before this model
    was incremental has no change_key: rebuild every row. (In a dbt unit test `this` is the name of the fixture,
    a string.) A stored row built with other code makes the whole run a rebuild (rows_of_other_code). -#}
{%- set reference_fingerprint = code_fingerprint() -%}
{%- set incremental = is_incremental() and (this is string
    or 'change_key' in (adapter.get_columns_in_relation(this) | map(attribute='name') | list)) -%}
{%- if execute and incremental and this is not string
      and rows_of_other_code(this, 'reference_fingerprint', reference_fingerprint) -%}
    {%- set incremental = false -%}
{%- endif -%}
with

residents as (
    select * from {{ ref('stg_police__residents') }}
),

floating as (
    select * from {{ ref('stg_police__floating_residents') }}
),

key_persons as (
    select * from {{ ref('stg_police__key_persons') }}
),

smd_patients as (
    select * from {{ ref('stg_health__smd_patients') }}
),

deaths as (
    select * from {{ ref('stg_health__death_certificates') }}
),

corrections as (
    select * from {{ ref('stg_justice__corrections') }}
),

resettlement as (
    select * from {{ ref('stg_justice__resettlement') }}
),

petitions as (
    select * from {{ ref('stg_petition__petitions') }}
),

subsistence_allowance as (
    select * from {{ ref('stg_civil__subsistence_allowance') }}
),

extreme_poverty as (
    select * from {{ ref('stg_civil__extreme_poverty') }}
),

disabled as (
    select * from {{ ref('stg_civil__disabled') }}
),

left_behind as (
    select * from {{ ref('stg_civil__left_behind') }}
),

unioned as (
    select {{ person_record_origin('stg_police__residents') }}, source_record_id, id_number_raw, id_number, id_status,
           person_name, sex, birth_date, current_address as address, 'registered' as residence_type,
           person_status = 'deceased' as is_deceased, source_updated_at, {{ person_record_change_key('s', 'stg_police__residents') }} as change_key, s.batch_id
    from residents as s
    {{ unless_built('stg_police__residents', incremental) }}
    union all
    select {{ person_record_origin('stg_police__floating_residents') }}, source_record_id, id_number_raw, id_number, id_status,
           person_name, sex, birth_date, current_address, 'floating', false, source_updated_at, {{ person_record_change_key('s', 'stg_police__floating_residents') }}, s.batch_id
    from floating as s
    {{ unless_built('stg_police__floating_residents', incremental) }}
    union all
    select {{ person_record_origin('stg_police__key_persons') }}, source_record_id, id_number_raw, id_number, id_status,
           person_name, null, null, null, 'unknown', false, source_updated_at, {{ person_record_change_key('s', 'stg_police__key_persons') }}, s.batch_id
    from key_persons as s
    {{ unless_built('stg_police__key_persons', incremental) }}
    union all
    select {{ person_record_origin('stg_health__smd_patients') }}, source_record_id, id_number_raw, id_number, id_status,
           person_name, sex, birth_date, address, 'unknown', management_status = 'deceased', source_updated_at, {{ person_record_change_key('s', 'stg_health__smd_patients') }}, s.batch_id
    from smd_patients as s
    {{ unless_built('stg_health__smd_patients', incremental) }}
    union all
    select {{ person_record_origin('stg_health__death_certificates') }}, source_record_id, id_number_raw, id_number, id_status,
           person_name, null, null, address, 'unknown', true, source_updated_at, {{ person_record_change_key('s', 'stg_health__death_certificates') }}, s.batch_id
    from deaths as s
    {{ unless_built('stg_health__death_certificates', incremental) }}
    union all
    select {{ person_record_origin('stg_justice__corrections') }}, source_record_id, id_number_raw, id_number, id_status,
           person_name, sex, birth_date, residence_address, 'unknown', false, source_updated_at, {{ person_record_change_key('s', 'stg_justice__corrections') }}, s.batch_id
    from corrections as s
    {{ unless_built('stg_justice__corrections', incremental) }}
    union all
    select {{ person_record_origin('stg_justice__resettlement') }}, source_record_id, id_number_raw, id_number, id_status,
           person_name, sex, birth_date, residence_address, 'unknown', false, source_updated_at, {{ person_record_change_key('s', 'stg_justice__resettlement') }}, s.batch_id
    from resettlement as s
    {{ unless_built('stg_justice__resettlement', incremental) }}
    union all
    -- the petitioner of each petition (object named after the export file stem, as the civil registers)
    select {{ person_record_origin('stg_petition__petitions') }}, source_record_id, id_number_raw, id_number, id_status,
           person_name, null, null, petitioner_address, 'unknown', false, source_updated_at, {{ person_record_change_key('s', 'stg_petition__petitions') }}, s.batch_id
    from petitions as s
    {{ unless_built('stg_petition__petitions', incremental) }}
    union all
    -- civil registers carry no update time: the drop date of the record's latest change stands in
    select {{ person_record_origin('stg_civil__subsistence_allowance') }}, source_record_id, id_number_raw, id_number, id_status,
           person_name, sex, birth_date, address, 'unknown', false, last_change_on::timestamp at time zone 'Asia/Shanghai', {{ person_record_change_key('s', 'stg_civil__subsistence_allowance') }}, s.batch_id
    from subsistence_allowance as s
    {{ unless_built('stg_civil__subsistence_allowance', incremental) }}
    union all
    select {{ person_record_origin('stg_civil__extreme_poverty') }}, source_record_id, id_number_raw, id_number, id_status,
           person_name, sex, birth_date, address, 'unknown', false, last_change_on::timestamp at time zone 'Asia/Shanghai', {{ person_record_change_key('s', 'stg_civil__extreme_poverty') }}, s.batch_id
    from extreme_poverty as s
    {{ unless_built('stg_civil__extreme_poverty', incremental) }}
    union all
    select {{ person_record_origin('stg_civil__disabled') }}, source_record_id, id_number_raw, id_number, id_status,
           person_name, sex, null, address, 'unknown', false, last_change_on::timestamp at time zone 'Asia/Shanghai', {{ person_record_change_key('s', 'stg_civil__disabled') }}, s.batch_id
    from disabled as s
    {{ unless_built('stg_civil__disabled', incremental) }}
    union all
    select {{ person_record_origin('stg_civil__left_behind') }}, source_record_id, id_number_raw, id_number, id_status,
           person_name, null, null, address, 'unknown', false, last_change_on::timestamp at time zone 'Asia/Shanghai', {{ person_record_change_key('s', 'stg_civil__left_behind') }}, s.batch_id
    from left_behind as s
    {{ unless_built('stg_civil__left_behind', incremental) }}
),

final as (
    select
        u.*,
        -- the birth date and sex encoded in a usable ID number complete what a department left empty (a usable
        -- number has a real date from 1900 on; one after tomorrow identifies the person but tells no birth date)
        case when id_status in ('valid', 'repaired') and util.hub_date8(substr(id_number, 7, 8)) <= current_date + 1
             then util.hub_date8(substr(id_number, 7, 8)) end as id_birth_date,
        case when id_status in ('valid', 'repaired')
             then case when substr(id_number, 17, 1)::int % 2 = 1 then 'M' else 'F' end end as id_sex,
        '{{ reference_fingerprint }}'::text as reference_fingerprint
    from unioned as u
)

select * from final
