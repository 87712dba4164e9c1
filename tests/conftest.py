"""Test session: one private HUB_HOME (embedded PostgreSQL, Airflow home) for the whole run.

HUB_HOME is set at import time, before anything imports Airflow (which reads its configuration then).

A full first pass of the tiny county costs two to three minutes, and many modules start from exactly that state
and then change it (advance a day, break a feed, insert records). ``tiny_county`` runs that pass once per test
process and snapshots what it left — the warehouse, the department systems and the truth as PostgreSQL template
databases, the drop folders, GX context and reports as copies — and gives each module that asks for it the same
state restored. Modules whose first pass differs (another dialect, keys or hostile rows before the pass) build
their own.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

_HOME = Path(tempfile.mkdtemp(prefix="hubtest-"))
os.environ["HUB_HOME"] = str(_HOME)
os.environ.pop("HUB_DATABASE_URL", None)
os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
os.environ["HUB_RETRY_DELAY_SECONDS"] = "1"  # a failing extract fails its DAG in seconds

from govhub import db, embedded_pg  # noqa: E402
from govhub.settings import SOURCE_DBS, TRUTH_DB, WAREHOUSE_DB  # noqa: E402


@pytest.fixture(scope="session")
def hub_env():
    """The embedded PostgreSQL with the hub's databases and the justice API; stopped and removed after the session."""
    from govhub.sim import justice

    db.ensure_databases()
    justice.start_background(_HOME)  # the simulated justice API, as `hub up` runs it
    from govhub.extract.connections import define_simulator_connections

    define_simulator_connections(_HOME)  # the departments' Airflow connections, as `hub up` defines them
    yield _HOME


def pytest_sessionfinish(session, exitstatus):
    from govhub.sim import justice

    justice.stop_background(_HOME)
    embedded_pg.stop()
    shutil.rmtree(_HOME, ignore_errors=True)


def reset_warehouse() -> None:
    """Drop everything the pipeline wrote, so a test module starts from an empty warehouse."""
    db.drop_warehouse_schemas()


def write_audit(k: int) -> None:
    """A stand-in build k in the audit schema for the publication swap's tests: two tables whose row counts and
    ``version`` column say which build a reader sees (1,000 + k and 2,000 + k rows)."""
    with db.connect() as conn:
        conn.execute("drop schema if exists audit cascade")
        conn.execute("create schema audit")
        conn.execute(f"create table audit.fact as select g as id, {k} as version from generate_series(1, {1000 + k}) g")
        conn.execute(f"create table audit.dim as select g as id, {k} as version from generate_series(1, {2000 + k}) g")


# --- the tiny county after its first pass, built once per test process -------------------------------------------

SNAPSHOT_DATABASES = (WAREHOUSE_DB, TRUTH_DB, *SOURCE_DBS.values())  # not Airflow's: its history only grows
SNAPSHOT_DIRS = ("exchange", "gx", "reports")  # drop folders (and what the loader moved), GX context, scorecard
_SNAPSHOT_SUFFIX = "__tiny_first_pass"


@dataclass(frozen=True)
class FirstPass:
    """The tiny county's first pass: its DAG outcomes, when it started, and what `hub demo`'s console showed."""

    outcomes: list
    started: dt.datetime
    console: str


def _terminate(conn, database: str) -> None:
    conn.execute("select pg_terminate_backend(pid) from pg_stat_activity where datname = %s and pid <> pg_backend_pid()",
                  (database,))


def _database_grants(conn, database: str) -> list[tuple[str, str]] | None:
    """(grantee, privilege) of a database's ACL; None when it has the default ACL. A database made from a template
    does not inherit the template's ACL (``revoke ... from public`` of roles.py), so restore replays it."""
    acl = conn.execute("select datacl is null from pg_database where datname = %s", (database,)).fetchone()[0]
    if acl:
        return None
    return [(r[0], r[1]) for r in conn.execute(
        "select case when a.grantee = 0 then 'public' else quote_ident(a.grantee::regrole::text) end, a.privilege_type "
        "from pg_database d, aclexplode(d.datacl) a where d.datname = %s", (database,))]


def _copy_database(conn, source: str, target: str, snapshot: bool = False) -> None:
    from psycopg import sql

    for name in (source, target):
        _terminate(conn, name)
    conn.execute(sql.SQL("drop database if exists {}").format(sql.Identifier(target)))
    # nobody connects to a snapshot: it never shows up as a database a role can read
    extra = sql.SQL(" allow_connections = false" if snapshot else "")
    conn.execute(sql.SQL("create database {} template {}").format(sql.Identifier(target), sql.Identifier(source)) + extra)


def snapshot_tiny_county(home: Path) -> dict:
    grants = {}
    with db.connect("postgres", autocommit=True) as conn:
        for name in SNAPSHOT_DATABASES:
            grants[name] = _database_grants(conn, name)
            _copy_database(conn, name, name + _SNAPSHOT_SUFFIX, snapshot=True)
    for d in SNAPSHOT_DIRS:
        shutil.rmtree(home / "snapshot" / d, ignore_errors=True)
        if (home / d).exists():
            shutil.copytree(home / d, home / "snapshot" / d, symlinks=True)  # copy2: modification times kept
    return grants


def restore_tiny_county(home: Path, grants: dict) -> None:
    from psycopg import sql

    with db.connect("postgres", autocommit=True) as conn:
        for name in SNAPSHOT_DATABASES:
            _copy_database(conn, name + _SNAPSHOT_SUFFIX, name)
            if grants[name] is not None:
                conn.execute(sql.SQL("revoke all on database {} from public").format(sql.Identifier(name)))
                for grantee, privilege in grants[name]:
                    conn.execute(sql.SQL("grant {} on database {} to {}").format(
                        sql.SQL(privilege), sql.Identifier(name), sql.SQL(grantee)))
    for d in SNAPSHOT_DIRS:
        shutil.rmtree(home / d, ignore_errors=True)
        if (home / "snapshot" / d).exists():
            shutil.copytree(home / "snapshot" / d, home / d, symlinks=True)


@pytest.fixture(scope="session")
def _tiny_first_pass(hub_env):
    """Once per test process: the tiny county generated and run through every DAG (as `hub demo` shows it)."""
    from rich.console import Console

    from govhub.cli import print_summary
    from govhub.console import PipelineView
    from govhub.orchestrate import run_pipeline
    from govhub.sim import justice, runner

    reset_warehouse()
    runner.generate("tiny", reset=True)
    justice.start_background()  # idempotent: the session's simulated justice API
    shown = io.StringIO()
    out = Console(file=shown, width=100, soft_wrap=True)
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    with PipelineView(out, live=False) as view:
        outcomes = run_pipeline(view=view)
    print_summary(out, t0)
    first = FirstPass(outcomes=outcomes, started=started, console=shown.getvalue())
    grants = snapshot_tiny_county(hub_env)
    return first, grants


@pytest.fixture(scope="module")
def tiny_county(hub_env, _tiny_first_pass) -> FirstPass:
    """The tiny county as its first pass left it, restored for this module, which may change it at will."""
    first, grants = _tiny_first_pass
    restore_tiny_county(hub_env, grants)
    return first
