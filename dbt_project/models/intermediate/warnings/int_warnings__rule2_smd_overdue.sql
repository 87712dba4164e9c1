-- Rule 2 (one row per overdue episode of a patient): a severe-mental-disorder patient at risk level 3 or
-- higher without a follow-up for more than 30 days. An episode starts 30 days after a follow-up that left
-- the patient at risk >= 3 and ends at the next follow-up (resolved), or is still open at the as-of time.
-- Patients who died or moved out are not followed up any more: their open episode ends at that record update.
with

patients as (
    select * from {{ ref('stg_health__smd_patients') }}
),

followups as (
    select * from {{ ref('stg_health__smd_followups') }}
),

resolved as (
    select * from {{ ref('int_residents__resolved') }}
    where source = 'health' and source_object = 'smd_patient'
),

addresses as (
    select * from {{ ref('int_addresses__matched') }}
),

clock as (
    select * from {{ ref('int_warnings__as_of') }}
),

visits as (
    select patient_id, followup_date, risk_level from followups
    union
    -- the patient record's last follow-up counts too (older follow-ups may predate the feed)
    select source_record_id, last_followup_date, risk_level from patients where last_followup_date is not null
),

sequenced as (
    select
        v.patient_id,
        v.followup_date,
        max(v.risk_level) as risk_level
    from visits as v
    group by 1, 2
),

gaps as (
    select
        patient_id,
        followup_date,
        risk_level,
        lead(followup_date) over (partition by patient_id order by followup_date) as next_followup_date
    from sequenced
),

episodes as (
    select
        g.patient_id,
        g.followup_date as last_followup_date,
        g.risk_level,
        (g.followup_date + 30)::timestamp at time zone 'Asia/Shanghai' as overdue_from,
        case
            when g.next_followup_date is not null then g.next_followup_date::timestamp at time zone 'Asia/Shanghai'
            when p.management_status in ('deceased', 'moved_out') then p.source_updated_at
        end as ended_at
    from gaps as g
    inner join patients as p on p.source_record_id = g.patient_id
    cross join clock as c
    where g.risk_level >= 3
      and (g.followup_date + 30)::timestamp at time zone 'Asia/Shanghai' < coalesce(
            g.next_followup_date::timestamp at time zone 'Asia/Shanghai', c.as_of)
),

final as (
    select
        'rule2|' || e.patient_id || '|' || e.last_followup_date as warning_id,
        'smd_followup_overdue' as rule,
        r.resident_key,
        case when a.grid_code is not null then 'G' || a.grid_code end as grid_key,
        jsonb_build_object(
            'health', 'risk level ' || e.risk_level || ', last follow-up ' || e.last_followup_date
                      || ', overdue since ' || (e.last_followup_date + 30)
        ) as signals,
        case when e.risk_level >= 4 then 'high' else 'medium' end as severity,
        'grid' as base_level,
        'health,police' as responsible_departments,
        e.overdue_from as first_seen_at,
        least(coalesce(e.ended_at, c.as_of), c.as_of) as last_seen_at,
        case when e.ended_at <= c.as_of then e.ended_at end as resolved_at
    from episodes as e
    cross join clock as c
    inner join patients as p on p.source_record_id = e.patient_id
    left join resolved as r on r.source_record_id = e.patient_id
    left join addresses as a on a.address = p.address
    where e.overdue_from <= c.as_of
      and (e.ended_at is null or e.ended_at > e.overdue_from)
)

select * from final
