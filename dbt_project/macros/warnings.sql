{#
  Four-level warning escalation (网格、村（社区）、镇（街道）、县): a signal that is still open when its
  level's deadline passes moves up one level. Deadlines (hours at each level) are project vars:
  warning_deadline_hours: {grid: 72, village: 168, township: 360}; the county has no deadline.
#}
{% macro escalated_level(base_level, age_hours) -%}
    {%- set d = var('warning_deadline_hours') -%}
    {%- set g, v, t = d['grid'], d['village'], d['township'] -%}
    case {{ base_level }}
        when 'grid' then case when {{ age_hours }} < {{ g }} then 'grid'
                              when {{ age_hours }} < {{ g + v }} then 'village'
                              when {{ age_hours }} < {{ g + v + t }} then 'township'
                              else 'county' end
        when 'village' then case when {{ age_hours }} < {{ v }} then 'village'
                                 when {{ age_hours }} < {{ v + t }} then 'township'
                                 else 'county' end
        when 'township' then case when {{ age_hours }} < {{ t }} then 'township' else 'county' end
        else 'county'
    end
{%- endmacro %}

{% macro hours_between(from_ts, to_ts) -%}
    (extract(epoch from ({{ to_ts }}) - ({{ from_ts }})) / 3600.0)
{%- endmacro %}
