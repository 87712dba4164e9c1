{#
  Staging models materialised as incremental tables (the largest registers: a view re-derives every record for
  each of its readers — its data tests, the quality summaries, the person records — on every run, 330k police
  residents several times an hour). Such a model keeps one row per source record (unique_key source_record_id,
  or the column named by ``key``, which must be the raw _record_key: a single-column primary key) and its raw
  `batch_id`, and a run re-derives
  only the records whose current version (latest_version: the latest version not in an excluded batch) is not
  the stored one:

    with source as (
        {{ latest_version(raw, order_by) }}
        {{ changed_records_only(raw, order_by, state) }}   -- state = incremental_staging_state(); a where clause
    ), ...

  The filter is on _record_key, latest_version's DISTINCT ON key, so PostgreSQL pushes it into the raw scan (an
  index lookup per changed record) and derives nothing else. A record whose stored version's batch is held
  after the build gets its previous version back the same way (its current version's batch differs); one with
  no version left (held, or its raw rows deleted) is deleted by the post-hook drop_vanished_staging_rows.
  Code: the stored rows carry the
  fingerprint of the code they were derived with (`code_fingerprint`: the model's and its parents' checksums,
  the macros, the util SQL functions, as int_person_records__unioned); a run with other code re-derives every
  record. `--full-refresh` does too; both give the same rows (tests/dbt_project/test_incremental_models.py).
#}
{% macro incremental_staging_state(also_depends_on=none) -%}
    {#- also_depends_on: a relation whose rows the derivation also reads, e.g. the county extent that decides which
        coordinates are dropped: when its rows change, every record is derived again. (Absent when the warehouse
        is not built, e.g. `dbt docs generate` on a new one: then it adds nothing.) -#}
    {%- set state = {'incremental': false, 'fingerprint': 'none'} -%}
    {#- in a dbt unit test `this` is none or the fixture's name (a string): the model is tested as a full build -#}
    {%- if execute and this is not none and this is not string -%}
        {%- set depends = also_depends_on is not none and adapter.get_relation(
                database=also_depends_on.database, schema=also_depends_on.schema,
                identifier=also_depends_on.identifier) is not none -%}
        {%- set installed = run_query("select " ~ util_function_definitions()
                                      ~ (", (select coalesce(string_agg(d::text, ',' order by d::text), '') from "
                                         ~ also_depends_on ~ " as d)" if depends else ", ''")) -%}
        {%- set checksums = [var('code_fingerprint', 'none')] + node_checksums() -%}
        {%- do state.update({'fingerprint': local_md5(checksums | join(',') ~ '|' ~ installed.columns[0].values()[0]
                                                      ~ '|' ~ installed.columns[1].values()[0])}) -%}
        {%- if is_incremental() and 'code_fingerprint' in (adapter.get_columns_in_relation(this) | map(attribute='name') | list) -%}
            {#- decided before the model's SQL runs: rows derived with other code make the run a full derivation -#}
            {%- set stale = run_query("select exists (select from " ~ this ~ " where code_fingerprint is distinct from '"
                                      ~ state.fingerprint ~ "')") -%}
            {%- do state.update({'incremental': not stale.columns[0].values()[0]}) -%}
        {%- endif -%}
    {%- endif -%}
    {{- return(state) -}}
{%- endmacro %}

{# The where clause of the model's `source` CTE: only records whose current version is not stored (nothing on a
   full derivation). EXCEPT over two plain columns: a set operation, whatever the planner estimates. #}
{% macro changed_records_only(relation, order_by, state, key='source_record_id') -%}
    {%- if state.incremental -%}
    where _record_key = any(array(
        select k._record_key
        from (
            select l._record_key, l._batch_id from ({{ latest_version(relation, order_by) }}) as l
            except
            select b.{{ key }}, b.batch_id from {{ this }} as b
        ) as k
    ))
    {%- endif -%}
{%- endmacro %}

{# Post-hook: delete the stored records with no version left in staging. A record leaves when every batch carrying
   it is excluded (held after the build), and also when its raw rows are deleted by hand (an erasure, a purge):
   raw is append-only for the hub, but the table must never keep what the view would no longer show. An anti-join
   over the current keys every run (≈0.5 s for 330k residents), not only when a stored batch is excluded. #}
{% macro drop_vanished_staging_rows(relation, order_by, key='source_record_id') -%}
    {%- if is_incremental() -%}
    delete from {{ this }} as s
    where not exists (
        select from ({{ latest_version(relation, order_by) }}) as l where l._record_key = s.{{ key }}
    )
    {%- endif -%}
{%- endmacro %}

{# Post-hook: fresh statistics for a table built whole (the merge of a day's records changes none that matter,
   and ANALYZE reads 0.3 s of a 330k-row table every run). #}
{% macro analyze_when_rebuilt() -%}
    {%- if not is_incremental() -%}
    analyze {{ this }}
    {%- endif -%}
{%- endmacro %}

{# The staging folder's post-hook: a view reads with its reader's privileges, never its owner's. #}
{% macro secure_staging_view() -%}
    {%- if config.get('materialized') == 'view' -%}
    alter view {{ this }} set (security_invoker = true)
    {%- endif -%}
{%- endmacro %}
