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

{# The calendar months measured: var('measure_months') months up to the as-of month (clock: int_warnings__as_of). #}
{% macro measure_months_from(clock) -%}
    select m::date as month, (m + interval '1 month')::date as next_month,
           (m + interval '1 month')::timestamp at time zone 'Asia/Shanghai' as month_end
    from {{ clock }} as c
    cross join generate_series(
        date_trunc('month', (c.as_of at time zone 'Asia/Shanghai') - interval '{{ var("measure_months") - 1 }} months'),
        date_trunc('month', c.as_of at time zone 'Asia/Shanghai'), interval '1 month') as m
{%- endmacro %}

{# One count of distinct residents per special population, over tag rows aliased `t`. #}
{% macro special_population_counts(t) -%}
    {% for code in special_population_codes() %}
        count(distinct {{ t }}.resident_key) filter (where {{ t }}.tag_code = '{{ code }}')::int as {{ code }}{{ "," if not loop.last }}
    {% endfor %}
{%- endmacro %}

{#
  The published measure columns of agg_grid_month and agg_division_month, from event measures `e`,
  population counts `p` and overdue follow-ups `o`; `after_homicides` adds columns there (the division's rate).
#}
{% macro measure_columns(e, p, o, after_homicides='') -%}
        coalesce({{ e }}.events, 0)::int as events,
        coalesce({{ e }}.events_closed, 0)::int as events_closed,
        {{ safe_rate(e ~ '.events_closed', e ~ '.events') }} as close_rate,
        round({{ e }}.median_hours_to_close::numeric, 2)::numeric(12, 2) as median_hours_to_close,
        coalesce({{ e }}.petitions, 0)::int as petitions,
        coalesce({{ e }}.first_petitions, 0)::int as first_petitions,
        coalesce({{ e }}.first_petitions_closed, 0)::int as first_petitions_closed,
        coalesce({{ e }}.first_petitions_one_time_resolved, 0)::int as first_petitions_one_time_resolved,
        {{ safe_rate(e ~ '.first_petitions_one_time_resolved', e ~ '.first_petitions_closed') }} as first_petition_one_time_rate,
        coalesce({{ e }}.mediations, 0)::int as mediations,
        coalesce({{ e }}.mediations_concluded, 0)::int as mediations_concluded,
        coalesce({{ e }}.mediations_success, 0)::int as mediations_success,
        {{ safe_rate(e ~ '.mediations_success', e ~ '.mediations_concluded') }} as mediation_success_rate,
        coalesce({{ e }}.homicides, 0)::int as homicides,
        {{ after_homicides }}
        coalesce({{ e }}.smd_followups, 0)::int as smd_followups,
        {% for code in special_population_codes() %}
        coalesce({{ p }}.{{ code }}, 0)::int as {{ code }},
        {% endfor %}
        coalesce({{ o }}.smd_high_risk_overdue_followup, 0)::int as smd_high_risk_overdue_followup
{%- endmacro %}
