"""Resolve a feed's endpoint: an Airflow connection (``AIRFLOW_CONN_<ID>``) when configured, else the
simulated department of the embedded stack. Pointing a feed at a real department is configuration only."""

from __future__ import annotations

import os

from govhub import db
from govhub.extract.registry import Feed
from govhub.settings import exchange_dir


def airflow_conn_uri(conn_id: str) -> str | None:
    return os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")


def sql_conninfo(feed: Feed) -> str:
    uri = airflow_conn_uri(feed.connection)
    if uri:
        # Airflow spells the scheme "postgres://"; libpq wants "postgresql://".
        return "postgresql://" + uri.split("://", 1)[1] if uri.startswith("postgres://") else uri
    return db.server().conninfo(feed.options["simulated_database"])


def files_directory(feed: Feed) -> str:
    uri = airflow_conn_uri(feed.connection)
    if uri and uri.startswith("file://"):
        return uri[len("file://"):]
    return str(exchange_dir(feed.name))
