{#
  Post-hook of the incremental int_events__unioned: delete the stored events whose source record is no longer
  in staging. Raw keeps every version, so staging normally only grows; a record leaves it when the only batch
  carrying it is held after it was built (a failed feed's batches are invisible until released). Without this
  delete such an event would stay until the next --full-refresh, and the two paths would differ. Keep the list
  in step with the `events` CTE of the model (the full-refresh comparison in tests/test_pipeline_e2e.py
  catches a source missing here: its events would all be deleted).
#}
{% macro drop_vanished_events() -%}
    {%- if is_incremental() -%}
    delete from {{ this }} as e
    where not exists (
        select 1
        from (
            select 'police' as source, source_record_id from {{ ref('stg_police__incidents') }}
            union all select 'grid', source_record_id from {{ ref('stg_grid__events') }}
            union all select 'mediation', source_record_id from {{ ref('stg_justice__mediations') }}
            union all select 'petition', source_record_id from {{ ref('stg_petition__petitions') }}
            union all select 'health', source_record_id from {{ ref('stg_health__smd_followups') }}
        ) as s
        where s.source = e.source and s.source_record_id = e.source_record_id
    )
    {%- endif -%}
{%- endmacro %}
