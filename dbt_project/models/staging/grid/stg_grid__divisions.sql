with

source as (
    {{ latest_version(source('grid', 'grid__admin_division'), 'updated_at::timestamptz') }}
),

final as (
    select
        trim(code) as division_code,
        name as division_name,
        level::int as division_level,
        kind as division_kind,
        nullif(trim(parent_code), '') as parent_code,
        updated_at::timestamptz as source_updated_at
    from source
)

select * from final
