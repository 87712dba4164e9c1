with

source as (
    {{ latest_version(source('grid', 'grid__building'), 'updated_at::timestamptz') }}
),

final as (
    select
        building_id,
        std_address,
        util.hub_addr_key(std_address) as address_key,
        lon::double precision as lon,
        lat::double precision as lat,
        trim(grid_code) as grid_code,
        building_type,
        updated_at::timestamptz as source_updated_at
    from source
)

select * from final
