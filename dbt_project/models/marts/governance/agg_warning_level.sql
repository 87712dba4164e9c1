-- One row per warning level x division x day x rule (last 90 days up to the as-of day, days with activity):
-- the queue each of the four levels sees. A warning counts at the level it had reached by the end of that day.
with

warnings as (
    select * from {{ ref('risk_warning') }}
),

grids as (
    select * from {{ ref('dim_grid') }}
),

divisions as (
    select * from {{ ref('dim_division') }}
),

clock as (
    select * from {{ ref('int_warnings__as_of') }}
),

days as (
    select d::date as day, (d::date + 1)::timestamp at time zone 'Asia/Shanghai' as day_end
    from clock as c
    cross join generate_series((c.as_of at time zone 'Asia/Shanghai')::date - 89,
                               (c.as_of at time zone 'Asia/Shanghai')::date, interval '1 day') as d
),

county as (
    select division_code as county_code from divisions where level = 1
),

daily as (
    select
        d.day,
        w.rule,
        w.grid_key,
        w.village_code,
        w.township_code,
        {{ escalated_level('w.base_level', hours_between('w.first_seen_at', 'least(d.day_end, coalesce(w.resolved_at, d.day_end))')) }}
            as level,
        w.first_seen_at < d.day_end and (w.resolved_at is null or w.resolved_at >= d.day_end) as is_open,
        (w.first_seen_at at time zone 'Asia/Shanghai')::date = d.day as is_new,
        (w.resolved_at at time zone 'Asia/Shanghai')::date = d.day as is_resolved
    from warnings as w
    inner join days as d
        on w.first_seen_at < d.day_end
       and (w.resolved_at is null or w.resolved_at >= d.day_end - interval '1 day')
),

final as (
    select
        dl.level::text as level,
        (case dl.level
            when 'grid' then g.grid_code
            when 'village' then dl.village_code
            when 'township' then dl.township_code
            else c.county_code
        end)::text as division_code,
        dl.day::date as day,
        dl.rule::text as rule,
        count(*) filter (where dl.is_open)::int as open_warnings,
        count(*) filter (where dl.is_new)::int as new_warnings,
        count(*) filter (where dl.is_resolved)::int as resolved_warnings
    from daily as dl
    cross join county as c
    left join grids as g on g.grid_key = dl.grid_key
    group by 1, 2, 3, 4
)

select * from final
