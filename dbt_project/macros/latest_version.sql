{# Raw keeps every version a source sent; staging reads the latest one per source record that is not in a
   held batch (a feed that failed its blocking feed-level checks: ops.held_batch), so until a release the
   warehouse keeps the record as it was before the bad batch. #}
{% macro latest_version(relation, order_by) -%}
    select distinct on (_record_key) *
    from {{ relation }} as r
    where not exists (select from {{ source('ops', 'held_batch') }} as h where h.batch_id = r._batch_id)
    order by _record_key, {{ order_by }} desc, _extracted_at desc
{%- endmacro %}

{% macro ts14(column) -%}
    (to_timestamp(nullif(trim({{ column }}), ''), 'YYYYMMDDHH24MISS')::timestamp at time zone 'Asia/Shanghai')
{%- endmacro %}

{% macro date8(column) -%}
    case when {{ column }} ~ '^\d{8}$' then to_date({{ column }}, 'YYYYMMDD') end
{%- endmacro %}

{% macro person_name(column) -%}
    nullif(regexp_replace(util.hub_fw2hw({{ column }}), '\s', '', 'g'), '')
{%- endmacro %}

{# The ID number as sent, normalised (15 -> 18 digits, case, width, spaces) and its status: every staging
   model that carries a person's ID number uses this triplet (util.hub_id_clean / util.hub_id_status). #}
{% macro id_number_columns(column) -%}
    {{ column }} as id_number_raw,
        util.hub_id_clean({{ column }}) as id_number,
        util.hub_id_status({{ column }}) as id_status
{%- endmacro %}

{# Sex as a department writes it (男/女, M/F, 1/2 GB/T 2261.1) -> M / F / U. #}
{% macro sex_code(column) -%}
    case upper(trim(util.hub_fw2hw({{ column }}))) when '男' then 'M' when 'M' then 'M' when '1' then 'M'
         when '女' then 'F' when 'F' then 'F' when '2' then 'F' else 'U' end
{%- endmacro %}

{# The keyed hash of an ID number (HMAC with var id_hash_key): the only form an ID number takes in `published`,
   and the stem of a resident_key. #}
{% macro keyed_id_hash(column) -%}
    util.hub_id_hash({{ column }}, '{{ var("id_hash_key") }}')
{%- endmacro %}
