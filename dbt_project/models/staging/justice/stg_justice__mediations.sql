{%- set codes = [('disputeType', 'disputetype', 'justice_dispute_type'), ('outcome', 'outcome', 'justice_mediation_outcome')] -%}
{%- set accepted_at = clean_ts(parse_ts('acceptedat'), '_extracted_at') -%}
{%- set closed_at = clean_ts(parse_ts('closedat'), '_extracted_at') -%}
{%- set updated_at = clean_ts(parse_ts('updatedat'), '_extracted_at') -%}
with

source as (
    {{ latest_version(source('justice', 'justice__mediations'), "coalesce(util.hub_tstz(updatedat), '-infinity')") }}
),

final as (
    select
        caseid as source_record_id,
        {{ accepted_at }} as accepted_at,
        {{ map_code('disputetype', 'justice_dispute_type') }} as dispute_type,
        -- partyIdNumbers arrives as a JSON array (possibly empty or null): its elements as sent, in order; a
        -- malformed array gives no elements (and lists the field in invalid_fields)
        case
            when trim(partyidnumbers) like '[%'
                then array(select e from jsonb_array_elements_text(
                               case when jsonb_typeof(util.hub_jsonb(partyidnumbers)) = 'array'
                                    then util.hub_jsonb(partyidnumbers) else '[]'::jsonb end) as e
                           where e is not null)
            when nullif(trim(partyidnumbers), '') is not null
                then regexp_split_to_array(trim(partyidnumbers), '\s*[,，;；]\s*')
            else '{}'::text[]
        end as party_id_numbers_raw,
        nullif(trim(location), '') as location_text,
        nullif(trim(committee), '') as committee,
        {{ map_code('outcome', 'justice_mediation_outcome') }} as outcome,
        case when trim(outcome) in ('success', 'failed', 'transferred') or {{ closed_at }} is not null
             then 'closed' else 'open' end as status,
        {{ closed_at }} as closed_at,
        {{ updated_at }} as source_updated_at,
        {{ invalid_fields([('accepted_at', 'acceptedat', accepted_at), ('closed_at', 'closedat', closed_at),
                           ('source_updated_at', 'updatedat', updated_at),
                           ('party_id_numbers', "case when trim(partyidnumbers) like '[%' then partyidnumbers end",
                            "jsonb_typeof(util.hub_jsonb(partyidnumbers)) = 'array' or null")]) }} as invalid_fields,
        {{ unknown_codes(codes) }} as unknown_codes,
        _batch_id as batch_id
    from source
)

select * from final
