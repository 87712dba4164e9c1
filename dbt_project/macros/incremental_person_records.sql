{#
  A branch of the incremental int_person_records__unioned reads only the records not stored as they are now:
  no stored row for (source, source_object, source_record_id) with the record's current change_key (the batch of
  its current version; for a civil register also the drop of its latest listing change). ``incremental`` is
  false on a full build and when the stored rows were built with other code (the model compares
  reference_fingerprint first): then it renders nothing.
  Why this shape: the changed keys are found over the staging view's plain columns (``c``), then the branch reads
  the view (alias ``s``) for those keys only, so PostgreSQL evaluates the staging expressions (ID repair, dates,
  codes) for the changed records alone. An anti-join on the branch itself was evaluated after the view's whole
  projection (the view is not flattened there), and a filter over the union after every branch's. EXCEPT, not
  NOT EXISTS: the civil registers' listing logic is estimated at one row, and the anti-join became a nested loop
  over every stored record (minutes at county scale); a set operation hashes or sorts whatever the estimate.
#}
{% macro unless_built(source, source_object, staging_model, incremental, civil=false) -%}
    {%- if incremental -%}
    where s.source_record_id = any(array(
        select k.source_record_id
        from (
            select c.source_record_id, {{ person_record_change_key('c', civil) }} from {{ ref(staging_model) }} as c
            except
            select b.source_record_id, b.change_key from {{ this }} as b
            where b.source = '{{ source }}' and b.source_object = '{{ source_object }}'
        ) as k
    ))
    {%- endif -%}
{%- endmacro %}

{% macro person_record_change_key(alias, civil=false) -%}
    {%- if civil -%}
    {{ alias }}.batch_id || '@' || coalesce({{ alias }}.last_change_on::text, '')
    {%- else -%}
    {{ alias }}.batch_id
    {%- endif -%}
{%- endmacro %}

{#
  Post-hook of the incremental int_person_records__unioned: delete the stored records no longer in staging. A
  record leaves staging only when every batch carrying it is excluded (held after it was built; for a civil
  register, every drop that listed it), so the stored rows whose batch is now excluded are the only candidates:
  when there are none (nearly every run) the check over every staging key (5 s at county scale) is skipped.
  Keep the list in step with the model's branches: the full-refresh comparison in
  tests/dbt_project/test_incremental_models.py catches a branch missing here (its records would all be deleted).
#}
{% macro drop_vanished_person_records() -%}
    {%- if is_incremental() -%}
    {%- set candidates = run_query("select count(*) from " ~ this ~ " where batch_id in (select batch_id from "
                                   ~ source('ops', 'excluded_batch') ~ ")").columns[0].values()[0] -%}
    {%- if candidates > 0 -%}
    delete from {{ this }} as p
    where p.batch_id in (select h.batch_id from {{ source('ops', 'excluded_batch') }} as h)
      and not exists (
        select
        from (
            select 'police' as source, 'RK_CZRK' as source_object, source_record_id from {{ ref('stg_police__residents') }}
            union all select 'police', 'RK_LDRK', source_record_id from {{ ref('stg_police__floating_residents') }}
            union all select 'police', 'ZDRY', source_record_id from {{ ref('stg_police__key_persons') }}
            union all select 'health', 'smd_patient', source_record_id from {{ ref('stg_health__smd_patients') }}
            union all select 'health', 'death_cert', source_record_id from {{ ref('stg_health__death_certificates') }}
            union all select 'justice', 'corrections', source_record_id from {{ ref('stg_justice__corrections') }}
            union all select 'justice', 'resettlement', source_record_id from {{ ref('stg_justice__resettlement') }}
            union all select 'petition', 'xinfang', source_record_id from {{ ref('stg_petition__petitions') }}
            union all select 'civil', '低保对象', source_record_id from {{ ref('stg_civil__subsistence_allowance') }}
            union all select 'civil', '特困人员', source_record_id from {{ ref('stg_civil__extreme_poverty') }}
            union all select 'civil', '残疾人', source_record_id from {{ ref('stg_civil__disabled') }}
            union all select 'civil', '留守人员', source_record_id from {{ ref('stg_civil__left_behind') }}
        ) as s
        where s.source = p.source and s.source_object = p.source_object and s.source_record_id = p.source_record_id
    )
    {%- endif -%}
    {%- endif -%}
{%- endmacro %}
