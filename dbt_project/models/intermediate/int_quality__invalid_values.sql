-- Impossible values staging dropped (null instead of year 0, 00000000, dates before 1900 or after the extraction,
-- coordinates outside the county, text in numeric fields), counted per feed, object and staging field
-- (the staging models' invalid_fields column).
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
    ('justice', 'corrections', 'stg_justice__corrections'),
    ('justice', 'resettlement', 'stg_justice__resettlement'),
    ('justice', 'mediations', 'stg_justice__mediations'),
    ('health', 'death_cert', 'stg_health__death_certificates'),
    ('petition', 'petition', 'stg_petition__petitions'),
] %}
with
{% for feed, object, model in models %}
{{ model }} as (
    select '{{ feed }}'::text as feed, '{{ object }}'::text as object, invalid_fields
    from {{ ref(model) }}
    where invalid_fields <> '[]'::jsonb
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
        f.field,
        count(*)::int as records
    from unioned as u
    cross join lateral jsonb_array_elements_text(u.invalid_fields) as f (field)
    group by 1, 2, 3
)

select * from final
