"""Least-privilege roles of the warehouse, created and kept in sync by the hub (docs/security.md).

| role                      | logs in | may                                                                        |
|---------------------------|---------|----------------------------------------------------------------------------|
| hub_loader                | yes     | write raw (owns it) and the ops bookkeeping tables; read nothing built      |
| hub_transformer           | yes     | read raw/ops/linkage, own the dbt schemas, build into audit / audit_restricted |
| hub_publisher             | yes     | own audit, published, audit_restricted, restricted: the swap; ops.publication |
| hub_gate                  | yes     | GX gates and scorecard: read raw, ops, intermediate, linkage, audit, published; |
|                           |         | insert their results (ops.validation_result, feed_gate, batch_hold)         |
| hub_reader                | yes     | `hub status`: ops bookkeeping (no quarantine) and the two quality summaries   |
| dashboard_reader          | no      | select on published only (a dashboard's login role is a member)            |
| hub_official              | no      | select on restricted, row-level security by ops.official_jurisdiction      |
| hub_department_officer    | no      | its department's rows (ops.officer_department) of batches, quarantine, checks |

The component roles log in with ``HUB_PG_PASSWORD_<ROLE>`` (stored as a SCRAM verifier computed here, so the
password itself never reaches the server's statement log or pg_stat_statements); on the embedded server they
log in over its trusted socket. ``ensure_roles`` is idempotent and runs (as the admin) whenever the ops DDL
changed; ``check_privileges`` runs inside every publication and refuses it when grants or policies drifted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

import psycopg
from psycopg import sql

from govhub.db import GATE, LOADER, PUBLISHER, READER, TRANSFORMER

DASHBOARD = os.environ.get("HUB_DASHBOARD_ROLE", "dashboard_reader")
OFFICIAL = "hub_official"
OFFICER = "hub_department_officer"
LOGIN_ROLES = (LOADER, TRANSFORMER, PUBLISHER, GATE, READER)
GROUP_ROLES = (DASHBOARD, OFFICIAL, OFFICER)
# schemas dbt writes (owned by the transformer); audit* are the publisher's, built into by the transformer
DBT_SCHEMAS = ("staging", "intermediate", "reference", "snapshots", "util", "wh", "linkage")
BUILD_SCHEMAS = ("audit", "audit_restricted")
# ops tables a department officer reads, filtered to its feeds by row-level security
OFFICER_TABLES = ("batch", "quarantine", "validation_result", "feed_gate", "batch_hold", "schema_drift",
                  "rejected_drop", "scorecard")
# ops tables the pipeline's roles never write (the county's administrator maintains them)
ADMIN_TABLES = ("official_jurisdiction", "officer_department", "publication")
# what the gates write: their results and the holds of a failed feed's batches
GATE_WRITES = ("validation_result", "feed_gate", "batch_hold", "batch_check")
# what `hub status` reads: bookkeeping, never ops.quarantine (records as received) or the administrator's tables
READER_TABLES = ("batch", "batch_hold", "held_batch", "batch_check", "excluded_batch", "validation_result", "publication", "build_lock", "feed_gate",
                 "rejected_drop", "accepted_drop", "schema_drift")
# schemas the transformer owns that the gate reads (created here when missing, so usage can be granted before
# dbt first builds into them)
GATE_READS = ("util", "intermediate", "linkage")


def _setup_version() -> str:
    from govhub.extract.drift import DRIFT_DDL
    from govhub.extract.files_connector import REJECTED_DDL
    from govhub.ops import OPS_DDL

    text = "\n".join([OPS_DDL, DRIFT_DDL, REJECTED_DDL, _grants_sql("x"), repr(LOGIN_ROLES + GROUP_ROLES)])
    return "govhub setup " + hashlib.sha256(text.encode()).hexdigest()[:16]


def setup_is_current(conn: psycopg.Connection) -> bool:
    row = conn.execute("select obj_description(to_regnamespace('ops'), 'pg_namespace')").fetchone()
    return bool(row and row[0] == _setup_version())


def scram_verifier(password: str, iterations: int = 4096) -> str:
    """PostgreSQL's SCRAM-SHA-256 verifier of ``password`` (RFC 5802/7677), computed here so ``alter role ...
    password`` carries no clear password to the server (logs, pg_stat_statements)."""
    salt = secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def _grants_sql(admin: str) -> str:
    officer_policy = "\n".join(f"""
alter table ops.{t} enable row level security;
drop policy if exists pipeline_all on ops.{t};
create policy pipeline_all on ops.{t} to {LOADER}, {TRANSFORMER}, {PUBLISHER}, {GATE}, {READER}
    using (true) with check (true);
drop policy if exists officer_own_feed on ops.{t};
create policy officer_own_feed on ops.{t} for select to {OFFICER} using (exists (
    select 1 from ops.officer_department as d
    where d.feed = ops.{t}.feed and pg_has_role(current_user, d.role_name, 'member')));
grant select on ops.{t} to {OFFICER};""" for t in OFFICER_TABLES)
    return f"""
revoke all on database warehouse from public;
grant connect on database warehouse to {", ".join(LOGIN_ROLES + GROUP_ROLES)};
grant create on database warehouse to {TRANSFORMER}, {PUBLISHER}, {GATE};
grant temporary on database warehouse to {LOADER}, {TRANSFORMER};
revoke create on schema public from public;
-- raw: the loader's
alter schema raw owner to {LOADER};
grant usage on schema raw to {TRANSFORMER};
grant select on all tables in schema raw to {TRANSFORMER};
alter default privileges for role {LOADER} in schema raw grant select on tables to {TRANSFORMER};
grant usage on schema raw to {GATE};
grant select on all tables in schema raw to {GATE};
alter default privileges for role {LOADER} in schema raw grant select on tables to {GATE};
-- ops: bookkeeping written by the loader (and the feed gate), read by the transformer; the administrator's
-- tables (jurisdictions, officers, publications) are not the loader's to write
revoke all on schema ops from public;
grant usage, create on schema ops to {LOADER};
grant usage on schema ops to {TRANSFORMER}, {PUBLISHER}, {OFFICIAL}, {OFFICER}, {GATE}, {READER};
grant select, insert, update, delete on all tables in schema ops to {LOADER};
grant select on all tables in schema ops to {TRANSFORMER};
grant usage, select on all sequences in schema ops to {LOADER}, {PUBLISHER};
alter default privileges for role {admin} in schema ops grant select, insert, update, delete on tables to {LOADER};
alter default privileges for role {admin} in schema ops grant select on tables to {TRANSFORMER};
alter default privileges for role {admin} in schema ops grant usage, select on sequences to {LOADER};
alter default privileges for role {LOADER} in schema ops grant select on tables to {TRANSFORMER};
-- the gates (and the scorecard) read all of ops and insert their results; `hub status` reads the bookkeeping
grant select on all tables in schema ops to {GATE};
alter default privileges for role {admin} in schema ops grant select on tables to {GATE};
alter default privileges for role {LOADER} in schema ops grant select on tables to {GATE};
grant insert on {", ".join("ops." + t for t in GATE_WRITES)} to {GATE};
grant usage, select on all sequences in schema ops to {GATE};
revoke all on all tables in schema ops from {READER};
grant select on {", ".join("ops." + t for t in READER_TABLES)} to {READER};
revoke insert, update, delete on {", ".join("ops." + t for t in ADMIN_TABLES)} from {LOADER};
grant select, insert on ops.publication to {PUBLISHER};
grant select on ops.official_jurisdiction to {OFFICIAL};
grant select on ops.officer_department to {OFFICER};
-- the scorecard: written by the gate role, every department's row readable by officials
grant insert, update, delete on ops.scorecard to {GATE};
grant select on ops.scorecard to {OFFICIAL};
drop policy if exists official_all on ops.scorecard;
create policy official_all on ops.scorecard for select to {OFFICIAL} using (true);
alter view ops.held_batch set (security_invoker = true);
alter view ops.excluded_batch set (security_invoker = true);
{officer_policy}
-- linkage: written by the transformer (probabilistic links), read by dbt
revoke all on schema linkage from public;
grant usage on schema linkage to {TRANSFORMER}, {GATE};
grant select, insert, update, delete, truncate on all tables in schema linkage to {TRANSFORMER};
"""


def ensure_roles(conn: psycopg.Connection) -> None:
    """Create the roles, move schemas to their owners, grant; idempotent. Needs the admin connection."""
    from govhub.extract.drift import DRIFT_DDL
    from govhub.extract.files_connector import REJECTED_DDL

    admin = conn.execute("select current_user").fetchone()[0]
    for role in LOGIN_ROLES + GROUP_ROLES:
        login = role in LOGIN_ROLES
        exists = conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
        conn.execute(sql.SQL("{} role {} {} nosuperuser nocreatedb nocreaterole nobypassrls noreplication").format(
            sql.SQL("alter" if exists else "create"), sql.Identifier(role), sql.SQL("login" if login else "nologin")))
        password = os.environ.get("HUB_PG_PASSWORD_" + role.removeprefix("hub_").upper()) if login else None
        if password:  # a verifier, never the password: the statement may reach a log or pg_stat_statements
            conn.execute(sql.SQL("alter role {} password {}").format(sql.Identifier(role),
                                                                       sql.Literal(scram_verifier(password))))
    conn.execute(DRIFT_DDL)
    conn.execute(REJECTED_DDL)
    for schema in GATE_READS:  # dbt's (the transformer's), made here so the gate's usage can be granted now
        conn.execute(sql.SQL("create schema if not exists {} authorization {}").format(
            sql.Identifier(schema), sql.Identifier(TRANSFORMER)))
    conn.execute(_grants_sql(admin))
    conn.execute(sql.SQL("grant usage on schema {} to {}").format(
        sql.SQL(", ").join(map(sql.Identifier, GATE_READS)), sql.Identifier(GATE)))
    conn.execute(sql.SQL("grant usage on schema intermediate to {}").format(sql.Identifier(READER)))
    # objects a previous (single-user) version left owned by the admin move to their role
    for schema, owner in [("raw", LOADER), *((s, TRANSFORMER) for s in DBT_SCHEMAS),
                          *((s, PUBLISHER) for s in (*BUILD_SCHEMAS, "published", "restricted"))]:
        if conn.execute("select to_regnamespace(%s)", (schema,)).fetchone()[0] is None:
            continue
        conn.execute(sql.SQL("alter schema {} owner to {}").format(sql.Identifier(schema), sql.Identifier(owner)))
        if owner == PUBLISHER:
            continue
        for kind, name in conn.execute(
                """select case c.relkind when 'v' then 'view' when 'm' then 'materialized view' else 'table' end,
                          c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
                   where n.nspname = %s and c.relkind in ('r', 'v', 'm', 'p') and c.relowner <> %s::regrole""",
                (schema, owner)).fetchall():
            conn.execute(sql.SQL("alter {} {} owner to {}").format(sql.SQL(kind), sql.Identifier(schema, name),
                                                                  sql.Identifier(owner)))
        for (proc,) in conn.execute("""select p.oid::regprocedure::text from pg_proc p
                                       join pg_namespace n on n.oid = p.pronamespace
                                       where n.nspname = %s and p.proowner <> %s::regrole""",
                                    (schema, owner)).fetchall():
            conn.execute(sql.SQL("alter function {} owner to {}").format(sql.SQL(proc), sql.Identifier(owner)))
    ensure_build_schemas(conn)
    conn.execute(sql.SQL("comment on schema ops is {}").format(sql.Literal(_setup_version())))


def ensure_build_schemas(conn: psycopg.Connection) -> None:
    """``audit`` and ``audit_restricted`` (where dbt builds what the gate validates) exist, owned by the
    publisher (who renames them in the swap), and the transformer may create its tables in them."""
    for schema in BUILD_SCHEMAS:
        owner = conn.execute("select nspowner::regrole::text from pg_namespace where nspname = %s",
                             (schema,)).fetchone()
        if owner is None:
            conn.execute(sql.SQL("create schema {} authorization {}").format(sql.Identifier(schema),
                                                                            sql.Identifier(PUBLISHER)))
        elif owner[0] != PUBLISHER:
            conn.execute(sql.SQL("alter schema {} owner to {}").format(sql.Identifier(schema),
                                                                      sql.Identifier(PUBLISHER)))
        conn.execute(sql.SQL("grant usage, create on schema {} to {}").format(sql.Identifier(schema),
                                                                             sql.Identifier(TRANSFORMER)))
        if schema == "audit":  # the publication gate validates what dbt built there
            conn.execute(sql.SQL("grant usage on schema audit to {}").format(sql.Identifier(GATE)))


class PrivilegeDrift(RuntimeError):
    """Grants or row-level-security policies are not what the hub declares: the publication is refused."""


def privilege_problems(conn: psycopg.Connection, published: str = "published",
                       restricted: str = "restricted") -> list[str]:
    """What differs from the declared grants and policies (empty when in sync). Reads only the catalogs and
    ``has_*_privilege``, which any role may call: the publisher runs it inside the swap."""
    problems: list[str] = []
    # restricted: row-level security enabled and forced (the owner too), the jurisdiction policy on every table
    for table, rls, force, policy in conn.execute(
            """select c.relname, c.relrowsecurity, c.relforcerowsecurity,
                      exists (select 1 from pg_policy p where p.polrelid = c.oid and p.polname = 'by_jurisdiction')
               from pg_class c join pg_namespace n on n.oid = c.relnamespace
               where n.nspname = %s and c.relkind in ('r', 'p')""", (restricted,)).fetchall():
        if not (rls and force and policy):
            problems.append(f"{restricted}.{table}: row-level security enabled={rls} forced={force} "
                            f"policy by_jurisdiction={policy}")
    # who may read what: no PUBLIC grant, dashboard only published, officials only restricted
    schemas = ["raw", "ops", "linkage", "staging", "intermediate", "snapshots", "reference", published, restricted,
               *BUILD_SCHEMAS]
    for schema, table, grantee, privilege in conn.execute(
            """select n.nspname, c.relname, coalesce(r.rolname, 'PUBLIC'), a.privilege_type
               from pg_class c join pg_namespace n on n.oid = c.relnamespace,
                    aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) as a
                    left join pg_roles r on r.oid = a.grantee
               where n.nspname = any(%s) and c.relkind in ('r', 'v', 'm', 'p')
                 and a.grantee <> c.relowner""", (schemas,)).fetchall():
        allowed = {
            "PUBLIC": set(),
            DASHBOARD: {published, "audit"},
            OFFICIAL: {restricted, "audit_restricted", "ops"},
            OFFICER: {"ops"},
            GATE: {"raw", "ops", "intermediate", "linkage", "audit", published},
            READER: {"ops", "intermediate"},
        }
        if grantee in allowed and schema not in allowed[grantee]:
            problems.append(f"{grantee} holds {privilege} on {schema}.{table}")
        if grantee in (DASHBOARD, OFFICIAL, OFFICER, READER) and privilege != "SELECT":
            problems.append(f"{grantee} holds {privilege} on {schema}.{table} (read-only role)")
    for role, schema in [(TRANSFORMER, published), (TRANSFORMER, restricted), (LOADER, published),
                         (LOADER, restricted), (DASHBOARD, restricted), (OFFICIAL, published), (GATE, restricted),
                         (READER, restricted), (READER, published), (READER, "raw")]:
        if conn.execute("select to_regnamespace(%s) is not null and has_schema_privilege(%s, %s, 'USAGE')",
                        (schema, role, schema)).fetchone()[0]:
            problems.append(f"{role} may use schema {schema}")
    if conn.execute("select to_regnamespace(%s) is not null and not has_schema_privilege(%s, %s, 'USAGE')",
                    (restricted, OFFICIAL, restricted)).fetchone()[0]:
        problems.append(f"{OFFICIAL} may not use schema {restricted}")
    # views run with the reader's privileges (security_invoker), never their owner's
    for schema, view in conn.execute(
            """select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
               where c.relkind = 'v' and n.nspname = any(%s)
                 and not coalesce('security_invoker=true' = any(c.reloptions), false)""", (schemas,)).fetchall():
        problems.append(f"view {schema}.{view} is not security_invoker")
    # officers: their policy on every ops table they read
    for table in OFFICER_TABLES:
        ok = conn.execute("""select c.relrowsecurity and exists (select 1 from pg_policies p where p.schemaname = 'ops'
                                    and p.tablename = %s and p.policyname = 'officer_own_feed')
                             from pg_class c where c.oid = to_regclass(%s)""", (table, f"ops.{table}")).fetchone()
        if ok is not None and not ok[0]:
            problems.append(f"ops.{table}: officer row-level security missing")
    return problems


def check_privileges(conn: psycopg.Connection, **kwargs: str) -> None:
    problems = privilege_problems(conn, **kwargs)
    if problems:
        raise PrivilegeDrift("grants or policies drifted from what the hub declares (govhub.roles); the "
                             "publication is refused: " + "; ".join(problems[:20]))
