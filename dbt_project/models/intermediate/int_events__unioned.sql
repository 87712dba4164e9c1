-- One row per source event (110 incidents, grid events, mediations, petitions, SMD follow-ups), with its grid
-- assignment: coordinates (point in grid polygon) > address (reported grid or building registry) > village
-- only > unassigned. A petition is one event in its latest state (staging keeps the latest version).
--
-- Incremental, keyed on (source, source_record_id): a run rebuilds only the events whose inputs differ from
-- the stored row (the rule is in _intermediate__models.yml) and merges them in; `hub run --full-refresh`
-- rebuilds every row from staging, and both paths give the same rows (tests/test_pipeline_e2e.py).
{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key=['source', 'source_record_id'],
        on_schema_change='sync_all_columns',
        post_hook=["{{ drop_vanished_events() }}"],
    )
}}

{#- The code this model's rows depend on: its own SQL and that of its parents (staging, address matching,
    the taxonomy seed), the macros (the `code_fingerprint` var: a staging macro can change an event's fields
    without a new batch) and the util SQL functions (read in `reference`). A changed part changes
    reference_fingerprint, so a deploy that changes how events are parsed or placed rebuilds every event on the
    next daily run instead of only the new ones. -#}
{%- set code_checksums = [var('code_fingerprint', 'none')] + node_checksums() -%}
{#- A table built before this model was incremental has none of the bookkeeping columns: rebuild every row. -#}
{%- set incremental = is_incremental()
    and 'reference_fingerprint' in (adapter.get_columns_in_relation(this) | map(attribute='name') | list) -%}

with

incidents as (
    select * from {{ ref('stg_police__incidents') }}
),

grid_events as (
    select * from {{ ref('stg_grid__events') }}
),

mediations as (
    select * from {{ ref('stg_justice__mediations') }}
),

petitions as (
    select * from {{ ref('stg_petition__petitions') }}
),

followups as (
    select * from {{ ref('stg_health__smd_followups') }}
),

patients as (
    select * from {{ ref('stg_health__smd_patients') }}
),

-- read twice (polygons, fingerprint): not materialized, so the fingerprint does not parse every polygon
grids as not materialized (
    select * from {{ ref('stg_grid__grids') }}
),

buildings as (
    select * from {{ ref('stg_grid__buildings') }}
),

divisions as (
    select * from {{ ref('stg_grid__divisions') }}
),

addresses as (
    select * from {{ ref('int_addresses__matched') }}
),

taxonomy as (
    select * from {{ ref('event_taxonomy') }}
),

{% if incremental %}
built as (
    select source, source_record_id, batch_id, patient_batch_id, reference_fingerprint from {{ this }}
),
{% endif %}

-- Everything a grid assignment reads besides the event itself: the polygons, and the building registry and
-- divisions that int_addresses__matched matches an address against (its answer for one address depends on
-- nothing else), the taxonomy, and the code. Grids and buildings by the columns read here and in
-- int_addresses__matched (whole rows would compute every derived column of the views: 5x the time); a new
-- column read there belongs here too.
reference_rows as (
    select 'grid' as kind, (grid_code, village_code, boundary_geojson, retired_at)::text as row_text from grids
    union all
    select 'building', (building_id, std_address, grid_code)::text from buildings
    union all
    select 'division', d::text from divisions as d
    union all
    select 'taxonomy', t::text from taxonomy as t
),

reference as (
    select md5('{{ code_checksums | join(",") }}|' || {{ util_function_definitions() }} || '|'
               || string_agg(kind || ':' || row_text, '|' order by kind, row_text))
        as reference_fingerprint
    from reference_rows
),

events as (
    select 'police' as source, 'JQ_JJXX' as source_object, source_record_id, category_code, reported_at as occurred_at,
           -- JQZT outside the contract's dictionary (staging: unknown) is not known to be closed: open
           lon, lat, location_text, null::text as reported_grid_code,
           case when status = 'closed' then 'closed' else 'open' end as status, closed_at, outcome,
           null::text as escalation_level, null::int as headcount, null::boolean as is_first_petition,
           null::boolean as one_time_resolved, batch_id, null::text as patient_batch_id
    from incidents
    union all
    select 'grid', 'grid_event', source_record_id, category_code, reported_at, lon, lat, null, reported_grid_code,
           status, closed_at, source_status, escalation_level, null, null, null, batch_id, null
    from grid_events
    union all
    select 'mediation', 'mediations', source_record_id, dispute_type, accepted_at, null, null, location_text, null,
           status, closed_at, outcome, null, null, null, null, batch_id, null
    from mediations
    union all
    select 'petition', 'petition', source_record_id, category_code, received_at, null, null, petitioner_address, null,
           status, closed_at, source_status, escalation, headcount, is_first, one_time_resolved, batch_id, null
    from petitions
    union all
    -- a follow-up is a completed visit: closed when it happens, located at the patient's address
    select 'health', 'smd_followup', f.source_record_id, f.followup_type, f.followup_date::timestamp at time zone 'Asia/Shanghai',
           null, null, p.address, null, 'closed', f.followup_date::timestamp at time zone 'Asia/Shanghai', f.followup_type,
           null, null, null, null, f.batch_id, p.batch_id
    from followups as f
    left join patients as p on p.source_record_id = f.patient_id
),

-- The events to (re)build. Compared per event with what is stored, not "batches newer than the last run":
-- a held batch that is released later makes rows of an old batch (and old extract time) current, and a
-- batch held after it was built makes an earlier version current again; both differ from the stored row.
changed as (
    select e.*
    from events as e
    {% if incremental %}
    cross join reference as r
    left join built as b on b.source = e.source and b.source_record_id = e.source_record_id
    where b.source_record_id is null
       or b.batch_id is distinct from e.batch_id
       or b.patient_batch_id is distinct from e.patient_batch_id
       or b.reference_fingerprint <> r.reference_fingerprint
    {% endif %}
),

by_coordinates as (
    select e.source, e.source_record_id, min(g.grid_code) as grid_code
    from changed as e
    inner join grids as g on g.retired_at is null and point(e.lon, e.lat) <@ g.boundary_polygon
    where e.lon is not null and e.lat is not null
    group by 1, 2
),

final as (
    select
        e.source,
        e.source_object,
        e.source_record_id,
        coalesce(t.event_type, 'other') as event_type,
        e.occurred_at,
        coalesce(c.grid_code, e.reported_grid_code, a.grid_code) as grid_code,
        coalesce(c.grid_code, e.reported_grid_code, a.grid_code, left(a.village_code, 12)) is not null as has_location,
        coalesce(left(c.grid_code, 12), left(e.reported_grid_code, 12), a.village_code) as village_code,
        case when c.grid_code is not null then 'coordinates'
             when e.reported_grid_code is not null or a.grid_code is not null then 'address'
             when a.village_code is not null then 'village_only'
             else 'unassigned' end as grid_assignment,
        e.status,
        e.closed_at,
        e.outcome,
        e.category_code,
        e.escalation_level,
        e.headcount,
        e.is_first_petition,
        e.one_time_resolved,
        e.batch_id,
        e.patient_batch_id,
        r.reference_fingerprint,
        -- the run that (re)built the row: rows an incremental run did not touch keep their earlier value
        '{{ run_started_at }}'::timestamptz as built_at
    from changed as e
    cross join reference as r
    left join by_coordinates as c on c.source = e.source and c.source_record_id = e.source_record_id
    left join addresses as a on a.address = e.location_text
    left join taxonomy as t on t.source = e.source and t.category_code = e.category_code
)

select * from final
