"""Write-audit-publish: swap the validated `audit` schema into `published` in one transaction.

PostgreSQL has no schema swap; renaming schemas inside one transaction is atomic for readers (a query sees
the old or the new version, never a mix). The rename takes exclusive locks only briefly; the old version is
dropped in the same transaction, waiting for readers that still hold it. Grants on the schema are re-applied
here; table grants come from dbt (`grants:` config) and travel with the tables.
"""

from __future__ import annotations

import logging

from govhub import db

log = logging.getLogger(__name__)
DASHBOARD_ROLE = "dashboard_reader"


def publish(run_id: str, batches: list[str] | None = None, message: str | None = None) -> int:
    with db.connect() as conn:
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(hashtextextended('publish', 0))")
            audit = conn.execute("select to_regnamespace('audit') is not null").fetchone()[0]
            if not audit:
                raise RuntimeError("nothing to publish: schema audit does not exist (run the build first)")
            tables = [r[0] for r in conn.execute(
                "select tablename from pg_tables where schemaname = 'audit' order by 1")]
            conn.execute("set local lock_timeout = '60s'")
            if conn.execute("select to_regnamespace('published') is not null").fetchone()[0]:
                conn.execute("alter schema published rename to published_previous")
            conn.execute("alter schema audit rename to published")
            conn.execute(f"grant usage on schema published to {DASHBOARD_ROLE}")
            conn.execute(f"grant select on all tables in schema published to {DASHBOARD_ROLE}")
            conn.execute("drop schema if exists published_previous cascade")
            version = conn.execute(
                """insert into ops.publication (run_id, tables, batches, gate_success, message)
                   values (%s, %s, %s, true, %s) returning version""",
                (run_id, tables, batches or [], message)).fetchone()[0]
    log.info("published version %d: %s", version, ", ".join(tables))
    return version


def record_blocked(run_id: str, message: str) -> None:
    with db.connect() as conn:
        conn.execute(
            "insert into ops.publication (run_id, tables, batches, gate_success, message) values (%s, '{}', '{}', false, %s)",
            (run_id, message[:4000]))
