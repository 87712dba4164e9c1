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


# --- the scale overlay (docs/scaling.md): Celery executor + Redis, Citus warehouse, Spark for linkage -----------

SCALE = REPO_ROOT / "deploy" / "compose.scale.yml"
AIRFLOW_SERVICES = ("airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")


def merge_compose(base: dict, override: dict) -> dict:
    """`docker compose -f base -f override` for the keys these files use: mappings merge key by key (an
    override's environment adds to and replaces the base's), anything else is replaced."""
    out = dict(base)
    for key, value in override.items():
        out[key] = merge_compose(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def merged_stack() -> dict:
    """The two files as Compose combines them, `extends` (of a docker-compose.yml service) resolved: the extended
    service's settings less its depends_on (never inherited), then the service's own on top."""
    base = yaml.safe_load(COMPOSE.read_text())
    merged = merge_compose(base, yaml.safe_load(SCALE.read_text()))
    for name, service in merged["services"].items():
        parent = service.pop("extends", None)
        if parent:
            assert parent["file"] == "docker-compose.yml", name  # relative to the first file: the repository root
            inherited = {k: v for k, v in merged["services"][parent["service"]].items() if k != "depends_on"}
            merged["services"][name] = merge_compose(inherited, service)
    return merged


def test_scale_overlay_follows_the_compose_specification(tmp_path):
    assert check_compose(SCALE).returncode == 0, check_compose(SCALE).stdout
    merged = merged_stack()
    path = tmp_path / "merged.yml"
    path.write_text(yaml.safe_dump(merged))
    result = check_compose(path)
    assert result.returncode == 0, result.stdout + result.stderr
    # the check can fail on the overlay: a worker count that is a list is rejected
    broken = yaml.safe_load(SCALE.read_text())
    broken["services"]["airflow-worker"]["deploy"]["replicas"] = [2]
    path.write_text(yaml.safe_dump(broken))
    assert check_compose(path).returncode != 0


def test_scale_overlay_runs_celery_workers_and_a_citus_warehouse():
    base = yaml.safe_load(COMPOSE.read_text())
    overlay = yaml.safe_load(SCALE.read_text())
    services = merged_stack()["services"]
    added = set(overlay["services"]) - set(base["services"])
    assert {"redis", "airflow-worker", "citus-coordinator", "citus-worker", "spark-master", "spark-worker"} <= added
    for name in added:  # nothing the overlay adds starts without `--profile scale`
        assert services[name].get("profiles") == ["scale"], name
    broker = services["airflow-scheduler"]["environment"]["AIRFLOW__CELERY__BROKER_URL"]
    assert broker.startswith("redis://redis:")
    for name in (*AIRFLOW_SERVICES, "airflow-worker"):
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"] == broker, name
        # the base file's settings survive the overlay (DAG folder; connections and secrets where tasks run)
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/hub/dags", name
        assert "@citus-coordinator:5432" in env["HUB_DATABASE_URL"], name
        assert services[name]["image"] == "govhub-scale:latest", name
        runs_tasks = name in ("airflow-scheduler", "airflow-worker")
        assert ("AIRFLOW_CONN_POLICE_DB" in env) == runs_tasks, name
        holds_password = "${HUB_PG_PASSWORD" in env["HUB_DATABASE_URL"]  # (its `:?` stops urlsplit reading it)
        assert holds_password == runs_tasks, name  # least privilege kept
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://airflow:"), name
    worker = services["airflow-worker"]
    assert worker["command"][:3] == ["airflow", "celery", "worker"]
    # `--scale airflow-worker=N` needs workers without a fixed name or host port
    for name in ("airflow-worker", "citus-worker", "spark-worker"):
        assert "container_name" not in services[name] and "ports" not in services[name], name
        assert "replicas" in services[name]["deploy"], name
    register = (REPO_ROOT / "deploy" / "citus-register-worker.sh").read_text()
    assert "citus_add_node" in register and "./deploy/citus-register-worker.sh" in services["citus-worker"]["volumes"][0]
    # the scale image is the hub's image plus the Celery provider and PySpark: every step of Dockerfile is in it
    scale_docker = (REPO_ROOT / "deploy" / "Dockerfile.scale").read_text()
    for line in (REPO_ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith(("COPY", "RUN", "FROM", "ENV", "USER", "WORKDIR")) or line.startswith("    &&"):
            assert line in scale_docker, line
    assert "apache-airflow-providers-celery[redis]" in scale_docker and "pyspark" in scale_docker
    assert services["hub-init"]["build"]["dockerfile"] == "deploy/Dockerfile.scale"


def test_scaling_doc_names_real_tables_and_columns():
    """docs/scaling.md's Citus plan: every table it distributes or replicates is a dbt model of this project, and
    a distribution column is one of that model's documented columns (or one the doc says dbt must add)."""
    import glob
    import re

    doc = (REPO_ROOT / "docs" / "scaling.md").read_text(encoding="utf-8")
    models: dict[str, set[str]] = {}
    for f in glob.glob(str(REPO_ROOT / "dbt_project" / "models" / "**" / "_*.yml"), recursive=True):
        for m in (yaml.safe_load(Path(f).read_text(encoding="utf-8")) or {}).get("models", []) or []:
            models[m["name"]] = {c["name"] for c in m.get("columns", [])}
    seeds = {Path(p).stem for p in glob.glob(str(REPO_ROOT / "dbt_project" / "seeds" / "*.csv"))}
    rows = re.findall(r"^\| `([a-z_]+)` \| (distributed|reference|local)(?: on `([a-z_]+)`)?(?: \(added\))? \|",
                      doc, flags=re.M)
    assert len(rows) >= 10, "the Citus table plan in docs/scaling.md is missing"
    kinds = {kind for _, kind, _ in rows}
    assert {"distributed", "reference"} <= kinds
    for table, kind, column in rows:
        assert table in models or table in seeds, f"{table} is not a dbt model or seed"
        if kind == "distributed":
            added = f"| `{table}` | distributed on `{column}` (added) |" in doc
            assert column and (column in models[table] or added), f"{table}.{column}"
