"""Resolve a feed's endpoint through Airflow's connection API — nothing else.

A feed's ``connection`` (sources.yml) is an Airflow connection id. It is looked up the way Airflow looks up
any connection: ``AIRFLOW_CONN_<ID>`` environment variables, the configured secrets backend (Vault, AWS …)
and the metadata database (``airflow connections add``, the UI). Inside a task this is ``BaseHook``'s
lookup (the Task SDK asks the API server, which reads the metadata database); outside one (``hub backfill``,
the tests) Airflow's server-side chain, which includes the metadata database.

There is no fallback: a missing connection is an error that names the id and how to define it. The embedded
stack defines the simulator's connections explicitly (:func:`define_simulator_connections`, run by
``hub up``), in the metadata database, marked as simulated, so a real one is never overwritten.

Connection types:

* sql feeds — ``postgres``, opened with the Postgres provider's ``PostgresHook`` (psycopg 3): host (may be a
  socket directory), port, login, password, schema = database; extras as the hook reads them (``sslmode``,
  ``options``, ``iam`` …).
* files feeds — ``fs`` (the standard provider's FSHook type): ``extra.path`` is the exchange directory.
  ``file:///path`` URIs are read too.
* http feeds — ``http``/``https``: host, port, login = clientId, password = clientSecret, schema = base path.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, Any

from govhub.extract.loader import FeedError
from govhub.extract.registry import Feed

if TYPE_CHECKING:
    import psycopg
    from airflow.sdk import Connection

log = logging.getLogger(__name__)

SIMULATED = "govhub: simulated department of the embedded stack (hub up)"
EXAMPLES = {
    "sql": ("postgres", "--conn-host db.department.example --conn-port 5432 --conn-login hub "
            "--conn-password '…' --conn-schema DATABASE", "postgres://hub:…@db.department.example:5432/DATABASE"),
    "files": ("fs", "--conn-extra '{\"path\": \"/srv/exchange/FEED\"}'",
              "'{\"conn_type\": \"fs\", \"extra\": {\"path\": \"/srv/exchange/FEED\"}}'"),
    "http": ("https", "--conn-host api.department.example --conn-login CLIENT_ID --conn-password CLIENT_SECRET",
             "https://CLIENT_ID:CLIENT_SECRET@api.department.example"),
}


class ConnectionMissing(FeedError):
    """The feed's Airflow connection is not defined anywhere Airflow looks."""


def how_to_define(feed: Feed) -> str:
    conn_type, cli, uri = EXAMPLES[feed.kind]
    name = feed.name.upper()
    return (f"define Airflow connection {feed.connection!r} ({feed.department}): "
            f"`airflow connections add {feed.connection} --conn-type {conn_type} {cli.replace('FEED', feed.name)}`, "
            f"or AIRFLOW_CONN_{feed.connection.upper()}={uri.replace('FEED', feed.name).replace('DATABASE', name)}"
            ", or your secrets backend; for the embedded demo run `hub up`")


def _in_task() -> bool:
    runner = sys.modules.get("airflow.sdk.execution_time.task_runner")
    return getattr(runner, "SUPERVISOR_COMMS", None) is not None


def get_connection(feed: Feed) -> Connection:
    """The feed's Airflow connection, or :class:`ConnectionMissing` naming its id and how to define it."""
    if _in_task():
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException, AirflowRuntimeError

        try:
            return BaseHook.get_connection(feed.connection)
        except (AirflowNotFoundException, AirflowRuntimeError) as exc:
            raise ConnectionMissing(feed.name, "*", None, f"Airflow connection {feed.connection!r} is not defined",
                                    how_to_define(feed)) from exc
    if "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" not in os.environ:  # the embedded stack's Airflow
        from govhub import airflow_env

        airflow_env.ensure_metadata_db()
    from airflow.exceptions import AirflowNotFoundException
    from airflow.models.connection import Connection as StoredConnection

    try:
        return StoredConnection.get_connection_from_secrets(feed.connection)
    except AirflowNotFoundException as exc:
        raise ConnectionMissing(feed.name, "*", None, f"Airflow connection {feed.connection!r} is not defined",
                                how_to_define(feed)) from exc


def _wrong_type(feed: Feed, conn: Any, expected: str) -> ConnectionMissing:
    return ConnectionMissing(feed.name, "*", None, f"Airflow connection {feed.connection!r} has type "
                             f"{conn.conn_type!r}, a {feed.kind} feed needs {expected}", how_to_define(feed))


def sql_connect(feed: Feed, connect_timeout: int = 10) -> psycopg.Connection:
    """A psycopg 3 connection to a sql feed's database, opened by the Postgres provider's ``PostgresHook``
    from the feed's connection (extras such as ``sslmode``, ``options`` or ``iam`` work as in any Airflow DAG)."""
    import copy
    import json

    from airflow.providers.postgres.hooks.postgres import USE_PSYCOPG3, PostgresHook

    conn = get_connection(feed)
    if conn.conn_type not in ("postgres", "postgresql"):
        raise _wrong_type(feed, conn, "'postgres'")
    if not USE_PSYCOPG3:  # pragma: no cover (SQLAlchemy 2 + psycopg 3 are pinned)
        raise RuntimeError("PostgresHook does not use psycopg 3 here: the extract needs it")
    conn = copy.deepcopy(conn)
    conn.extra = json.dumps({"connect_timeout": connect_timeout, **conn.extra_dejson})
    return PostgresHook(postgres_conn_id=feed.connection, connection=conn).get_conn()


def files_directory(feed: Feed) -> str:
    """The exchange directory of a files feed (``fs`` connection's ``extra.path``, or a ``file://`` URI)."""
    conn = get_connection(feed)
    if conn.conn_type == "fs" and conn.extra_dejson.get("path"):
        return str(conn.extra_dejson["path"])
    if conn.conn_type == "file":  # AIRFLOW_CONN_X=file:///srv/exchange/x: Airflow keeps the path in schema
        return "/" + (conn.schema or "").lstrip("/")
    raise _wrong_type(feed, conn, "'fs' with extra {\"path\": …}")


def http_endpoint(feed: Feed) -> tuple[str, str, str]:
    """(base_url, client_id, client_secret) of an http feed."""
    conn = get_connection(feed)
    host = conn.host or ""
    if "://" in host:  # HttpHook style: the scheme in the host field
        scheme, host = host.split("://", 1)
    else:
        scheme = conn.conn_type if conn.conn_type in ("http", "https") else str(conn.extra_dejson.get("scheme", ""))
    if scheme not in ("http", "https") or not host:
        raise _wrong_type(feed, conn, "'http' or 'https' with a host")
    path = ("/" + conn.schema.strip("/")) if conn.schema else ""
    base = f"{scheme}://{host.rstrip('/')}" + (f":{conn.port}" if conn.port else "") + path
    return base, conn.login or "", conn.password or ""


def simulator_connections(home=None) -> dict[str, dict[str, Any]]:
    """The connections of the simulated departments of the embedded stack, by connection id."""
    import json

    from govhub import db
    from govhub.extract.registry import load_registry
    from govhub.settings import exchange_dir, hub_home

    address = db.server()
    out: dict[str, dict[str, Any]] = {}
    for feed in load_registry().values():
        if feed.kind == "sql":
            out[feed.connection] = {"conn_type": "postgres", "host": address.host, "port": address.port,
                                    "login": address.user, "password": address.password or None,
                                    "schema": feed.options["simulated_database"]}
        elif feed.kind == "files":
            out[feed.connection] = {"conn_type": "fs", "extra": json.dumps({"path": str(exchange_dir(feed.name))})}
        elif feed.kind == "http":
            info = json.loads(((home or hub_home()) / "justice.json").read_text())
            scheme, rest = str(info["url"]).split("://", 1)
            host, _, port = rest.rstrip("/").partition(":")
            out[feed.connection] = {"conn_type": scheme, "host": host, "port": int(port) if port else None,
                                    "login": str(info["clientId"]), "password": str(info["clientSecret"])}
    return out


def define_simulator_connections(home=None) -> list[str]:
    """Define (or refresh) the simulated departments' connections in Airflow's metadata database.

    A connection that exists and is not marked as simulated (someone pointed the feed at a real department)
    is left alone. Returns the connection ids written."""
    from govhub import airflow_env

    airflow_env.ensure_metadata_db()
    from airflow.models.connection import Connection as StoredConnection
    from airflow.utils.session import create_session

    written = []
    with create_session() as session:
        for conn_id, fields in simulator_connections(home).items():
            existing = session.query(StoredConnection).filter(StoredConnection.conn_id == conn_id).one_or_none()
            if existing is not None and existing.description != SIMULATED:
                log.info("connection %s is defined (not simulated): left as it is", conn_id)
                continue
            if existing is not None:
                session.delete(existing)
                session.flush()
            session.add(StoredConnection(conn_id=conn_id, description=SIMULATED, **fields))
            written.append(conn_id)
    return written
