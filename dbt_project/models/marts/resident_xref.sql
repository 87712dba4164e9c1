{{ config(schema='linkage', contract={'enforced': true}, grants={'select': ['hub_gate']}) }}

with

resolved as (
    select * from {{ ref('int_residents__resolved') }}
),

final as (
    select
        source::text as source,
        source_object::text as source_object,
        source_record_id::text as source_record_id,
        resident_key::text as resident_key,
        match_method::text as match_method,
        match_score::double precision as match_score
    from resolved
)

select * from final
