"""Test session: one private HUB_HOME (embedded PostgreSQL, Airflow home) for the whole run.

HUB_HOME is set at import time, before anything imports Airflow (which reads its configuration then).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

_HOME = Path(tempfile.mkdtemp(prefix="hubtest-"))
os.environ["HUB_HOME"] = str(_HOME)
os.environ.pop("HUB_DATABASE_URL", None)
os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
os.environ["HUB_RETRY_DELAY_SECONDS"] = "1"  # a failing extract fails its DAG in seconds

from govhub import db, embedded_pg  # noqa: E402


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
