-- One row per source record asserting a person tag (人员标签): resident, tag, department, validity, and the
-- grid of the address that department recorded. Code set and derivation rules: seed tag_code.
with

xref as (
    select * from {{ ref('int_residents__resolved') }}
),

addresses as (
    select * from {{ ref('int_addresses__matched') }}
),

corrections as (
    select * from {{ ref('stg_justice__corrections') }}
),

resettlement as (
    select * from {{ ref('stg_justice__resettlement') }}
),

smd_patients as (
    select * from {{ ref('stg_health__smd_patients') }}
),

smd_followups as (
    select patient_id, min(followup_date) as first_followup_date
    from {{ ref('stg_health__smd_followups') }}
    group by 1
),

key_persons as (
    select * from {{ ref('stg_police__key_persons') }}
),

police_residence as (
    -- police record no address on a ZDRY listing: its grid is that of the person's police residence record
    select distinct on (x.resident_key) x.resident_key, r.address
    from {{ ref('int_person_records__unioned') }} as r
    inner join xref as x
        on x.source = r.source and x.source_object = r.source_object and x.source_record_id = r.source_record_id
    where r.source = 'police' and r.source_object in ('RK_CZRK', 'RK_LDRK') and r.address is not null
    order by x.resident_key, (r.source_object = 'RK_CZRK') desc, r.source_updated_at desc
),

subsistence_allowance as (
    select * from {{ ref('stg_civil__subsistence_allowance') }}
),

extreme_poverty as (
    select * from {{ ref('stg_civil__extreme_poverty') }}
),

disabled as (
    select * from {{ ref('stg_civil__disabled') }}
),

left_behind as (
    select * from {{ ref('stg_civil__left_behind') }}
),

civil_periods as (
    select * from {{ ref('int_civil__listing_periods') }}
),

tag_codes as (
    select * from {{ ref('tag_code') }}
),

asserted as (
    select
        'community_correction' as tag_code, 'justice' as source, 'corrections' as source_object, source_record_id,
        start_date as valid_from,
        case status when 'active' then null
                    when 'ended' then coalesce(end_date, (source_updated_at at time zone 'Asia/Shanghai')::date)
                    else (source_updated_at at time zone 'Asia/Shanghai')::date end as valid_to,
        residence_address as address,
        (source_updated_at at time zone 'Asia/Shanghai')::date as seen_on
    from corrections
    union all
    select
        'released_prisoner', 'justice', 'resettlement', source_record_id,
        release_date,
        case when status in ('helping', 'lost_contact') then null
             else (source_updated_at at time zone 'Asia/Shanghai')::date end,
        residence_address,
        (source_updated_at at time zone 'Asia/Shanghai')::date
    from resettlement
    union all
    select
        'smd_patient', 'health', 'smd_patient', p.source_record_id,
        -- the register carries no diagnosis date: the first follow-up is the earliest evidence
        coalesce(f.first_followup_date, p.last_followup_date, (p.source_updated_at at time zone 'Asia/Shanghai')::date),
        case when p.management_status in ('deceased', 'moved_out')
             then (p.source_updated_at at time zone 'Asia/Shanghai')::date end,
        p.address,
        (p.source_updated_at at time zone 'Asia/Shanghai')::date
    from smd_patients as p
    left join smd_followups as f on f.patient_id = p.source_record_id
    union all
    select
        t.tag_code, 'police', 'ZDRY', k.source_record_id,
        k.listed_on,
        k.delisted_on,
        null,
        (k.source_updated_at at time zone 'Asia/Shanghai')::date
    from key_persons as k
    inner join (values ('01', 'key_person'), ('02', 'drug_rehab'), ('03', 'key_person'), ('04', 'key_person'),
                       ('04', 'smd_patient'), ('05', 'key_person')) as t (category_code, tag_code)
        on t.category_code = k.category_code
    union all
    -- civil registers: one row per listing period; the department's own start date opens the current period
    select
        'subsistence_allowance', 'civil', '低保对象', p.source_record_id,
        case when p.is_latest_period then coalesce(r.allowance_start_date, p.listed_on) else p.listed_on end,
        coalesce(p.suspended_on, p.delisted_on),
        r.address,
        p.last_change_on
    from civil_periods as p
    inner join subsistence_allowance as r on r.source_record_id = p.source_record_id
    where p.register = '低保对象'
    union all
    select
        'extreme_poverty', 'civil', '特困人员', p.source_record_id,
        case when p.is_latest_period then coalesce(r.recognised_on, p.listed_on) else p.listed_on end,
        coalesce(p.suspended_on, p.delisted_on),
        r.address,
        p.last_change_on
    from civil_periods as p
    inner join extreme_poverty as r on r.source_record_id = p.source_record_id
    where p.register = '特困人员'
    union all
    select 'disabled', 'civil', '残疾人', p.source_record_id, p.listed_on, p.delisted_on, r.address, p.last_change_on
    from civil_periods as p
    inner join disabled as r on r.source_record_id = p.source_record_id
    where p.register = '残疾人'
    union all
    select 'left_behind', 'civil', '留守人员', p.source_record_id, p.listed_on, p.delisted_on, r.address, p.last_change_on
    from civil_periods as p
    inner join left_behind as r on r.source_record_id = p.source_record_id
    where p.register = '留守人员'
),

final as (
    select
        x.resident_key,
        a.tag_code,
        c.tag_name,
        a.source,
        a.source_object,
        a.source_record_id,
        -- no start date sent: the department's last update (or drop) is the earliest evidence the hub has
        coalesce(a.valid_from, least(a.valid_to, a.seen_on), a.seen_on) as valid_from,
        -- an end before the start (clerk's dates) is read as ending the day it started
        case when a.valid_to is not null then greatest(a.valid_to, coalesce(a.valid_from, a.valid_to)) end as valid_to,
        a.valid_to is null as is_current,
        coalesce(a.address, pr.address) as address,
        case when m.grid_code is not null then 'G' || m.grid_code end as grid_key
    from asserted as a
    inner join xref as x
        on x.source = a.source and x.source_object = a.source_object and x.source_record_id = a.source_record_id
    inner join tag_codes as c on c.tag_code = a.tag_code
    left join police_residence as pr on a.source = 'police' and pr.resident_key = x.resident_key
    left join addresses as m on m.address = coalesce(a.address, pr.address)
)

select * from final
