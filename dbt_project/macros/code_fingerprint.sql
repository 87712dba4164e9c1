{#
  What an incremental model's reference_fingerprint is made of (int_addresses__matched, int_events__unioned,
  int_person_records__unioned): a changed part rebuilds every row of the model on the next run.

  node_checksums()             dbt's checksum of the model's own SQL and of each parent (staging views, seeds):
                               a deploy that changes how rows are derived. Empty at parse time.
  util_function_definitions()  a scalar SQL expression: the definitions of the util SQL functions as installed
                               (macros/udfs.sql and friends, created by on-run-start), '' when there are none.
#}
{% macro node_checksums() -%}
    {%- set checksums = [] -%}
    {%- if execute -%}
        {%- for node_id in [model.unique_id] + (model.depends_on.nodes | sort) -%}
            {%- do checksums.append(graph.nodes[node_id].checksum.checksum if node_id in graph.nodes else node_id) -%}
        {%- endfor -%}
    {%- endif -%}
    {{- return(checksums) -}}
{%- endmacro %}

{% macro util_function_definitions() -%}
    (select coalesce(string_agg(pg_get_functiondef(p.oid), '|' order by p.oid::regprocedure::text), '')
     from pg_proc as p
     where p.pronamespace = to_regnamespace('util') and p.prokind = 'f')
{%- endmacro %}

{# The fingerprint of the code an incremental model's rows are derived with, computed before its SQL runs: the
   `code_fingerprint` var (govhub.transform: a digest of dbt_project/macros), node_checksums(), the util SQL
   functions as installed, and the rows of ``also_depends_on`` (a relation, or none; absent when the warehouse is
   not built yet, e.g. `dbt docs generate` on a new one: then it adds nothing). 'none' at parse time. #}
{% macro code_fingerprint(also_depends_on=none) -%}
    {%- if not execute -%}
        {{- return('none') -}}
    {%- endif -%}
    {%- set depends = also_depends_on is not none and adapter.get_relation(
            database=also_depends_on.database, schema=also_depends_on.schema,
            identifier=also_depends_on.identifier) is not none -%}
    {%- set installed = run_query("select " ~ util_function_definitions()
                                  ~ (", (select coalesce(string_agg(d::text, ',' order by d::text), '') from "
                                     ~ also_depends_on ~ " as d)" if depends else ", ''")) -%}
    {%- set checksums = [var('code_fingerprint', 'none')] + node_checksums() -%}
    {{- return(local_md5(checksums | join(',') ~ '|' ~ installed.columns[0].values()[0]
                         ~ '|' ~ installed.columns[1].values()[0])) -}}
{%- endmacro %}

{# Whether ``relation`` holds a row whose ``column`` is not ``fingerprint``: rows derived with other code. Asked before
   the model's SQL runs, so such a run derives every row: compared per record inside the query, a fingerprint the
   table's statistics have never seen is estimated to match one row (nested-loop anti-joins, minutes at county
   scale). #}
{% macro rows_of_other_code(relation, column, fingerprint) -%}
    {%- set found = run_query("select exists (select from " ~ relation ~ " where " ~ column
                              ~ " is distinct from '" ~ fingerprint ~ "')") -%}
    {{- return(found.columns[0].values()[0]) -}}
{%- endmacro %}
