{#
  Civil-affairs registers arrive as daily full snapshots; the extract keeps every row version in raw and the
  snapshot diff in raw.<table>__changes (started / changed / ended per record key and drop date).
  This returns the raw columns of each record's current version (the version of its latest change record,
  so a row that reverts to an earlier content is still right) plus what the drops tell about its listing:

    listed_on      drop date of the latest `started` (the first drop of the current listing)
    suspended_on   first drop of the current listing's final run of 状态 停保 (registers with 状态 only)
    delisted_on    drop date of the `ended` change when the record is no longer listed, else null
    last_change_on drop date of the latest change record
    is_listed      listed in the latest accepted drop
#}
{% macro civil_listing(table_name, has_status=false) -%}
    with versions as (
        select * from {{ source('civil', table_name) }}
    ),
    changes as (
        select record_key, change, drop_date, row_hash from ({{ civil_changes(table_name) }}) as c
    ),
    listing as (
        -- per record: its latest change (what, on which drop, which version) and the current listing's start
        -- (one change per record and drop, so the latest is unique)
        select
            record_key,
            (array_agg(change order by drop_date desc))[1] as change,
            max(drop_date) as drop_date,
            (array_agg(row_hash order by drop_date desc))[1] as row_hash,
            max(drop_date) filter (where change = 'started') as listed_on
        from changes
        group by 1
    ),
    {%- if has_status %}
    statuses as (
        select c.record_key, c.drop_date, trim(v."状态") as source_status
        from changes as c
        inner join listing as p on p.record_key = c.record_key
        inner join versions as v on v._record_key = c.record_key and v._row_hash = c.row_hash
        where c.change <> 'ended' and c.drop_date >= coalesce(p.listed_on, '-infinity')
    ),
    suspensions as (
        -- the first drop of the final run of 停保 (a member can be suspended and restored): a 停保 after the
        -- record's last 在保 (a window, not a subquery per row over the statuses)
        select record_key, min(drop_date) as suspended_on
        from (
            select
                s.*,
                max(s.drop_date) filter (where s.source_status = '在保') over (partition by s.record_key) as last_active
            from statuses as s
        ) as s
        where source_status = '停保' and drop_date > coalesce(last_active, '-infinity')
        group by 1
    ),
    {%- endif %}
    ranked as (
        -- Everything the final select needs is joined here, before the rank filter. Joined after it, the planner
        -- (a CTE's groups estimated at 200 rows, the filtered window at a few dozen) chose nested loops: 86
        -- million key comparisons for 9,302 records of a county's 低保 register, 8 s for each reader of the view.
        select
            v.*,
            lc.change as _latest_change,
            lc.drop_date as _latest_change_on,
            lc.listed_on as _listed_on,
            {% if has_status %}s.suspended_on{% else %}null::date{% endif %} as _suspended_on,
            row_number() over (
                partition by v._record_key order by (v._row_hash = lc.row_hash) desc nulls last, v._extracted_at desc
            ) as _version_rank
        from versions as v
        -- inner: a record is in staging only once an accepted drop lists it (its changes may all be held)
        inner join listing as lc on lc.record_key = v._record_key
        {% if has_status %}left join suspensions as s on s.record_key = v._record_key{% endif %}
    )
    select
        r.*,
        r._listed_on as listed_on,
        r._suspended_on as suspended_on,
        case when r._latest_change = 'ended' then r._latest_change_on end as delisted_on,
        r._latest_change_on as last_change_on,
        coalesce(r._latest_change <> 'ended', true) as is_listed
    from ranked as r
    where r._version_rank = 1
{%- endmacro %}

{# The listing columns every civil staging model exposes from civil_listing(): 状态 (registers that have it),
   the listing dates, whether the latest accepted drop lists the record, and its batch. #}
{% macro civil_listing_columns(has_status=false) -%}
    {%- if has_status %}
        nullif(trim("状态"), '') as source_status,
        {{ map_code('"状态"', 'civil_status') }} as status,
    {%- endif %}
        listed_on,
        {%- if has_status %}
        suspended_on,
        {%- endif %}
        delisted_on,
        last_change_on,
        is_listed,
        _batch_id as batch_id
{%- endmacro %}

{# 月保障金额 and similar: thousands separators (also full-width / Chinese commas) and a 元 suffix removed; text or
   more than 9 integer digits (numeric(12, 2) would overflow) -> null. #}
{% macro parse_amount(column) -%}
    case when regexp_replace(util.hub_fw2hw(coalesce({{ column }}, '')), '[,，\s元¥￥]', '', 'g') ~ '^-?\d{1,9}(\.\d+)?$'
         then regexp_replace(util.hub_fw2hw({{ column }}), '[,，\s元¥￥]', '', 'g')::numeric(12, 2) end
{%- endmacro %}


{#
  The snapshot diff of raw.<table>__changes with held drops (ops.excluded_batch: the civil feed failed a blocking
  check, e.g. a truncated snapshot; or a drop no feed gate has checked yet) left out. A held drop's changes are carried to the next accepted drop that
  has change records and merged with that drop's, so every change compares two accepted snapshots: a record
  missing only from the held drop has no `ended` + `started` pair, it simply stays listed. Changes of a held
  drop with no accepted drop after it wait (the records stay as they were). Columns as the changes table.
#}
{% macro civil_changes(table_name) -%}
    with changes as (
        select c.record_key, c.change, c.drop_date, c.row_hash, c._batch_id, h.batch_id is not null as is_held
        from {{ source('civil', table_name ~ '__changes') }} as c
        left join {{ source('ops', 'excluded_batch') }} as h on h.batch_id = c._batch_id
    ),
    accepted_drops as (
        select distinct drop_date from changes where not is_held
    ),
    deferrals as (
        select held.drop_date as held_on, min(a.drop_date) as effective_on
        from (select distinct drop_date from changes where is_held) as held
        inner join accepted_drops as a on a.drop_date > held.drop_date
        group by 1
    ),
    assigned as (
        select c.*, case when c.is_held then d.effective_on else c.drop_date end as effective_on
        from changes as c
        left join deferrals as d on d.held_on = c.drop_date
    ),
    grouped as (
        -- per record and accepted drop: the state after it (the last change) and how many changes merged into it
        select
            record_key,
            effective_on,
            count(*) as merged,
            (array_agg(change order by drop_date desc))[1] as last_change,
            (array_agg(row_hash order by drop_date desc))[1] as last_hash,
            (array_agg(_batch_id order by drop_date desc))[1] as last_batch_id
        from assigned
        where effective_on is not null
        group by 1, 2
    ),
    with_before as (
        select
            *,
            coalesce(lag(last_change <> 'ended') over w, false) as listed_before,
            lag(last_hash) over w as hash_before
        from grouped
        window w as (partition by record_key order by effective_on)
    ),
    effective as (
        select
            record_key,
            case
                when merged = 1 then last_change
                when not listed_before and last_change <> 'ended' then 'started'
                when listed_before and last_change = 'ended' then 'ended'
                when listed_before and last_change <> 'ended' and last_hash is distinct from hash_before then 'changed'
            end as change,
            effective_on as drop_date,
            -- an `ended` change carries the last version listed, as the extract writes it
            case when merged > 1 and last_change = 'ended' then hash_before else last_hash end as row_hash,
            last_batch_id as _batch_id
        from with_before
    )
    select record_key, change, drop_date, row_hash, _batch_id from effective where change is not null
{%- endmacro %}
