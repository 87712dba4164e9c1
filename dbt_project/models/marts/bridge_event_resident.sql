with

incidents as (
    select * from {{ ref('stg_police__incidents') }}
),

xref as (
    select distinct id_number, resident_key
    from {{ ref('int_residents__resolved') }}
    where id_number is not null
),

roles as (
    select source_record_id, caller_id_number as id_number, 'caller' as role
    from incidents
    where caller_id_number is not null
    union
    select source_record_id, util.hub_id_clean(trim(p)), 'party'
    from incidents
    cross join lateral unnest(string_to_array(involved_id_numbers_raw, ',')) as p
    where involved_id_numbers_raw is not null
),

final as (
    select distinct
        ('E' || left(md5('police|JQ_JJXX|' || r.source_record_id), 20))::text as event_key,
        x.resident_key::text as resident_key,
        r.role::text as role
    from roles as r
    inner join xref as x on x.id_number = r.id_number
)

select * from final
