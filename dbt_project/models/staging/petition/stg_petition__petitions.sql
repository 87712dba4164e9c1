with

source as (
    -- every re-delivery of a changed petition is a new raw version: the latest updatedAt wins
    {{ latest_version(source('petition', 'petition__petition'), "coalesce(util.hub_ts(updatedat), '-infinity')") }}
),

final as (
    select
        id as source_record_id,
        nullif(trim(channel), '') as channel,
        {{ id_number_columns('petitioner_idnumber') }},
        {{ person_name('petitioner_name') }} as person_name,
        nullif(trim(petitioner_address), '') as petitioner_address,
        case when trim(util.hub_fw2hw(headcount)) ~ '^\d{1,6}$' then trim(util.hub_fw2hw(headcount))::int end as headcount,
        {{ parse_ts('receivedat') }} as received_at,
        nullif(trim(category), '') as category_code,
        nullif(trim(targetdept), '') as target_dept,
        {{ parse_bool('isfirst') }} as is_first,
        nullif(trim(escalation), '') as escalation,
        nullif(trim(status), '') as source_status,
        case when trim(status) in ('办结', '不予受理') then 'closed' else 'open' end as status,
        {{ parse_ts('closedat') }} as closed_at,
        {{ parse_bool('onetimeresolved') }} as one_time_resolved,
        nullif(trim(satisfaction), '') as satisfaction,
        {{ parse_ts('updatedat') }} as source_updated_at,
        _batch_id as batch_id
    from source
)

select * from final
