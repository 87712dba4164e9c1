-- One row per open person-level warning, with the person's ID number and name in clear, for the officials
-- of the warning's jurisdiction (row-level security) who must visit. Never published.
with

warnings as (
    select * from {{ ref('risk_warning') }}
    where resolved_at is null and resident_key is not null
),

residents as (
    select * from {{ ref('int_residents__profiled') }}
),

grids as (
    select * from {{ ref('dim_grid') }}
),

county as (
    select division_code as county_code from {{ ref('dim_division') }} where level = 1
),

final as (
    select
        w.warning_key::text as warning_key,
        w.rule::text as rule,
        w.severity::text as severity,
        w.escalation_level::text as escalation_level,
        w.resident_key::text as resident_key,
        r.id_number::text as id_number,
        r.person_name::text as person_name,
        g.grid_code::text as grid_code,
        coalesce(w.village_code, g.village_code)::text as village_code,
        coalesce(w.township_code, g.township_code)::text as township_code,
        c.county_code::text as county_code,
        w.first_seen_at::timestamptz as first_seen_at
    from warnings as w
    cross join county as c
    inner join residents as r on r.resident_key = w.resident_key
    left join grids as g on g.grid_key = w.grid_key
)

select * from final
