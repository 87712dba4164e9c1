-- Rule 5 (one row per person): a person listed as a special population by more than one department, where
-- the departments place them in different grids (who is responsible for the visit?). The signal holds while
-- two such listings overlap in time.
with

tags as (
    select * from {{ ref('bridge_resident_tag') }}
    where grid_key is not null
),

clock as (
    select * from {{ ref('int_warnings__as_of') }}
),

conflicts as (
    select
        a.resident_key,
        a.source as source_a,
        a.tag_code as tag_a,
        a.grid_key as grid_a,
        b.source as source_b,
        b.tag_code as tag_b,
        b.grid_key as grid_b,
        greatest(a.valid_from, b.valid_from) as conflict_from,
        least(coalesce(a.valid_to, 'infinity'::date), coalesce(b.valid_to, 'infinity'::date)) as conflict_to
    from tags as a
    inner join tags as b
        on b.resident_key = a.resident_key and a.source < b.source and a.grid_key <> b.grid_key
    where greatest(a.valid_from, b.valid_from)
        <= least(coalesce(a.valid_to, 'infinity'::date), coalesce(b.valid_to, 'infinity'::date))
),

episodes as (
    select
        resident_key,
        min(conflict_from) as conflict_from,
        max(conflict_to) as conflict_to,
        jsonb_object_agg(source_a, tag_a || ' in grid ' || grid_a)
            || jsonb_object_agg(source_b, tag_b || ' in grid ' || grid_b) as signals,
        array_agg(distinct source_a) || array_agg(distinct source_b) as departments,
        min(grid_a) as grid_key
    from conflicts
    group by 1
),

final as (
    select
        'rule5|' || e.resident_key as warning_id,
        'special_population_grid_conflict' as rule,
        e.resident_key,
        e.grid_key,
        e.signals,
        'low' as severity,
        'village' as base_level,
        array_to_string(array(select distinct d from unnest(e.departments) as d order by d), ',') as responsible_departments,
        e.conflict_from::timestamp at time zone 'Asia/Shanghai' as first_seen_at,
        least(coalesce(e.conflict_to::timestamp at time zone 'Asia/Shanghai', c.as_of), c.as_of) as last_seen_at,
        case when e.conflict_to < 'infinity'::date and e.conflict_to::timestamp at time zone 'Asia/Shanghai' <= c.as_of
             then e.conflict_to::timestamp at time zone 'Asia/Shanghai' end as resolved_at
    from episodes as e
    cross join clock as c
    where e.conflict_from::timestamp at time zone 'Asia/Shanghai' <= c.as_of
)

select * from final
