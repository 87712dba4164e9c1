with

source as (
    {{ latest_version(source('grid', 'grid__grid_staff'), 'updated_at::timestamptz') }}
),

final as (
    select
        staff_id,
        role as staff_role,
        trim(grid_code) as grid_code,
        active::boolean as is_active,
        updated_at::timestamptz as source_updated_at
    from source
)

select * from final
