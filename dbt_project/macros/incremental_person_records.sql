{#
  The staging models int_person_records__unioned reads, once: the model's branches (person_record_origin,
  unless_built, person_record_change_key) and the post-hook drop_vanished_person_records all take them from here.
  ``civil``: a civil-affairs register (daily snapshots), whose records change listing without a new version.
#}
{% macro person_record_sources() -%}
    {{- return({
        'stg_police__residents': {'source': 'police', 'object': 'RK_CZRK'},
        'stg_police__floating_residents': {'source': 'police', 'object': 'RK_LDRK'},
        'stg_police__key_persons': {'source': 'police', 'object': 'ZDRY'},
        'stg_health__smd_patients': {'source': 'health', 'object': 'smd_patient'},
        'stg_health__death_certificates': {'source': 'health', 'object': 'death_cert'},
        'stg_justice__corrections': {'source': 'justice', 'object': 'corrections'},
        'stg_justice__resettlement': {'source': 'justice', 'object': 'resettlement'},
        'stg_petition__petitions': {'source': 'petition', 'object': 'xinfang'},
        'stg_civil__subsistence_allowance': {'source': 'civil', 'object': '低保对象', 'civil': true},
        'stg_civil__extreme_poverty': {'source': 'civil', 'object': '特困人员', 'civil': true},
        'stg_civil__disabled': {'source': 'civil', 'object': '残疾人', 'civil': true},
        'stg_civil__left_behind': {'source': 'civil', 'object': '留守人员', 'civil': true},
    }) -}}
{%- endmacro %}

{# The (source, source_object) columns of a branch. #}
{% macro person_record_origin(staging_model) -%}
    {%- set o = person_record_sources()[staging_model] -%}
    '{{ o.source }}' as source, '{{ o.object }}' as source_object
{%- endmacro %}

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
{% macro unless_built(staging_model, incremental) -%}
    {%- if incremental -%}
    {%- set o = person_record_sources()[staging_model] -%}
    where s.source_record_id = any(array(
        select k.source_record_id
        from (
            select c.source_record_id, {{ person_record_change_key('c', staging_model) }} from {{ ref(staging_model) }} as c
            except
            select b.source_record_id, b.change_key from {{ this }} as b
            where b.source = '{{ o.source }}' and b.source_object = '{{ o.object }}'
        ) as k
    ))
    {%- endif -%}
{%- endmacro %}

{# change_key of a record of ``staging_model`` (alias ``alias``): its current version's batch; a civil register's
   record also changes with the drop of its latest listing change (listed, suspended, ended), same version. #}
{% macro person_record_change_key(alias, staging_model) -%}
    {%- if person_record_sources()[staging_model].get('civil') -%}
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
  The staging models are person_record_sources(), as in the model's branches.
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
            {%- for model, o in person_record_sources().items() %}
            {% if not loop.first %}union all {% endif %}select '{{ o.source }}' as source, '{{ o.object }}' as source_object, source_record_id from {{ ref(model) }}
            {%- endfor %}
        ) as s
        where s.source = p.source and s.source_object = p.source_object and s.source_record_id = p.source_record_id
    )
    {%- endif -%}
    {%- endif -%}
{%- endmacro %}
