-- One row per source person record with the resident it belongs to (the identity resolution).
-- A usable ID number (valid, or repaired by a documented rule) decides unless govhub.linkage doubted it (the
-- record contradicts its number: someone else's number); records without one, and doubted ones, take the
-- probabilistic link computed by govhub.linkage (Splink) when its evidence was strong enough, else they
-- become a new person. Keys are derived from stable inputs, so they survive rebuilds.
with

records as (
    select * from {{ ref('int_person_records__unioned') }}
),

probabilistic as (
    select * from {{ source('linkage', 'probabilistic_links') }}
),

decided as (
    select
        r.*,
        r.id_status in ('valid', 'repaired') and not coalesce(p.id_doubted, false) as id_decides,
        p.linked_id_number,
        p.match_probability,
        coalesce(p.id_doubted, false) as id_doubted
    from records as r
    left join probabilistic as p
        on p.source = r.source and p.source_object = r.source_object and p.source_record_id = r.source_record_id
),

final as (
    select
        r.source,
        r.source_object,
        r.source_record_id,
        case
            when r.id_decides
                then 'P' || left({{ keyed_id_hash('r.id_number') }}, 20)
            when r.linked_id_number is not null
                then 'P' || left({{ keyed_id_hash('r.linked_id_number') }}, 20)
            else 'N' || left(md5(r.source || '|' || r.source_object || '|' || r.source_record_id), 20)
        end as resident_key,
        case when r.id_decides and r.id_status = 'valid' then 'id_exact'
             when r.id_decides then 'id_repaired'
             when r.linked_id_number is not null then 'probabilistic'
             when r.id_doubted then 'id_doubted'
             else 'new' end as match_method,
        case when r.id_decides then 1.0
             else coalesce(r.match_probability, 0.0) end::double precision as match_score,
        case when r.id_decides then r.id_number else r.linked_id_number end as id_number,
        r.id_status
    from decided as r
)

select * from final
