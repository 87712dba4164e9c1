"""Connections to the hub's PostgreSQL server (embedded or ``HUB_DATABASE_URL``)."""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import psycopg
from psycopg import sql

from govhub import embedded_pg
from govhub.settings import AIRFLOW_DB, SOURCE_DBS, TRUTH_DB, WAREHOUSE_DB, ServerAddress, server_from_url

ALL_DATABASES = (WAREHOUSE_DB, AIRFLOW_DB, TRUTH_DB, *SOURCE_DBS.values())


def server(start: bool = True) -> ServerAddress:
    """The server address: ``HUB_DATABASE_URL`` if set, else the embedded server (started on demand)."""
    url = os.environ.get("HUB_DATABASE_URL")
    if url:
        return server_from_url(url)
    address = embedded_pg.running_address()
    if address is None:
        if not start:
            raise RuntimeError("embedded PostgreSQL is not running: run `hub up` (or set HUB_DATABASE_URL)")
        address = embedded_pg.start()
    return address


# The hub's component roles (govhub.roles creates them). A component connects to the warehouse as its role:
# extracts as LOADER, dbt and linkage as TRANSFORMER, the swap as PUBLISHER, the GX gates and the scorecard as
# GATE (reads what they check, writes their results to ops), `hub status` as READER (ops bookkeeping only).
LOADER, TRANSFORMER, PUBLISHER = "hub_loader", "hub_transformer", "hub_publisher"
GATE, READER = "hub_gate", "hub_reader"
_acting_role: contextvars.ContextVar[str | None] = contextvars.ContextVar("govhub_db_role", default=None)


@contextlib.contextmanager
def acting_as(role: str) -> Iterator[None]:
    """Inside this block, ``connect()`` / ``conninfo()`` to the warehouse log in as ``role``."""
    token = _acting_role.set(role)
    try:
        yield
    finally:
        _acting_role.reset(token)


def role_address(role: str) -> ServerAddress:
    """The server address logged in as a component role. Its password comes from ``HUB_PG_PASSWORD_<ROLE>``
    (e.g. ``HUB_PG_PASSWORD_LOADER``); the embedded server trusts its socket and needs none."""
    env = "HUB_PG_PASSWORD_" + role.removeprefix("hub_").upper()
    return server().as_user(role, os.environ.get(env, ""))


def conninfo(database: str = WAREHOUSE_DB, role: str | None = None) -> str:
    role = role or _acting_role.get()
    if role and database == WAREHOUSE_DB:
        return role_address(role).conninfo(database)
    return server().conninfo(database)


def connect(database: str = WAREHOUSE_DB, autocommit: bool = False, role: str | None = None,
            **kwargs: Any) -> psycopg.Connection:
    """A connection to ``database``: as the admin of ``HUB_DATABASE_URL`` (or the embedded superuser), or as
    ``role`` (or the role of an enclosing ``acting_as``) for the warehouse."""
    return psycopg.connect(conninfo(database, role), autocommit=autocommit, **kwargs)


def connect_admin(database: str = WAREHOUSE_DB, autocommit: bool = False, **kwargs: Any) -> psycopg.Connection:
    """A connection as the admin even inside ``acting_as`` (setting up roles and DDL only)."""
    return psycopg.connect(server().conninfo(database), autocommit=autocommit, **kwargs)


def ensure_databases(names: Iterable[str] = ALL_DATABASES) -> list[str]:
    """Create the hub's databases that do not exist yet; returns the ones created."""
    created = []
    with connect("postgres", autocommit=True) as conn:
        existing = {r[0] for r in conn.execute("select datname from pg_database")}
        for name in names:
            if name not in existing:
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
                created.append(name)
    return created


def query(statement: str, params: Sequence[Any] | None = None, database: str = WAREHOUSE_DB,
          role: str | None = None) -> tuple[list[str], list[tuple]]:
    """Run one statement (as ``role``, or the enclosing ``acting_as`` role, or the admin); return (column names, rows)."""
    with connect(database, role=role) as conn, conn.cursor() as cur:
        cur.execute(statement, params)
        if cur.description is None:
            conn.commit()
            return [], []
        return [d.name for d in cur.description], cur.fetchall()


def format_table(columns: list[str], rows: list[tuple], max_width: int = 40) -> str:
    """A plain-text table aligned by display width: a Chinese character takes two columns (rich's cell_len)."""
    from rich.cells import cell_len

    from govhub.console import clip, pad

    cells = [[clip("" if v is None else str(v), max_width) for v in row] for row in rows]
    widths = [max([cell_len(c)] + [cell_len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = [" | ".join(pad(c, w) for c, w in zip(columns, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(pad(v, w) for v, w in zip(r, widths, strict=True)) for r in cells]
    lines.append(f"({len(rows)} rows)")
    return "\n".join(lines)


def drop_warehouse_schemas() -> None:
    """Drop every schema the pipeline wrote (all but PostgreSQL's own and ``public``), so the next pass starts
    from an empty warehouse: a schema added by a model or a connector is dropped without a list."""
    with connect() as conn:
        schemas = [r[0] for r in conn.execute(
            "select nspname from pg_namespace where nspname not like 'pg\\_%' and nspname not in "
            "('information_schema', 'public')")]
        for schema in schemas:
            conn.execute(f'drop schema if exists "{schema}" cascade')
