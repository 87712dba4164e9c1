-- Rule 3 (one row per person x mediation): a person with two or more petitions within 90 days who is also a
-- party to a mediation that is not concluded. The signal holds while both are true: from the later of the
-- second petition and the mediation's start, until 90 days after the earlier petition or the mediation's
-- conclusion, whichever comes first (a new petition extends it).
with

events as (
    select * from {{ ref('fct_event') }}
),

people as (
    select * from {{ ref('bridge_event_resident') }}
),

clock as (
    select * from {{ ref('int_warnings__as_of') }}
),

petitions as (
    select p.resident_key, e.event_key, e.occurred_at, e.grid_key
    from events as e
    inner join people as p on p.event_key = e.event_key and p.role = 'petitioner'
    where e.source = 'petition'
),

repeat_windows as (
    select resident_key, window_from, window_to
    from (
        select
            resident_key,
            occurred_at as window_from,
            lag(occurred_at) over w + interval '90 days' as window_to,
            occurred_at - lag(occurred_at) over w as since_previous
        from petitions
        window w as (partition by resident_key order by occurred_at)
    ) as pairs
    where since_previous <= interval '90 days'
),

mediations as (
    select p.resident_key, e.event_key, e.occurred_at as open_from, coalesce(e.closed_at, 'infinity') as open_to,
           e.grid_key, e.event_type
    from events as e
    inner join people as p on p.event_key = e.event_key and p.role = 'party'
    where e.source = 'mediation'
),

overlapping as (
    select
        m.resident_key,
        m.event_key as mediation_key,
        m.event_type,
        m.grid_key,
        greatest(w.window_from, m.open_from) as overlap_from,
        least(w.window_to, m.open_to) as overlap_to
    from repeat_windows as w
    inner join mediations as m on m.resident_key = w.resident_key
    where greatest(w.window_from, m.open_from) < least(w.window_to, m.open_to)
),

episodes as (
    select resident_key, mediation_key, min(event_type) as event_type, min(grid_key) as grid_key,
           min(overlap_from) as first_seen_at, max(overlap_to) as ends_at
    from overlapping
    group by 1, 2
),

petition_counts as (
    select e.resident_key, e.mediation_key, count(*) as petitions, min(p.grid_key) as petition_grid_key
    from episodes as e
    inner join petitions as p
        on p.resident_key = e.resident_key and p.occurred_at <= e.ends_at
       and p.occurred_at > e.first_seen_at - interval '90 days'
    group by 1, 2
),

final as (
    select
        'rule3|' || e.resident_key || '|' || e.mediation_key as warning_id,
        'repeat_petitioner_in_open_mediation' as rule,
        e.resident_key,
        coalesce(e.grid_key, n.petition_grid_key) as grid_key,
        jsonb_build_object(
            'petition', n.petitions || ' petitions within 90 days',
            'justice', 'party to unconcluded mediation ' || e.mediation_key || ' (' || e.event_type || ')'
        ) as signals,
        'medium' as severity,
        'village' as base_level,
        'petition,justice' as responsible_departments,
        e.first_seen_at,
        least(e.ends_at, c.as_of) as last_seen_at,
        case when e.ends_at <= c.as_of then e.ends_at end as resolved_at
    from episodes as e
    cross join clock as c
    left join petition_counts as n on n.resident_key = e.resident_key and n.mediation_key = e.mediation_key
    where e.first_seen_at <= c.as_of
)

select * from final
