{%- set codes = [('role', 'role', 'grid_staff_role')] -%}
with

source as (
    {{ latest_version(source('grid', 'grid__grid_staff'), "coalesce(util.hub_tstz(updated_at), '-infinity')") }}
),

final as (
    select
        staff_id,
        {{ map_code('role', 'grid_staff_role') }} as staff_role,
        trim(grid_code) as grid_code,
        {{ parse_bool('active') }} as is_active,
        {{ clean_ts(parse_ts('updated_at'), '_extracted_at') }} as source_updated_at,
        {{ invalid_fields([('source_updated_at', 'updated_at', clean_ts(parse_ts('updated_at'), '_extracted_at')), ('is_active', 'active', parse_bool('active'))]) }} as invalid_fields,
        {{ unknown_codes(codes) }} as unknown_codes
    from source
)

select * from final
