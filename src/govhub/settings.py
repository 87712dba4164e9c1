"""Where things live and how to reach them.

Everything is derived from two environment variables so the same code runs on the embedded stack and
against a server PostgreSQL:

* ``HUB_HOME`` – state directory (default: ``<checkout>/.hub``): embedded PostgreSQL data, Airflow home,
  exchange directories of the simulated departments, logs.
* ``HUB_DATABASE_URL`` – a server PostgreSQL URL *without* database (``postgresql://user:pw@host:5432``).
  When unset the embedded server under ``HUB_HOME/pgdata`` is used.

Department endpoints are Airflow connections (govhub.extract.connections); ``hub up`` defines the simulated
departments' connections in the embedded stack's Airflow metadata database.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parents[2]

# The databases the hub uses on one PostgreSQL server.
WAREHOUSE_DB = "warehouse"
AIRFLOW_DB = "airflow"
TRUTH_DB = "sim_truth"  # simulator's ground truth: never read by extract code
SOURCE_DBS = {"police": "src_police", "grid": "src_grid", "health": "src_health"}


def hub_home() -> Path:
    return Path(os.environ.get("HUB_HOME", REPO_ROOT / ".hub")).resolve()


def exchange_dir(source: str) -> Path:
    """Exchange directory where a file-dropping department writes (SFTP in production)."""
    return Path(os.environ.get(f"HUB_EXCHANGE_{source.upper()}", hub_home() / "exchange" / source))


@dataclass(frozen=True)
class ServerAddress:
    """How to reach one PostgreSQL server; ``host`` may be a socket directory.

    Connection strings are built by psycopg (``make_conninfo``) and SQLAlchemy (``URL.create``), never by hand:
    both quote and escape every value, so a password with ``'``, ``@`` or a space cannot change the connection's
    other parameters. ``repr`` never shows the password; print ``display_url`` rather than ``url``."""

    host: str
    port: int
    user: str
    password: str = field(default="", repr=False)

    def url(self, database: str, driver: str = "postgresql") -> str:
        """Full SQLAlchemy URL, password included: for a library's connection argument, never for a log."""
        return self._url(database, driver).render_as_string(hide_password=False)

    def display_url(self, database: str, driver: str = "postgresql") -> str:
        """The same URL with the password replaced by ``***`` (what may be printed or stored)."""
        return self._url(database, driver).render_as_string(hide_password=True)

    def _url(self, database: str, driver: str):
        from sqlalchemy.engine import URL

        if self.host.startswith("/"):
            return URL.create(driver, username=self.user, password=self.password or None, database=database,
                              query={"host": self.host, "port": str(self.port)})
        return URL.create(driver, username=self.user, password=self.password or None, host=self.host,
                          port=self.port, database=database)

    def conninfo(self, database: str) -> str:
        """libpq keyword string (psycopg), safe for socket directories and any character in a value."""
        from psycopg.conninfo import make_conninfo

        params = {"host": self.host, "port": str(self.port), "user": self.user, "dbname": database}
        if self.password:
            params["password"] = self.password
        return make_conninfo(**params)

    def as_user(self, user: str, password: str = "") -> ServerAddress:
        return ServerAddress(host=self.host, port=self.port, user=user, password=password)


def server_from_url(url: str) -> ServerAddress:
    split = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(split.query).items()}
    host = query.get("host") or split.hostname or "localhost"
    port = int(query.get("port") or split.port or 5432)
    return ServerAddress(host=host, port=port, user=unquote(split.username or "postgres"),
                         password=unquote(split.password or ""))


def server_url_without_db(url: str) -> str:
    split = urlsplit(url)
    return urlunsplit((split.scheme, split.netloc, "", split.query, ""))
