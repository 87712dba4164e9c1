-- One row per division (township/street, county) x calendar month (last var(measure_months) up to the as-of month): the
-- measures of agg_grid_month rolled up from events (so an event placed on a village but no grid still counts
-- for its township, and every event counts for the county), plus homicides per 100k residents per year
-- (the month's homicides annualised: x 12).
with

events as (
    select * from {{ ref('fct_event') }}
),

grids as (
    select * from {{ ref('dim_grid') }}
),

divisions as (
    select * from {{ ref('dim_division') }}
),

residents as (
    select * from {{ ref('dim_resident') }}
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

county as (
    select division_code as county_code from divisions where level = 1
),

division_list as (
    select division_code, 'township' as division_level from divisions where level = 2
    union all
    select county_code, 'county' from county
),

-- each row counted once for its township and once for the county
event_divisions as (
    select e.*, coalesce(g.township_code, v.parent_code) as division_code
    from events as e
    left join grids as g on g.grid_key = e.grid_key
    left join divisions as v on v.division_code = e.village_code and v.level = 3
    union all
    select e.*, c.county_code from events as e cross join county as c
),

event_months as (
    select
        e.division_code,
        date_trunc('month', e.occurred_at at time zone 'Asia/Shanghai')::date as month,
        {{ event_measures('e') }}
    from event_divisions as e
    where e.division_code is not null
    group by 1, 2
),

resident_divisions as (
    select g.township_code as division_code, count(*) as residents
    from residents as r
    inner join grids as g on g.grid_key = r.current_grid_key
    where not r.is_deceased
    group by 1
    union all
    select c.county_code, count(*) from residents as r cross join county as c where not r.is_deceased group by 1
),

tag_divisions as (
    select t.*, g.township_code as division_code
    from tags as t inner join grids as g on g.grid_key = t.grid_key
    union all
    select t.*, c.county_code from tags as t cross join county as c
),

population_months as (
    select
        t.division_code,
        m.month,
        {% for code in special_population_codes() %}
        count(distinct t.resident_key) filter (where t.tag_code = '{{ code }}')::int as {{ code }}{{ "," if not loop.last }}
        {% endfor %}
    from tag_divisions as t
    inner join months as m
        on t.valid_from < m.next_month and (t.valid_to is null or t.valid_to >= m.next_month - 1)
    group by 1, 2
),

overdue_divisions as (
    select o.*, g.township_code as division_code
    from overdue as o inner join grids as g on g.grid_key = o.grid_key
    union all
    select o.*, c.county_code from overdue as o cross join county as c
),

overdue_months as (
    select o.division_code, m.month,
           count(distinct coalesce(o.resident_key, o.warning_id))::int as smd_high_risk_overdue_followup
    from overdue_divisions as o
    inner join months as m
        on o.first_seen_at < m.month_end and (o.resolved_at is null or o.resolved_at >= m.month_end)
    group by 1, 2
),

final as (
    select
        d.division_code::text as division_code,
        d.division_level::text as division_level,
        m.month::date as month,
        coalesce(r.residents, 0)::int as residents,
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
        (case when r.residents > 0 then round(coalesce(e.homicides, 0) * 12 * 100000.0 / r.residents, 3) end)::numeric(12, 3)
            as homicides_per_100k,
        coalesce(e.smd_followups, 0)::int as smd_followups,
        {% for code in special_population_codes() %}
        coalesce(p.{{ code }}, 0)::int as {{ code }},
        {% endfor %}
        coalesce(o.smd_high_risk_overdue_followup, 0)::int as smd_high_risk_overdue_followup
    from division_list as d
    cross join months as m
    left join resident_divisions as r on r.division_code = d.division_code
    left join event_months as e on e.division_code = d.division_code and e.month = m.month
    left join population_months as p on p.division_code = d.division_code and p.month = m.month
    left join overdue_months as o on o.division_code = d.division_code and o.month = m.month
)

select * from final
