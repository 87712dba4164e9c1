-- Published: person labels (人员标签) by department and validity; no ID number or name.
with

tags as (
    select * from {{ ref('int_resident_tags') }}
),

final as (
    -- several records of one person asserting the same tag over the same period are one row; the grid is
    -- that of the department's most recently asserted address
    select distinct on (resident_key, tag_code, source, valid_from, valid_to)
        resident_key::text as resident_key,
        tag_code::text as tag_code,
        tag_name::text as tag_name,
        source::text as source,
        valid_from::date as valid_from,
        valid_to::date as valid_to,
        grid_key::text as grid_key
    from tags
    order by resident_key, tag_code, source, valid_from, valid_to, (grid_key is null), source_record_id desc
)

select * from final
