-- Rule 4 (one row per petition; a place-level signal, no person): a group petition (headcount >= 5) or an
-- escalated one (越级 / 赴省 / 进京) from a grid where a dispute event (110, grid or mediation) is open at the
-- time the petition is received. The signal ends when the petition is closed or every such dispute is.
with

events as (
    select * from {{ ref('fct_event') }}
),

clock as (
    select * from {{ ref('int_warnings__as_of') }}
),

mass_petitions as (
    select *
    from events
    where source = 'petition'
      and grid_key is not null
      and (headcount >= 5 or escalation in ('越级', '赴省', '进京'))
),

disputes as (
    select *
    from events
    where source in ('police', 'grid', 'mediation') and event_type like 'dispute%'
),

matched as (
    select
        p.event_key,
        p.grid_key,
        p.occurred_at,
        p.closed_at,
        p.headcount,
        p.escalation,
        count(*) as open_disputes,
        string_agg(distinct d.source, ',' order by d.source) as dispute_sources,
        case when bool_and(d.closed_at is not null) then max(d.closed_at) end as disputes_closed_at
    from mass_petitions as p
    inner join disputes as d
        on d.grid_key = p.grid_key
       and d.occurred_at <= p.occurred_at
       and (d.closed_at is null or d.closed_at > p.occurred_at)
    group by 1, 2, 3, 4, 5, 6
),

final as (
    select
        'rule4|' || m.event_key as warning_id,
        'mass_petition_in_dispute_grid' as rule,
        null::text as resident_key,
        m.grid_key,
        jsonb_build_object(
            'petition', case when m.headcount >= 5 then 'group petition of ' || m.headcount || ' people'
                             else 'escalated petition (' || m.escalation || ')' end || ' ' || m.event_key,
            'disputes', m.open_disputes || ' open dispute event(s) in the grid from ' || m.dispute_sources
        ) as signals,
        case when m.escalation in ('赴省', '进京') or m.headcount >= 5 then 'high' else 'medium' end as severity,
        'township' as base_level,
        'petition,grid,justice' as responsible_departments,
        m.occurred_at as first_seen_at,
        least(coalesce(least(m.closed_at, m.disputes_closed_at), c.as_of), c.as_of) as last_seen_at,
        case when least(m.closed_at, m.disputes_closed_at) <= c.as_of then least(m.closed_at, m.disputes_closed_at)
        end as resolved_at
    from matched as m
    cross join clock as c
    where m.occurred_at <= c.as_of
)

select * from final
