-- One row: the time the warnings and measures are evaluated at. The data clock (the latest event any
-- department reported), not the wall clock, so a rebuild from raw gives the same answer; override with
-- `--vars '{as_of: "2026-11-01T00:00:00+08:00"}'`.
with

events as (
    select * from {{ ref('int_events__unioned') }}
),

final as (
    select
        {% if var('as_of', none) %}
        '{{ var("as_of") }}'::timestamptz as as_of
        {% else %}
        coalesce(max(occurred_at), now()) as as_of
        {% endif %}
    from events
    where occurred_at <= now() + interval '1 day'
)

select * from final
