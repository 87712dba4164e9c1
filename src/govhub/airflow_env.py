"""Airflow configuration for the hub: everything lives inside the checkout (``HUB_HOME/airflow``).

Must run before ``airflow`` is imported: Airflow reads its configuration at import time.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from govhub import db
from govhub.settings import AIRFLOW_DB, REPO_ROOT, hub_home


def airflow_environment() -> dict[str, str]:
    address = db.server()
    home = hub_home() / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": address.url(AIRFLOW_DB, driver="postgresql+psycopg"),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        # The package is installed; DAG files stay thin and import it.
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT / "src"), os.environ.get("PYTHONPATH")])),
    }
    return env


def configure() -> dict[str, str]:
    """Set the Airflow environment in this process (idempotent) and return it."""
    env = airflow_environment()
    os.environ.update(env)
    return env


def ensure_metadata_db() -> None:
    """``airflow db migrate`` once per metadata database (stamp file avoids the 5 s on every command)."""
    env = configure()
    stamp = Path(env["AIRFLOW_HOME"]) / ".migrated"
    # the stamp names the metadata database by a digest of its URL: the file never holds the password
    url = hashlib.sha256(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].encode()).hexdigest()
    if stamp.exists() and stamp.read_text() == url:
        return
    db.ensure_databases([AIRFLOW_DB])
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True, env={**os.environ, **env},
                   stdout=subprocess.DEVNULL)
    stamp.write_text(url)
