{#
  Staging models materialised as incremental tables (the largest registers: a view re-derives every record for
  each of its readers — its data tests, the quality summaries, the person records — on every run, 330k police
  residents several times an hour). Such a model keeps one row per raw record: `raw_record_key` (the raw
  table's _record_key, the registry's primary key as loaded, whatever its columns) is the merge key, so nothing
  here assumes the department's key is one column or equals the model's source_record_id. A run re-derives only
  the records whose current version (latest_version: the latest version not in an excluded batch) is not the
  stored one. A model declares itself once:

    {%- set staging = incremental_staging('police', 'police__rk_czrk', 'gxsj') %}
    with source as ({{ staging.changed_versions }}), final as (select ...,
        _record_key as raw_record_key, _batch_id as batch_id, '{{ staging.fingerprint }}'::text as code_fingerprint
        from source)

  incremental_staging() sets the model's config (merge on raw_record_key, the hooks below) and returns the
  `source` query: latest_version() filtered on _record_key, latest_version's DISTINCT ON key, so PostgreSQL
  pushes the filter into the raw scan (an index lookup per changed record) and derives nothing else. A record
  whose stored version's batch is held after the build gets its previous version back the same way (its
  current version's batch differs); one with no version left (held, or its raw rows deleted) is deleted by the
  post-hook drop_vanished_staging_rows.
  Code: the stored rows carry the fingerprint of the code they were derived with (`code_fingerprint`,
  code_fingerprint(): the model's and its parents' checksums, the macros, the util SQL functions, and the rows
  of `also_depends_on`, e.g. the county extent that decides which coordinates are dropped). A run with other
  code derives every record again: the pre-hook deletes the rows derived with other code first, so the merge
  never meets a row of another derivation. `--full-refresh` gives the same rows
  (tests/dbt_project/test_incremental_models.py).
#}
{% macro incremental_staging(source_name, table_name, order_by, also_depends_on=none) -%}
    {#- also_depends_on: the name of a model whose rows the derivation also reads (string: it is written into
        the hooks) -#}
    {%- set raw = source(source_name, table_name) -%}
    {%- set depends = ref(also_depends_on) if also_depends_on else none -%}
    {%- set depends_arg = ("ref('" ~ also_depends_on ~ "')") if also_depends_on else 'none' -%}
    {%- do config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='raw_record_key',
        on_schema_change='sync_all_columns',
        pre_hook=["{{ drop_rows_of_other_code(" ~ depends_arg ~ ") }}"],
        post_hook=["{{ drop_vanished_staging_rows(source('" ~ source_name ~ "', '" ~ table_name ~ "')) }}",
                   "{{ analyze_when_rebuilt() }}"],
    ) -%}
    {%- set state = incremental_staging_state(depends) -%}
    {%- set latest = latest_version(raw, order_by) -%}
    {%- if state.incremental -%}
        {%- set changed_versions -%}
    select * from ({{ latest }}) as latest
    where _record_key = any(array(
        select k._record_key
        from (
            select l._record_key, l._batch_id from ({{ latest }}) as l
            except
            select b.raw_record_key, b.batch_id from {{ this }} as b
        ) as k
    ))
        {%- endset -%}
    {%- else -%}
        {%- set changed_versions = 'select * from (' ~ latest ~ ') as latest' -%}
    {%- endif -%}
    {%- do state.update({'changed_versions': changed_versions}) -%}
    {{- return(state) -}}
{%- endmacro %}

{# The fingerprint of the code (and `also_depends_on` rows) the model's rows are derived with, and whether the run
   derives only what changed: an incremental run whose stored rows all carry this fingerprint. #}
{% macro incremental_staging_state(also_depends_on=none) -%}
    {%- set state = {'incremental': false, 'fingerprint': 'none'} -%}
    {#- in a dbt unit test `this` is none or the fixture's name (a string), and a ref() a fixture without a
        database: the model is tested as a full build, with no fingerprint -#}
    {%- if execute and this is not none and this is not string -%}
        {%- do state.update({'fingerprint': code_fingerprint(also_depends_on)}) -%}
    {%- endif -%}
    {%- if execute and this is not none and this is not string and is_incremental() -%}
        {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
        {%- if 'code_fingerprint' in columns and 'raw_record_key' in columns -%}
            {#- decided before the model's SQL runs: rows derived with other code make the run a full derivation -#}
            {%- do state.update({'incremental': not rows_of_other_code(this, 'code_fingerprint', state.fingerprint)}) -%}
        {%- endif -%}
    {%- endif -%}
    {{- return(state) -}}
{%- endmacro %}

{# Pre-hook: the rows derived with other code go before a full derivation merges its rows in (none on a day with
   the same code; all of them after a deploy, or when the table predates raw_record_key). #}
{% macro drop_rows_of_other_code(also_depends_on=none) -%}
    {%- if is_incremental() -%}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
    {%- if 'code_fingerprint' in columns and 'raw_record_key' in columns -%}
    delete from {{ this }} where code_fingerprint is distinct from '{{ code_fingerprint(also_depends_on) }}'
    {%- else -%}
    truncate {{ this }}
    {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{# Post-hook: delete the stored records with no version left in staging. A record leaves when every batch carrying
   it is excluded (held after the build), and also when its raw rows are deleted by hand (an erasure, a purge):
   raw is append-only for the hub, but the table must never keep what the view would no longer show. An anti-join
   over the stored keys every run (≈0.5 s for 330k residents), not only when a stored batch is excluded, because
   a deletion by hand leaves no trace the hub could read. #}
{% macro drop_vanished_staging_rows(relation) -%}
    {%- if is_incremental() -%}
    delete from {{ this }} as s
    where not exists (
        select from {{ relation }} as r
        where r._record_key = s.raw_record_key
          and r._batch_id not in (select h.batch_id from {{ source('ops', 'excluded_batch') }} as h)
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
