{#
  Impossible values become null in staging, before anything (dbt tests, marts, linkage.py) reads them, and each
  staging model that drops one lists the field in its `invalid_fields` column, a jsonb array of field names
  ([] when none; jsonb rather than text[] so dbt unit tests can state it):

    clean_date(parsed, extracted_at)  a date before 1900-01-01 or, when `extracted_at` (the raw row's
                                      _extracted_at) is given, after that extraction time + 1 day -> null. Without
                                      it (valid-until dates, a correction's endDate, legitimately in the future)
                                      only dates after 9999-12-31 go (Python's date.max).
    clean_ts(parsed, extracted_at)    the same for timestamps.
    clean_coordinates(lon, lat, e)    a point outside the county's bounding box (stg_grid__county_extent: grid
                                      boundaries plus a margin; without grids, the WGS84 range) -> null, both
                                      coordinates at once. `which` says which coordinate the call returns.
    invalid_fields(checks)            checks: (field, raw value, cleaned value) — the field is listed when a
                                      value was sent (not empty) and the cleaned one is null.
#}
{% macro clean_date(parsed, extracted_at=none) -%}
    util.hub_date_between({{ parsed }}, date '1900-01-01',
        {%- if extracted_at %} coalesce((({{ extracted_at }} + interval '1 day') at time zone 'Asia/Shanghai')::date, date '9999-12-31')
        {%- else %} date '9999-12-31'{% endif %})
{%- endmacro %}

{% macro clean_ts(parsed, extracted_at=none) -%}
    util.hub_ts_between({{ parsed }}, timestamptz '1900-01-01 00:00:00+08',
        {%- if extracted_at %} coalesce({{ extracted_at }} + interval '1 day', timestamptz '9999-12-31 00:00:00+00')
        {%- else %} timestamptz '9999-12-31 00:00:00+00'{% endif %})
{%- endmacro %}

{% macro coordinates_inside(lon, lat, extent) -%}
    ({{ lon }} between coalesce({{ extent }}.min_lon, -180) and coalesce({{ extent }}.max_lon, 180)
     and {{ lat }} between coalesce({{ extent }}.min_lat, -90) and coalesce({{ extent }}.max_lat, 90))
{%- endmacro %}

{% macro clean_coordinates(lon, lat, extent, which) -%}
    case when {{ coordinates_inside(lon, lat, extent) }} then {{ lon if which == 'lon' else lat }} end
{%- endmacro %}

{% macro invalid_fields(checks) -%}
    to_jsonb(array_remove(array[
        {%- for name, raw, cleaned in checks %}
        case when nullif(trim({{ raw }}), '') is not null and ({{ cleaned }}) is null then '{{ name }}' end
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    ]::text[], null))
{%- endmacro %}
