-- One row per grid x calendar month (every grid, every month of the last var(measure_months) up to the as-of month): the
-- county report's measures (macro event_measures), special populations listed at month end, and high-risk
-- patients whose follow-up was overdue at month end. `residents` is the grid's current resident count.
with

events as (
    select * from {{ ref('fct_event') }}
),

grids as (
    select * from {{ ref('dim_grid') }}
),

tags as (
    select * from {{ ref('bridge_resident_tag') }}
),

overdue as (
    select * from {{ ref('int_warnings__rule2_smd_overdue') }}
),

clock as (
    select * from {{ ref('int_warnings__as_of') }}
),

months as (
    select m::date as month, (m + interval '1 month')::date as next_month,
           (m + interval '1 month')::timestamp at time zone 'Asia/Shanghai' as month_end
    from clock as c
    cross join generate_series(date_trunc('month', (c.as_of at time zone 'Asia/Shanghai') - interval '{{ var("measure_months") - 1 }} months'),
                               date_trunc('month', c.as_of at time zone 'Asia/Shanghai'), interval '1 month') as m
),

event_months as (
    select
        e.grid_key,
        date_trunc('month', e.occurred_at at time zone 'Asia/Shanghai')::date as month,
        {{ event_measures('e') }}
    from events as e
    where e.grid_key is not null
    group by 1, 2
),

population_months as (
    select
        t.grid_key,
        m.month,
        {% for code in special_population_codes() %}
        count(distinct t.resident_key) filter (where t.tag_code = '{{ code }}')::int as {{ code }}{{ "," if not loop.last }}
        {% endfor %}
    from tags as t
    inner join months as m
        on t.valid_from < m.next_month and (t.valid_to is null or t.valid_to >= m.next_month - 1)
    where t.grid_key is not null
    group by 1, 2
),

overdue_months as (
    select o.grid_key, m.month, count(distinct coalesce(o.resident_key, o.warning_id))::int as smd_high_risk_overdue_followup
    from overdue as o
    inner join months as m
        on o.first_seen_at < m.month_end and (o.resolved_at is null or o.resolved_at >= m.month_end)
    where o.grid_key is not null
    group by 1, 2
),

final as (
    select
        g.grid_key::text as grid_key,
        m.month::date as month,
        coalesce(g.resident_count, 0)::int as residents,
        coalesce(e.events, 0)::int as events,
        coalesce(e.events_closed, 0)::int as events_closed,
        {{ safe_rate('e.events_closed', 'e.events') }} as close_rate,
        round(e.median_hours_to_close::numeric, 2)::numeric(12, 2) as median_hours_to_close,
        coalesce(e.petitions, 0)::int as petitions,
        coalesce(e.first_petitions, 0)::int as first_petitions,
        coalesce(e.first_petitions_closed, 0)::int as first_petitions_closed,
        coalesce(e.first_petitions_one_time_resolved, 0)::int as first_petitions_one_time_resolved,
        {{ safe_rate('e.first_petitions_one_time_resolved', 'e.first_petitions_closed') }} as first_petition_one_time_rate,
        coalesce(e.mediations, 0)::int as mediations,
        coalesce(e.mediations_concluded, 0)::int as mediations_concluded,
        coalesce(e.mediations_success, 0)::int as mediations_success,
        {{ safe_rate('e.mediations_success', 'e.mediations_concluded') }} as mediation_success_rate,
        coalesce(e.homicides, 0)::int as homicides,
        coalesce(e.smd_followups, 0)::int as smd_followups,
        {% for code in special_population_codes() %}
        coalesce(p.{{ code }}, 0)::int as {{ code }},
        {% endfor %}
        coalesce(o.smd_high_risk_overdue_followup, 0)::int as smd_high_risk_overdue_followup
    from grids as g
    cross join months as m
    left join event_months as e on e.grid_key = g.grid_key and e.month = m.month
    left join population_months as p on p.grid_key = g.grid_key and p.month = m.month
    left join overdue_months as o on o.grid_key = g.grid_key and o.month = m.month
)

select * from final
