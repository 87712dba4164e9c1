-- Resident keys that evidence merged or split (govhub.linkage writes linkage.resident_key_change on every run
-- that moves a person record to another resident). Keys only: no record ids, ID numbers or names.
with

changes as (
    select * from {{ source('linkage', 'resident_key_change') }}
),

final as (
    select
        run_id::text as run_id,
        max(changed_at)::timestamptz as changed_at,
        old_key::text as old_key,
        new_key::text as new_key,
        kind::text as kind,
        count(*)::int as records
    from changes
    group by run_id, old_key, new_key, kind
)

select * from final
