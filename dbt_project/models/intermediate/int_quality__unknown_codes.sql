-- Codes a department sent that its contract dictionary does not list (mapped to `unknown`, `U` for sex, by
-- staging's map_code), counted per feed, object (as src/govhub/sources.yml names it), contract column and value.
{%- set models = [
    ('police', 'RK_CZRK', 'stg_police__residents'),
    ('police', 'RK_LDRK', 'stg_police__floating_residents'),
    ('police', 'JQ_JJXX', 'stg_police__incidents'),
    ('police', 'ZDRY', 'stg_police__key_persons'),
    ('grid', 'admin_division', 'stg_grid__divisions'),
    ('grid', 'grid', 'stg_grid__grids'),
    ('grid', 'grid_staff', 'stg_grid__staff'),
    ('grid', 'building', 'stg_grid__buildings'),
    ('grid', 'grid_event', 'stg_grid__events'),
    ('health', 'smd_patient', 'stg_health__smd_patients'),
    ('health', 'smd_followup', 'stg_health__smd_followups'),
    ('health', 'birth_cert', 'stg_health__birth_certificates'),
    ('civil', '低保对象', 'stg_civil__subsistence_allowance'),
    ('civil', '特困人员', 'stg_civil__extreme_poverty'),
    ('civil', '残疾人', 'stg_civil__disabled'),
    ('civil', '留守人员', 'stg_civil__left_behind'),
    ('justice', 'corrections', 'stg_justice__corrections'),
    ('justice', 'resettlement', 'stg_justice__resettlement'),
    ('justice', 'mediations', 'stg_justice__mediations'),
    ('petition', 'petition', 'stg_petition__petitions'),
] %}
with
{% for feed, object, model in models %}
{{ model }} as (
    select '{{ feed }}'::text as feed, '{{ object }}'::text as object, unknown_codes
    from {{ ref(model) }}
    where unknown_codes <> '{}'::jsonb
),
{% endfor %}
unioned as (
    {%- for feed, object, model in models %}
    select * from {{ model }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

final as (
    select
        u.feed,
        u.object,
        c.key as column_name,
        c.value as raw_value,
        count(*)::int as records
    from unioned as u
    cross join lateral jsonb_each_text(u.unknown_codes) as c
    group by 1, 2, 3, 4
)

select * from final
