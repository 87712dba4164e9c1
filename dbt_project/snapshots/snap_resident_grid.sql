{% snapshot snap_resident_grid %}
{{ config(
    schema='snapshots',
    unique_key='resident_key',
    strategy='check',
    check_cols=['current_grid_key', 'residence_type'],
    hard_deletes='invalidate',
) }}
-- SCD2 history of each resident's grid of residence (no ID number, no name: keys and grid only)
select resident_key, current_grid_key, residence_type, is_deceased
from {{ ref('int_residents__profiled') }}
{% endsnapshot %}
