{#
  Row-level security for `restricted` (person-level data in clear, for officials who must act on a warning).
  A role sees a row when it is a member of a role listed in ops.official_jurisdiction for the row's county,
  township, village or grid. Run as a post-hook: dbt rebuilds the table every run, and a policy (like a
  grant) is lost with the table it was created on, so it is declared here, next to the model. The policy travels
  with the table when govhub.publish swaps audit_restricted into restricted (which also grants the schema).
  FORCE: the owner (the transformer) is held to the policy too, so it reads no row of restricted either; dbt's
  tests on these models therefore see no rows (the same keys are tested upstream, on int_residents__profiled
  and risk_warning).
#}
{% macro jurisdiction_policy() -%}
    alter table {{ this }} enable row level security;
    alter table {{ this }} force row level security;
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


{# on-run-start: refuse to build without the pseudonymisation key govhub.keys installs, or with the public demo
   key outside the embedded stack (transform.dbt_environment sets HUB_DEMO_KEY_ALLOWED there only). #}
{% macro assert_id_hash_key() -%}
    {%- if execute -%}
        {%- set found = run_query("select to_regclass('hub_secret.id_hash_key') is not null") -%}
        {%- if not found.rows[0][0] -%}
            {{ exceptions.raise_compiler_error("no pseudonymisation key installed: build through `hub` with HUB_ID_HASH_KEY set (govhub.keys)") }}
        {%- endif -%}
        {%- set rows = run_query("select is_demo from hub_secret.id_hash_key") -%}
        {%- if rows.rows | length == 0 -%}
            {{ exceptions.raise_compiler_error("no pseudonymisation key installed: build through `hub` with HUB_ID_HASH_KEY set (govhub.keys)") }}
        {%- elif rows.rows[0][0] and env_var('HUB_DEMO_KEY_ALLOWED', '') != 'embedded' -%}
            {{ exceptions.raise_compiler_error("refusing to build with the public demo key outside the embedded stack: set HUB_ID_HASH_KEY to a secret (docs/security.md)") }}
        {%- endif -%}
    {%- endif -%}
    select 1
{%- endmacro %}
