{% snapshot snap_resident_special_population %}
{{ config(
    schema='snapshots',
    unique_key='resident_key',
    strategy='check',
    check_cols=['is_community_correction', 'is_released_prisoner', 'is_smd_patient', 'is_drug_rehab', 'is_key_person',
                'is_subsistence_allowance', 'is_extreme_poverty', 'is_disabled', 'is_left_behind'],
    hard_deletes='invalidate',
) }}
-- SCD2 history of each resident's special-population flags (the summary of the current person tags)
select
    resident_key,
    is_community_correction,
    is_released_prisoner,
    is_smd_patient,
    is_drug_rehab,
    is_key_person,
    is_subsistence_allowance,
    is_extreme_poverty,
    is_disabled,
    is_left_behind
from {{ ref('int_residents__profiled') }}
{% endsnapshot %}
