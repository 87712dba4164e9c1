-- One row per civil register × record × listing period (a record listed, delisted and listed again has two):
-- from the drop that started listing it to the drop that no longer listed it, with the first 停保 drop.
with

changes as (
    select * from {{ ref('stg_civil__register_changes') }}
),

numbered as (
    select
        *,
        count(*) filter (where change = 'started') over (
            partition by register, source_record_id order by drop_date rows unbounded preceding
        ) as period_no
    from changes
),

with_last_active as (
    -- a member can be suspended (停保) and restored (在保): only the final run of 停保 ends the period
    select
        *,
        max(drop_date) filter (where change <> 'ended' and source_status = '在保') over (
            partition by register, source_record_id, period_no
        ) as last_active_on
    from numbered
),

periods as (
    select
        register,
        source_record_id,
        period_no,
        min(drop_date) filter (where change = 'started') as listed_on,
        min(drop_date) filter (
            where change <> 'ended' and source_status = '停保' and drop_date > coalesce(last_active_on, '-infinity')
        ) as suspended_on,
        min(drop_date) filter (where change = 'ended') as delisted_on,
        max(drop_date) as last_change_on
    from with_last_active
    where period_no > 0  -- change records before a record's first `started` cannot happen; ignored if they do
    group by 1, 2, 3
),

final as (
    select
        register,
        source_record_id,
        period_no,
        listed_on,
        suspended_on,
        delisted_on,
        last_change_on,
        period_no = max(period_no) over (partition by register, source_record_id) as is_latest_period
    from periods
)

select * from final
