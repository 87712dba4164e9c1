with

events as (
    select * from {{ ref('int_events__unioned') }}
),

final as (
    select
        ('E' || left(md5(source || '|' || source_object || '|' || source_record_id), 20))::text as event_key,
        source::text as source,
        source_record_id::text as source_event_id,
        event_type::text as event_type,
        occurred_at::timestamptz as occurred_at,
        case when grid_code is not null then 'G' || grid_code end::text as grid_key,
        grid_assignment::text as grid_assignment,
        village_code::text as village_code,
        status::text as status,
        closed_at::timestamptz as closed_at,
        -- a department's closing time before its own reporting time is not a duration: null (the times stay as sent)
        case when closed_at >= occurred_at
             then round((extract(epoch from closed_at - occurred_at) / 3600.0)::numeric, 2) end::numeric(12, 2)
            as hours_to_close,
        is_first_petition::boolean as is_first_petition,
        one_time_resolved::boolean as one_time_resolved,
        outcome::text as outcome,
        headcount::int as headcount,
        escalation_level::text as escalation
    from events
)

select * from final
