{#
  Row-level security for `restricted` (person-level data in clear, for officials who must act on a warning).
  A role sees a row when it is a member of a role listed in ops.official_jurisdiction for the row's county,
  township, village or grid. Run as a post-hook: dbt rebuilds the table every run, and a policy (like a
  grant) is lost with the table it was created on, so it is declared here, next to the model.
#}
{% macro jurisdiction_policy() -%}
    grant usage on schema {{ this.schema }} to hub_official;
    alter table {{ this }} enable row level security;
    drop policy if exists by_jurisdiction on {{ this }};
    create policy by_jurisdiction on {{ this }} for select using (
        exists (
            select 1
            from {{ source('ops', 'official_jurisdiction') }} as j
            where pg_has_role(current_user, j.role_name, 'member')
              and j.division_code in ({{ this }}.county_code, {{ this }}.township_code, {{ this }}.village_code,
                                      {{ this }}.grid_code)
        )
    )
{%- endmacro %}
