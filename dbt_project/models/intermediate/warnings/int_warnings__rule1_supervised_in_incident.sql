-- Rule 1 (one row per supervised person x police incident): a person under community correction or in
-- resettlement (帮教) who appears in a police incident while supervised. The signal stays open for the
-- review window (7 days) in which the supervising judicial office must report; no department reports the
-- review itself, so the window end is the resolution.
with

tags as (
    select * from {{ ref('bridge_resident_tag') }}
    where tag_code in ('community_correction', 'released_prisoner')
),

events as (
    select * from {{ ref('fct_event') }}
    where source = 'police'
),

people as (
    select * from {{ ref('bridge_event_resident') }}
),

clock as (
    select * from {{ ref('int_warnings__as_of') }}
),

hits as (
    select
        t.resident_key,
        t.tag_code,
        t.valid_from,
        e.event_key,
        e.event_type,
        e.occurred_at,
        coalesce(e.grid_key, t.grid_key) as grid_key,
        row_number() over (partition by t.resident_key, e.event_key order by t.tag_code) as rn
    from tags as t
    inner join people as p on p.resident_key = t.resident_key
    inner join events as e on e.event_key = p.event_key
    cross join clock as c
    where e.occurred_at::date >= t.valid_from
      and (t.valid_to is null or e.occurred_at::date <= t.valid_to)
      and e.occurred_at <= c.as_of
),

final as (
    select
        'rule1|' || h.resident_key || '|' || h.event_key as warning_id,
        'supervised_person_in_incident' as rule,
        h.resident_key,
        h.grid_key,
        jsonb_build_object(
            'justice', case h.tag_code when 'community_correction' then '社区矫正对象' else '刑满释放安置帮教对象' end
                       || ' since ' || h.valid_from,
            'police', '110 incident ' || h.event_key || ' (' || h.event_type || ') at ' || h.occurred_at
        ) as signals,
        case h.tag_code when 'community_correction' then 'high' else 'medium' end as severity,
        'grid' as base_level,
        'justice,police' as responsible_departments,
        h.occurred_at as first_seen_at,
        least(h.occurred_at + interval '7 days', c.as_of) as last_seen_at,
        case when h.occurred_at + interval '7 days' <= c.as_of then h.occurred_at + interval '7 days' end as resolved_at
    from hits as h
    cross join clock as c
    where h.rn = 1
)

select * from final
