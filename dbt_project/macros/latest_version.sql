{# Raw keeps every version a source sent; staging reads the latest one per source record that is not in an
   excluded batch (ops.excluded_batch): a held one (a feed that failed its blocking feed-level checks), so until a
   release the warehouse keeps the record as it was before the bad batch, or one no feed gate has checked yet.
   `not in` (a hashed subplan), not `not exists`: as an anti-join PostgreSQL estimated that a raw table whose rows
   are all in one batch (n_distinct of _batch_id = 1) loses every row to the few excluded batches (1 row left),
   and planned what reads the view with nested loops: stg_grid__buildings re-derived the county extent once per
   building (6 s instead of well under 1 s on `small`). batch_id is never null in ops.excluded_batch (keys). #}
{% macro latest_version(relation, order_by) -%}
    select distinct on (_record_key) *
    from {{ relation }} as r
    where r._batch_id not in (select h.batch_id from {{ source('ops', 'excluded_batch') }} as h)
    order by _record_key, {{ order_by }} desc, _extracted_at desc
{%- endmacro %}

{# Police text times: YYYYMMDDHH24MISS (Asia/Shanghai) and YYYYMMDD; impossible values (year 0, 00000000,
   month 13) -> null, never an error (util.hub_ts14 / util.hub_date8). Range checks: clean_ts / clean_date. #}
{% macro ts14(column) -%}
    util.hub_ts14({{ column }})
{%- endmacro %}

{% macro date8(column) -%}
    util.hub_date8({{ column }})
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

{# Sex as a department writes it (男/女, M/F, 1/2/0/9 GB/T 2261.1) -> M / F / U; anything else is U (unknown)
   and listed by unknown_codes() (dictionary `sex`). #}
{% macro sex_code(column) -%}
    {{ map_code(column, 'sex') }}
{%- endmacro %}

{# The keyed hash of an ID number (HMAC-SHA256 with the key govhub.keys installs; it never appears in SQL): the
   only form an ID number takes in `published`, and the stem of a resident_key. #}
{% macro keyed_id_hash(column) -%}
    util.hub_id_hash({{ column }})
{%- endmacro %}
