{%- set codes = [('channel', 'channel', 'petition_channel'), ('category', 'category', 'petition_category'),
                 ('escalation', 'escalation', 'petition_escalation'), ('status', 'status', 'petition_status'),
                 ('satisfaction', 'satisfaction', 'petition_satisfaction')] -%}
{%- set headcount = "case when trim(util.hub_fw2hw(headcount)) ~ '^\\d{1,6}$' then trim(util.hub_fw2hw(headcount))::int end" -%}
{%- set received_at = clean_ts(parse_ts('receivedat'), '_extracted_at') -%}
{%- set closed_at = clean_ts(parse_ts('closedat'), '_extracted_at') -%}
{%- set updated_at = clean_ts(parse_ts('updatedat'), '_extracted_at') -%}
with

source as (
    -- every re-delivery of a changed petition is a new raw version: the latest updatedAt wins
    {{ latest_version(source('petition', 'petition__petition'), "coalesce(util.hub_tstz(updatedat), '-infinity')") }}
),

final as (
    select
        id as source_record_id,
        {{ map_code('channel', 'petition_channel') }} as channel,
        {{ id_number_columns('petitioner_idnumber') }},
        {{ person_name('petitioner_name') }} as person_name,
        nullif(trim(petitioner_address), '') as petitioner_address,
        {{ headcount }} as headcount,
        {{ received_at }} as received_at,
        {{ map_code('category', 'petition_category') }} as category_code,
        nullif(trim(targetdept), '') as target_dept,
        {{ parse_bool('isfirst') }} as is_first,
        {{ map_code('escalation', 'petition_escalation') }} as escalation,
        {{ map_code('status', 'petition_status') }} as source_status,
        case when trim(status) in ('办结', '不予受理') then 'closed' else 'open' end as status,
        {{ closed_at }} as closed_at,
        {{ parse_bool('onetimeresolved') }} as one_time_resolved,
        {{ map_code('satisfaction', 'petition_satisfaction') }} as satisfaction,
        {{ updated_at }} as source_updated_at,
        {{ invalid_fields([('headcount', 'headcount', headcount), ('received_at', 'receivedat', received_at),
                           ('closed_at', 'closedat', closed_at), ('source_updated_at', 'updatedat', updated_at),
                           ('is_first', 'isfirst', parse_bool('isfirst')),
                           ('one_time_resolved', 'onetimeresolved', parse_bool('onetimeresolved'))]) }} as invalid_fields,
        {{ unknown_codes(codes) }} as unknown_codes,
        _batch_id as batch_id
    from source
)

select * from final
