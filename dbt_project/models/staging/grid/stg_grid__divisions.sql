{%- set codes = [('kind', 'kind', 'grid_division_kind')] -%}
{%- set level = "case when util.hub_int(level) between 1 and 3 then util.hub_int(level) end" -%}
with

source as (
    {{ latest_version(source('grid', 'grid__admin_division'), "coalesce(util.hub_tstz(updated_at), '-infinity')") }}
),

final as (
    -- one row per division code as the hub normalises it (trimmed): the latest update wins should two records of
    -- the platform trim to the same code
    select distinct on (trim(code))
        trim(code) as division_code,
        name as division_name,
        {{ level }} as division_level,
        {{ map_code('kind', 'grid_division_kind') }} as division_kind,
        nullif(trim(parent_code), '') as parent_code,
        {{ clean_ts(parse_ts('updated_at'), '_extracted_at') }} as source_updated_at,
        {{ invalid_fields([('source_updated_at', 'updated_at', clean_ts(parse_ts('updated_at'), '_extracted_at')), ('division_level', 'level', level)]) }} as invalid_fields,
        {{ unknown_codes(codes) }} as unknown_codes
    from source
    order by trim(code), util.hub_tstz(updated_at) desc nulls last, _extracted_at desc
)

select * from final
