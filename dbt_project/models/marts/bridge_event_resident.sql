-- One row per event x person x role. People are found by their (repaired) ID number; a follow-up's subject
-- by the patient record's own resident link.
with

incidents as (
    select * from {{ ref('stg_police__incidents') }}
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

resolved as (
    select * from {{ ref('int_residents__resolved') }}
),

by_id_number as (
    select distinct id_number, resident_key
    from resolved
    where id_number is not null
),

roles as (
    select 'police|JQ_JJXX|' || source_record_id as event_ref, caller_id_number as id_number, 'caller' as role
    from incidents
    where caller_id_number is not null
    union
    select 'police|JQ_JJXX|' || source_record_id, util.hub_id_clean(trim(p)), 'party'
    from incidents
    cross join lateral unnest(string_to_array(involved_id_numbers_raw, ',')) as p
    where involved_id_numbers_raw is not null
    union
    select 'mediation|mediations|' || source_record_id, util.hub_id_clean(p), 'party'
    from mediations
    cross join lateral unnest(party_id_numbers_raw) as p
    union
    select 'petition|petition|' || source_record_id, id_number, 'petitioner'
    from petitions
    where id_number is not null
),

linked as (
    select r.event_ref, x.resident_key, r.role
    from roles as r
    inner join by_id_number as x on x.id_number = r.id_number
    union
    select 'health|smd_followup|' || f.source_record_id, p.resident_key, 'subject'
    from followups as f
    inner join resolved as p
        on p.source = 'health' and p.source_object = 'smd_patient' and p.source_record_id = f.patient_id
),

final as (
    select distinct
        ('E' || left(md5(event_ref), 20))::text as event_key,
        resident_key::text as resident_key,
        role::text as role
    from linked
)

select * from final
