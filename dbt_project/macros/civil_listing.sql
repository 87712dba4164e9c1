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
        select record_key, change, drop_date, row_hash from {{ source('civil', table_name ~ '__changes') }}
    ),
    latest_change as (
        select distinct on (record_key) record_key, change, drop_date, row_hash
        from changes
        order by record_key, drop_date desc
    ),
    periods as (
        select
            c.record_key,
            max(c.drop_date) filter (where c.change = 'started') as listed_on
        from changes as c
        group by 1
    ),
    {%- if has_status %}
    statuses as (
        select c.record_key, c.drop_date, trim(v."状态") as source_status
        from changes as c
        inner join periods as p on p.record_key = c.record_key
        inner join versions as v on v._record_key = c.record_key and v._row_hash = c.row_hash
        where c.change <> 'ended' and c.drop_date >= coalesce(p.listed_on, '-infinity')
    ),
    suspensions as (
        -- the first drop of the final run of 停保 (a member can be suspended and restored)
        select s.record_key, min(s.drop_date) as suspended_on
        from statuses as s
        where s.source_status = '停保'
          and s.drop_date > coalesce((select max(a.drop_date) from statuses as a
                                      where a.record_key = s.record_key and a.source_status = '在保'), '-infinity')
        group by 1
    ),
    {%- endif %}
    ranked as (
        select
            v.*,
            row_number() over (
                partition by v._record_key order by (v._row_hash = lc.row_hash) desc nulls last, v._extracted_at desc
            ) as _version_rank
        from versions as v
        left join latest_change as lc on lc.record_key = v._record_key
    )
    select
        r.*,
        p.listed_on,
        {% if has_status %}s.suspended_on{% else %}null::date{% endif %} as suspended_on,
        case when lc.change = 'ended' then lc.drop_date end as delisted_on,
        lc.drop_date as last_change_on,
        coalesce(lc.change <> 'ended', true) as is_listed
    from ranked as r
    left join latest_change as lc on lc.record_key = r._record_key
    left join periods as p on p.record_key = r._record_key
    {% if has_status %}left join suspensions as s on s.record_key = r._record_key{% endif %}
    where r._version_rank = 1
{%- endmacro %}

{# 月保障金额 and similar: thousands separators (also full-width / Chinese commas) and a 元 suffix removed. #}
{% macro parse_amount(column) -%}
    case when regexp_replace(util.hub_fw2hw(coalesce({{ column }}, '')), '[,，\s元¥￥]', '', 'g') ~ '^-?\d+(\.\d+)?$'
         then regexp_replace(util.hub_fw2hw({{ column }}), '[,，\s元¥￥]', '', 'g')::numeric(12, 2) end
{%- endmacro %}
