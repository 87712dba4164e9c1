"""docker-compose.yml is valid Compose and consistent with the repo (no Docker engine here to run it)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from govhub.extract.registry import load_registry
from govhub.settings import REPO_ROOT

COMPOSE = REPO_ROOT / "docker-compose.yml"


def check_compose(path: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent)) or "check-jsonschema"
    return subprocess.run([exe, "--builtin-schema", "vendor.compose-spec", str(path)], capture_output=True, text=True)


def test_compose_file_follows_the_compose_specification(tmp_path):
    result = check_compose(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr
    # the check can fail: the same file with a malformed port list is rejected
    spec = yaml.safe_load(COMPOSE.read_text())
    spec["services"]["postgres"]["ports"] = {"not": "a list"}
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(yaml.safe_dump(spec))
    assert check_compose(broken).returncode != 0


def test_compose_stack_matches_the_repo():
    spec = yaml.safe_load(COMPOSE.read_text())
    services = spec["services"]
    assert {"postgres", "airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"} <= set(
        services)
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    for path in ("requirements.lock", "src", "dags", "plugins", "dbt_project", "expectations"):
        assert (REPO_ROOT / path).exists() and f" {path}" in dockerfile, path
    env = services["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/hub/dags"
    # every feed of the registry has its endpoint configured: a feed without a connection fails
    for feed in load_registry().values():
        assert f"AIRFLOW_CONN_{feed.connection.upper()}" in env, feed.name
    init_sql = (REPO_ROOT / "deploy" / "postgres-init.sql").read_text()
    for database in ("warehouse", "airflow", "src_police", "src_grid", "src_health", "sim_truth"):
        assert f"create database {database};" in init_sql


def test_each_service_holds_only_its_roles_credentials():
    """The UI-side Airflow services hold no warehouse password; the scheduler (which runs the tasks) holds every
    component role's; Airflow's metadata has its own login, never the warehouse admin's."""
    from urllib.parse import urlsplit

    from govhub.roles import LOGIN_ROLES

    services = yaml.safe_load(COMPOSE.read_text())["services"]
    for name in ("airflow-api-server", "airflow-dag-processor", "airflow-triggerer"):
        env = services[name]["environment"]
        assert not [k for k in env if k.startswith("HUB_PG_PASSWORD") or k == "HUB_ID_HASH_KEY"], name
        assert not [k for k, v in env.items() if "${HUB_PG_PASSWORD" in str(v)], name
        assert urlsplit(env["HUB_DATABASE_URL"]).password is None, name
    scheduler = services["airflow-scheduler"]["environment"]
    for role in LOGIN_ROLES:  # every component role's password, in the name govhub.db.role_address reads
        assert "HUB_PG_PASSWORD_" + role.removeprefix("hub_").upper() in scheduler, role
    for service in services.values():
        metadata = service.get("environment", {}).get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
        if metadata:
            assert metadata.startswith("postgresql+psycopg://airflow:${AIRFLOW_PG_PASSWORD"), metadata
    init = (REPO_ROOT / "deploy" / "postgres-airflow-role.sh").read_text()
    assert "create role airflow login" in init and "alter database airflow owner to airflow" in init
    assert "./deploy/postgres-airflow-role.sh:/docker-entrypoint-initdb.d/20-airflow-role.sh:ro" in \
        services["postgres"]["volumes"]
    assert "shared_preload_libraries=pg_stat_statements" in services["postgres"]["command"]
