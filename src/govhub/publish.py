"""Write-audit-publish: swap the validated `audit` schema into `published`, and `audit_restricted` into
`restricted`, in one transaction, as the publisher role.

PostgreSQL has no schema swap; renaming schemas inside one transaction is atomic for readers (a query sees
the old or the new version, never a mix). The rename takes exclusive locks only briefly; the old version is
dropped in the same transaction, waiting for readers that still hold it. Both schemas move together: a build the
gate blocks hands neither dashboards nor officials anything new.

Grants on the schemas are set here (the publisher owns them); table grants and the row-level-security policies
of restricted come from dbt (`grants:` config, macro jurisdiction_policy) and travel with the tables. Before
commit, govhub.roles.check_privileges compares grants and policies with what the hub declares and refuses the
swap on any drift. The transformer loses its usage of the swapped schemas: what it built, it can no longer
change once published.
"""

from __future__ import annotations

import logging

from psycopg import sql

from govhub import db, roles

log = logging.getLogger(__name__)
DASHBOARD_ROLE = roles.DASHBOARD
SWAPS = (("audit", "published", DASHBOARD_ROLE), ("audit_restricted", "restricted", roles.OFFICIAL))


def publish(run_id: str, batches: list[str] | None = None, message: str | None = None) -> int:
    with db.connect() as admin:  # roles and grants current (a no-op unless the hub's DDL changed)
        from govhub.ops import ensure_ops

        ensure_ops(admin)
        with admin.transaction():
            roles.ensure_build_schemas(admin)
    with db.connect(role=db.PUBLISHER) as conn:
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(hashtextextended('publish', 0))")
            tables = [r[0] for r in conn.execute(
                "select tablename from pg_tables where schemaname = 'audit' order by 1")]
            if not tables:  # (the swap leaves an empty audit behind for the next build)
                raise RuntimeError("nothing to publish: schema audit is missing or empty (run the build first)")
            conn.execute("set local lock_timeout = '60s'")
            for built, live, reader in SWAPS:
                if conn.execute("select to_regnamespace(%s) is null", (built,)).fetchone()[0]:
                    continue  # (no restricted model selected in this build: the live version stays)
                previous = sql.Identifier(f"{live}_previous")
                if conn.execute("select to_regnamespace(%s) is not null", (live,)).fetchone()[0]:
                    conn.execute(sql.SQL("alter schema {} rename to {}").format(sql.Identifier(live), previous))
                conn.execute(sql.SQL("alter schema {} rename to {}").format(sql.Identifier(built),
                                                                           sql.Identifier(live)))
                conn.execute(sql.SQL("revoke all on schema {} from public, {}").format(
                    sql.Identifier(live), sql.Identifier(db.TRANSFORMER)))
                conn.execute(sql.SQL("grant usage on schema {} to {}").format(sql.Identifier(live),
                                                                             sql.Identifier(reader)))
                if live == "published":  # the gate compares the next build's volume with it
                    conn.execute(sql.SQL("grant usage on schema published to {}").format(sql.Identifier(db.GATE)))
                conn.execute(sql.SQL("drop schema if exists {} cascade").format(previous))
                # the next build's schema, the publisher's, for the transformer to build into
                conn.execute(sql.SQL("create schema {}").format(sql.Identifier(built)))
                conn.execute(sql.SQL("grant usage, create on schema {} to {}").format(
                    sql.Identifier(built), sql.Identifier(db.TRANSFORMER)))
                if built == "audit":  # the publication gate validates the next build there
                    conn.execute(sql.SQL("grant usage on schema audit to {}").format(sql.Identifier(db.GATE)))
            roles.check_privileges(conn)  # raises PrivilegeDrift: the whole swap rolls back
            version = conn.execute(
                """insert into ops.publication (run_id, tables, batches, gate_success, message)
                   values (%s, %s, %s, true, %s) returning version""",
                (run_id, tables, batches or [], message)).fetchone()[0]
    log.info("published version %d: %s", version, ", ".join(tables))
    return version


def record_blocked(run_id: str, message: str) -> None:
    with db.connect(role=db.PUBLISHER) as conn:
        conn.execute(
            "insert into ops.publication (run_id, tables, batches, gate_success, message) values (%s, '{}', '{}', false, %s)",
            (run_id, message[:4000]))
