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
    {{ measure_months_from('clock') }}
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
        {{ special_population_counts('t') }}
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
        {{ measure_columns('e', 'p', 'o') }}
    from grids as g
    cross join months as m
    left join event_months as e on e.grid_key = g.grid_key and e.month = m.month
    left join population_months as p on p.grid_key = g.grid_key and p.month = m.month
    left join overdue_months as o on o.grid_key = g.grid_key and o.month = m.month
)

select * from final
