-- One row per source event (110 incidents, grid events, mediations, petitions, SMD follow-ups), with its grid
-- assignment: coordinates (point in grid polygon) > address (reported grid or building registry) > village
-- only > unassigned. A petition is one event in its latest state (staging keeps the latest version).
with

incidents as (
    select * from {{ ref('stg_police__incidents') }}
),

grid_events as (
    select * from {{ ref('stg_grid__events') }}
),

mediations as (
    select * from {{ ref('stg_justice__mediations') }}
),

petitions as (
    select * from {{ ref('stg_petition__petitions') }}
),

followups as (
    select * from {{ ref('stg_health__smd_followups') }}
),

patients as (
    select * from {{ ref('stg_health__smd_patients') }}
),

grids as (
    select * from {{ ref('stg_grid__grids') }}
),

addresses as (
    select * from {{ ref('int_addresses__matched') }}
),

taxonomy as (
    select * from {{ ref('event_taxonomy') }}
),

events as (
    select 'police' as source, 'JQ_JJXX' as source_object, source_record_id, category_code, reported_at as occurred_at,
           lon, lat, location_text, null::text as reported_grid_code, status, closed_at, outcome,
           null::text as escalation_level, null::int as headcount, null::boolean as is_first_petition,
           null::boolean as one_time_resolved
    from incidents
    union all
    select 'grid', 'grid_event', source_record_id, category_code, reported_at, lon, lat, null, reported_grid_code,
           status, closed_at, source_status, escalation_level, null, null, null
    from grid_events
    union all
    select 'mediation', 'mediations', source_record_id, dispute_type, accepted_at, null, null, location_text, null,
           status, closed_at, outcome, null, null, null, null
    from mediations
    union all
    select 'petition', 'petition', source_record_id, category_code, received_at, null, null, petitioner_address, null,
           status, closed_at, source_status, escalation, headcount, is_first, one_time_resolved
    from petitions
    union all
    -- a follow-up is a completed visit: closed when it happens, located at the patient's address
    select 'health', 'smd_followup', f.source_record_id, f.followup_type, f.followup_date::timestamp at time zone 'Asia/Shanghai',
           null, null, p.address, null, 'closed', f.followup_date::timestamp at time zone 'Asia/Shanghai', f.followup_type,
           null, null, null, null
    from followups as f
    left join patients as p on p.source_record_id = f.patient_id
),

by_coordinates as (
    select e.source, e.source_object, e.source_record_id, min(g.grid_code) as grid_code
    from events as e
    inner join grids as g on g.retired_at is null and point(e.lon, e.lat) <@ g.boundary_polygon
    where e.lon is not null and e.lat is not null
    group by 1, 2, 3
),

final as (
    select
        e.source,
        e.source_object,
        e.source_record_id,
        coalesce(t.event_type, 'other') as event_type,
        e.occurred_at,
        coalesce(c.grid_code, e.reported_grid_code, a.grid_code) as grid_code,
        coalesce(c.grid_code, e.reported_grid_code, a.grid_code, left(a.village_code, 12)) is not null as has_location,
        coalesce(left(c.grid_code, 12), left(e.reported_grid_code, 12), a.village_code) as village_code,
        case when c.grid_code is not null then 'coordinates'
             when e.reported_grid_code is not null or a.grid_code is not null then 'address'
             when a.village_code is not null then 'village_only'
             else 'unassigned' end as grid_assignment,
        e.status,
        e.closed_at,
        e.outcome,
        e.category_code,
        e.escalation_level,
        e.headcount,
        e.is_first_petition,
        e.one_time_resolved
    from events as e
    left join by_coordinates as c
        on c.source = e.source and c.source_object = e.source_object and c.source_record_id = e.source_record_id
    left join addresses as a on a.address = e.location_text
    left join taxonomy as t on t.source = e.source and t.category_code = e.category_code
)

select * from final
