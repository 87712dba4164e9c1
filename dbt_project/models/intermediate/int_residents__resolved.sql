-- One row per source person record with the resident it belongs to (the identity resolution).
-- A usable ID number (valid, or repaired by a documented rule) decides; records without one take the
-- probabilistic link computed by govhub.linkage (Splink) when its evidence was strong enough, else they
-- become a new person. Keys are derived from stable inputs, so they survive rebuilds.
with

records as (
    select * from {{ ref('int_person_records__unioned') }}
),

probabilistic as (
    select * from {{ source('linkage', 'probabilistic_links') }}
),

final as (
    select
        r.source,
        r.source_object,
        r.source_record_id,
        case
            when r.id_status in ('valid', 'repaired')
                then 'P' || left({{ keyed_id_hash('r.id_number') }}, 20)
            when p.linked_id_number is not null
                then 'P' || left({{ keyed_id_hash('p.linked_id_number') }}, 20)
            else 'N' || left(md5(r.source || '|' || r.source_object || '|' || r.source_record_id), 20)
        end as resident_key,
        case when r.id_status = 'valid' then 'id_exact'
             when r.id_status = 'repaired' then 'id_repaired'
             when p.linked_id_number is not null then 'probabilistic'
             else 'new' end as match_method,
        case when r.id_status in ('valid', 'repaired') then 1.0
             else coalesce(p.match_probability, 0.0) end::double precision as match_score,
        case when r.id_status in ('valid', 'repaired') then r.id_number else p.linked_id_number end as id_number,
        r.id_status
    from records as r
    left join probabilistic as p
        on p.source = r.source and p.source_object = r.source_object and p.source_record_id = r.source_record_id
)

select * from final
