{#
  The county report's measures over fct_event rows (one place for the definitions used by agg_grid_month and
  agg_division_month):
  - events: cases from police, grid, mediation and petition (health follow-ups are visits, counted apart);
  - close rate (事件办结率) = events closed / events;
  - first-petition one-time resolution (初信初访一次性办结率) = first petitions resolved in one pass / first
    petitions closed;
  - mediation success = successful / concluded mediations.
#}
{% macro event_measures(e) -%}
        count(*) filter (where {{ e }}.source in ('police', 'grid', 'mediation', 'petition'))::int as events,
        count(*) filter (where {{ e }}.source in ('police', 'grid', 'mediation', 'petition')
                         and {{ e }}.status = 'closed')::int as events_closed,
        percentile_cont(0.5) within group (order by {{ e }}.hours_to_close)
            filter (where {{ e }}.source in ('police', 'grid', 'mediation', 'petition') and {{ e }}.hours_to_close >= 0)
            as median_hours_to_close,
        count(*) filter (where {{ e }}.source = 'petition')::int as petitions,
        count(*) filter (where {{ e }}.source = 'petition' and {{ e }}.is_first_petition)::int as first_petitions,
        count(*) filter (where {{ e }}.source = 'petition' and {{ e }}.is_first_petition
                         and {{ e }}.status = 'closed')::int as first_petitions_closed,
        count(*) filter (where {{ e }}.source = 'petition' and {{ e }}.is_first_petition and {{ e }}.status = 'closed'
                         and {{ e }}.one_time_resolved)::int as first_petitions_one_time_resolved,
        count(*) filter (where {{ e }}.source = 'mediation')::int as mediations,
        count(*) filter (where {{ e }}.source = 'mediation'
                         and {{ e }}.outcome in ('success', 'failed', 'transferred'))::int as mediations_concluded,
        count(*) filter (where {{ e }}.source = 'mediation' and {{ e }}.outcome = 'success')::int as mediations_success,
        count(*) filter (where {{ e }}.event_type = 'homicide')::int as homicides,
        count(*) filter (where {{ e }}.source = 'health')::int as smd_followups
{%- endmacro %}

{% macro safe_rate(numerator, denominator) -%}
    (case when {{ denominator }} > 0 then round({{ numerator }}::numeric / {{ denominator }}, 4) end)::numeric(6, 4)
{%- endmacro %}


{% macro special_population_codes() -%}
    {{ return(['community_correction', 'released_prisoner', 'smd_patient', 'drug_rehab', 'key_person',
               'subsistence_allowance', 'extreme_poverty', 'disabled', 'left_behind']) }}
{%- endmacro %}
