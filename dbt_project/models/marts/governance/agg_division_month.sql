-- One row per division (township/street, county) x calendar month (last var(measure_months) up to the as-of month): the
-- measures of agg_grid_month rolled up from events (so an event placed on a village but no grid still counts
-- for its township, and every event counts for the county), plus homicides per 100k residents per year
-- (the month's homicides annualised: x 12).
{#- 每十万人命案发案率: the month's homicides annualised (x 12) per 100,000 residents -#}
{%- set homicides_per_100k -%}
        (case when r.residents > 0 then round(coalesce(e.homicides, 0) * 12 * 100000.0 / r.residents, 3) end)::numeric(12, 3)
            as homicides_per_100k,
{%- endset %}

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
    {{ measure_months_from('clock') }}
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

-- a township's residents are its grids' (dim_grid.resident_count: one definition); the county also counts
-- living residents without a grid
resident_divisions as (
    select township_code as division_code, sum(resident_count) as residents
    from grids
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
        {{ special_population_counts('t') }}
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
        {{ measure_columns('e', 'p', 'o', after_homicides=homicides_per_100k) }}
    from division_list as d
    cross join months as m
    left join resident_divisions as r on r.division_code = d.division_code
    left join event_months as e on e.division_code = d.division_code and e.month = m.month
    left join population_months as p on p.division_code = d.division_code and p.month = m.month
    left join overdue_months as o on o.division_code = d.division_code and o.month = m.month
)

select * from final
