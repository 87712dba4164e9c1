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
