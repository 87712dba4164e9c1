-- One row per early-warning signal, open or resolved (history kept: every rule derives its episodes from the
-- departments' own history, so a signal that stops firing is resolved, never deleted).
with

rule1 as (
    select * from {{ ref('int_warnings__rule1_supervised_in_incident') }}
),

rule2 as (
    select * from {{ ref('int_warnings__rule2_smd_overdue') }}
),

rule3 as (
    select * from {{ ref('int_warnings__rule3_petitioner_in_mediation') }}
),

rule4 as (
    select * from {{ ref('int_warnings__rule4_mass_petition_dispute') }}
),

rule5 as (
    select * from {{ ref('int_warnings__rule5_grid_conflict') }}
),

grids as (
    select * from {{ ref('dim_grid') }}
),

clock as (
    select * from {{ ref('int_warnings__as_of') }}
),

signals as (
    select * from rule1
    union all select * from rule2
    union all select * from rule3
    union all select * from rule4
    union all select * from rule5
),

aged as (
    select
        s.*,
        {{ hours_between('s.first_seen_at', 'coalesce(s.resolved_at, c.as_of)') }} as age_hours
    from signals as s
    cross join clock as c
),

final as (
    select
        ('W' || left(md5(a.warning_id), 20))::text as warning_key,
        a.resident_key::text as resident_key,
        g.grid_key::text as grid_key,
        g.village_code::text as village_code,
        g.township_code::text as township_code,
        a.rule::text as rule,
        a.signals::jsonb as signals,
        a.severity::text as severity,
        a.base_level::text as base_level,
        ({{ escalated_level('a.base_level', 'a.age_hours') }})::text as escalation_level,
        string_to_array(a.responsible_departments, ',')::text[] as responsible_departments,
        a.first_seen_at::timestamptz as first_seen_at,
        a.last_seen_at::timestamptz as last_seen_at,
        a.resolved_at::timestamptz as resolved_at,
        (case when a.resolved_at is null then 'open' else 'resolved' end)::text as status
    from aged as a
    left join grids as g on g.grid_key = a.grid_key
)

select * from final
