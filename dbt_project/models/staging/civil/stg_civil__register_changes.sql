with

subsistence_allowance as (
    select '低保对象' as register, c.*, v."状态" as source_status
    from ({{ civil_changes('civil__低保对象') }}) as c
    left join {{ source('civil', 'civil__低保对象') }} as v on v._record_key = c.record_key and v._row_hash = c.row_hash
),

extreme_poverty as (
    select '特困人员' as register, c.*, v."状态" as source_status
    from ({{ civil_changes('civil__特困人员') }}) as c
    left join {{ source('civil', 'civil__特困人员') }} as v on v._record_key = c.record_key and v._row_hash = c.row_hash
),

disabled as (
    select '残疾人' as register, c.*, null::text as source_status
    from ({{ civil_changes('civil__残疾人') }}) as c
),

left_behind as (
    select '留守人员' as register, c.*, null::text as source_status
    from ({{ civil_changes('civil__留守人员') }}) as c
),

unioned as (
    select * from subsistence_allowance
    union all
    select * from extreme_poverty
    union all
    select * from disabled
    union all
    select * from left_behind
),

final as (
    select
        register,
        record_key as source_record_id,
        change,
        drop_date,
        row_hash,
        -- 状态 of the version the change leads to (for `ended`: the last version listed)
        nullif(trim(source_status), '') as source_status,
        _batch_id as batch_id
    from unioned
)

select * from final
