with

source as (
    {{ latest_version(source('justice', 'justice__mediations'), "coalesce(util.hub_ts(updatedat), '-infinity')") }}
),

final as (
    select
        caseid as source_record_id,
        {{ parse_ts('acceptedat') }} as accepted_at,
        nullif(trim(disputetype), '') as dispute_type,
        -- partyIdNumbers arrives as a JSON array (possibly empty or null): its elements as sent, in order
        case
            when trim(partyidnumbers) like '[%'
                then array(select e from jsonb_array_elements_text(partyidnumbers::jsonb) as e where e is not null)
            when nullif(trim(partyidnumbers), '') is not null
                then regexp_split_to_array(trim(partyidnumbers), '\s*[,，;；]\s*')
            else '{}'::text[]
        end as party_id_numbers_raw,
        nullif(trim(location), '') as location_text,
        nullif(trim(committee), '') as committee,
        nullif(trim(outcome), '') as outcome,
        case when trim(outcome) in ('success', 'failed', 'transferred') or {{ parse_ts('closedat') }} is not null
             then 'closed' else 'open' end as status,
        {{ parse_ts('closedat') }} as closed_at,
        {{ parse_ts('updatedat') }} as source_updated_at,
        _batch_id as batch_id
    from source
)

select * from final
