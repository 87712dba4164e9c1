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
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

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
    """How to reach one PostgreSQL server; ``host`` may be a socket directory."""

    host: str
    port: int
    user: str
    password: str = ""

    def url(self, database: str, driver: str = "postgresql") -> str:
        auth = quote(self.user) + (":" + quote(self.password) if self.password else "")
        if self.host.startswith("/"):
            return f"{driver}://{auth}@/{database}?host={self.host}&port={self.port}"
        return f"{driver}://{auth}@{self.host}:{self.port}/{database}"

    def conninfo(self, database: str) -> str:
        """libpq keyword string (psycopg), safe for socket directories."""
        parts = {"host": self.host, "port": str(self.port), "user": self.user, "dbname": database}
        if self.password:
            parts["password"] = self.password
        return " ".join(f"{k}='{v}'" for k, v in parts.items())


def server_from_url(url: str) -> ServerAddress:
    split = urlsplit(url)
    query = dict(p.split("=", 1) for p in split.query.split("&") if "=" in p)
    host = query.get("host") or split.hostname or "localhost"
    port = int(query.get("port") or split.port or 5432)
    return ServerAddress(host=host, port=port, user=split.username or "postgres", password=split.password or "")


def server_url_without_db(url: str) -> str:
    split = urlsplit(url)
    return urlunsplit((split.scheme, split.netloc, "", split.query, ""))
