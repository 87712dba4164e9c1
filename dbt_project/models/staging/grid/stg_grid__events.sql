with

source as (
    {{ latest_version(source('grid', 'grid__grid_event'), 'updated_at::timestamptz') }}
),

final as (
    select
        event_id as source_record_id,
        trim(grid_code) as reported_grid_code,
        reporter_staff_id,
        category_code,
        reported_at::timestamptz as reported_at,
        lon::double precision as lon,
        lat::double precision as lat,
        status as source_status,
        case when status = '办结' then 'closed' else 'open' end as status,
        escalation_level,
        assigned_dept,
        closed_at::timestamptz as closed_at,
        updated_at::timestamptz as source_updated_at,
        _batch_id as batch_id
    from source
)

select * from final
