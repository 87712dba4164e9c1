"""Run dbt (programmatic runner, one Airflow task) and report per-model results from its artifacts.

Why not one Airflow task per model (astronomer-cosmos)? On a ~40-model project the per-task overhead costs
more than the models, and a mode of it has been reported to mark failed models successful. Here a failing
model or test raises ``TransformError`` naming the nodes, which fails the Airflow task.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from govhub import db
from govhub.settings import REPO_ROOT, WAREHOUSE_DB, hub_home

log = logging.getLogger(__name__)
DBT_DIR = REPO_ROOT / "dbt_project"


def target_dir() -> Path:
    """Where dbt writes its artefacts (manifest, compiled SQL, docs site): under HUB_HOME, not the checkout, so the
    code can be read-only and two hubs (or two test workers) on one checkout never overwrite each other's build."""
    return hub_home() / "dbt" / "target"


def dbt_log_dir() -> Path:
    return hub_home() / "dbt" / "logs"


class TransformError(RuntimeError):
    """dbt failed; ``failed`` holds the nodes that errored or failed (empty when dbt itself could not run)."""

    def __init__(self, message: str, failed: list[NodeResult] | None = None, nodes: list[NodeResult] | None = None):
        super().__init__(message)
        self.failed = failed or []
        self.nodes = nodes or []


@dataclass
class NodeResult:
    node: str
    status: str
    seconds: float
    message: str | None


def dbt_environment() -> dict[str, str]:
    """dbt logs in as the transformer role (govhub.roles), never as the admin."""
    from govhub import keys

    address = db.role_address(db.TRANSFORMER)
    return {"HUB_PG_HOST": address.host, "HUB_PG_PORT": str(address.port), "HUB_PG_USER": address.user,
            "HUB_PG_PASSWORD": address.password, "HUB_PG_DBNAME": WAREHOUSE_DB,
            "HUB_DEMO_KEY_ALLOWED": "embedded" if keys.embedded() else "",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}


def prepare() -> None:
    """Before dbt: roles and grants current, the pseudonymisation key installed (refused if it is the demo key
    outside the embedded stack), and the publisher's audit schemas ready for the transformer to build into."""
    from govhub import keys, roles
    from govhub.ops import ensure_ops

    with db.connect() as conn:
        ensure_ops(conn)
        keys.ensure_id_hash_key(conn)
        with conn.transaction():
            roles.ensure_build_schemas(conn)


def macros_fingerprint() -> str:
    """A digest of dbt_project/macros: the ``code_fingerprint`` var. Incremental models fold it into the fingerprint
    of the code their rows depend on, so a deploy that changes a staging macro (how an ID number is repaired, a
    code dictionary) rebuilds their rows; dbt's node checksums cover a model's own SQL, not the macros it expands.
    Constant between deploys, so dbt's partial parse stays valid."""
    digest = hashlib.sha256()
    for path in sorted((DBT_DIR / "macros").rglob("*.sql")):
        digest.update(path.relative_to(DBT_DIR).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def run_dbt(args: list[str]) -> list[NodeResult]:
    """Invoke dbt in-process; raise TransformError when any node errors or fails."""
    from dbt.cli.main import dbtRunner

    from govhub.freshness import dbt_vars

    prepare()
    os.environ.update(dbt_environment())
    started = time.perf_counter()
    # the same vars on every invocation (registry-derived, not time-dependent): dbt's partial parse stays valid
    full = [*args, "--vars", json.dumps({**dbt_vars(), "code_fingerprint": macros_fingerprint()}, sort_keys=True),
            "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
            "--target-path", str(target_dir()), "--log-path", str(dbt_log_dir())]
    result = dbtRunner().invoke(full)
    nodes: list[NodeResult] = []
    if result.result is not None and hasattr(result.result, "results"):
        for r in result.result.results:
            node_id = r.node.unique_id if hasattr(r, "node") else getattr(r, "unique_id", "operation")
            nodes.append(NodeResult(node_id, str(r.status), float(r.execution_time or 0), r.message))
    failed = [n for n in nodes if n.status in ("error", "fail", "runtime error")]
    log.info("dbt %s: %d nodes in %.1fs, %d failed", " ".join(args), len(nodes), time.perf_counter() - started,
             len(failed))
    if failed or not result.success:
        detail = "; ".join(f"{n.node}: {n.status} ({(n.message or '')[:300]})" for n in failed) or str(result.exception)
        raise TransformError(f"dbt {' '.join(args)} failed: {detail}", failed, nodes)
    return nodes


def manifest() -> dict:
    """dbt's manifest of the last parse/build (manifest.json in ``target_dir()``)."""
    return json.loads((target_dir() / "manifest.json").read_text(encoding="utf-8"))


def upstream_sources(node_id: str, parents: dict[str, list[str]]) -> set[str]:
    """Every source (``source.<project>.<source>.<table>``) that ``node_id`` reads, directly or through models."""
    seen: set[str] = set()
    stack = [node_id]
    while stack:
        for parent in parents.get(stack.pop(), []):
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return {n for n in seen if n.startswith("source.")}


def source_freshness() -> dict[str, str]:
    """``dbt source freshness`` (thresholds from govhub.freshness through ``hub_freshness``): feed -> ``pass`` or
    ``warn`` (late), the worst of its tables; dbt also writes ``sources.json`` for the docs site."""
    worst: dict[str, str] = {}
    for n in run_dbt(["source", "freshness"]):
        if n.node.startswith("source."):
            feed = n.node.split(".")[2]
            if worst.get(feed) != "warn":
                worst[feed] = n.status
    return worst


SEEDS_DIR = DBT_DIR / "seeds"
SEEDS_SCHEMA = "reference"  # dbt_project.yml: seeds +schema


def seed_checksums() -> dict[str, str]:
    """Seed name -> a digest of its CSV and of the seeds' yml (column types, tests): what its table is loaded from."""
    config = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(SEEDS_DIR.glob("*.yml")))).hexdigest()
    return {p.stem: hashlib.sha256(config.encode() + p.read_bytes()).hexdigest()[:32]
            for p in sorted(SEEDS_DIR.glob("*.csv"))}


def loaded_seeds() -> list[str]:
    """The seeds whose table holds their file as it is now (ops.seed_load, and the table exists): not reloaded."""
    checksums = seed_checksums()
    with db.connect() as conn:
        rows = conn.execute("""select s.seed, s.checksum from ops.seed_load as s
                               where to_regclass(format('%%I.%%I', %s::text, s.seed)) is not null""",
                            (SEEDS_SCHEMA,)).fetchall()
    return sorted(seed for seed, checksum in rows if checksums.get(seed) == checksum)


def _record_seeds(nodes: list[NodeResult]) -> None:
    checksums = seed_checksums()
    loaded = [n.node.rsplit(".", 1)[-1] for n in nodes if n.node.startswith("seed.") and n.status == "success"]
    loaded = [s for s in loaded if s in checksums]
    if loaded:
        with db.connect() as conn:
            conn.cursor().executemany("""insert into ops.seed_load (seed, checksum) values (%s, %s)
                                         on conflict (seed) do update set checksum = excluded.checksum,
                                             loaded_at = now()""",
                                      [(s, checksums[s]) for s in loaded])


def build(full_refresh: bool = False, select: str | None = None, exclude: str | None = None) -> list[NodeResult]:
    """``dbt build`` of the pipeline: models, seeds, snapshots and data tests. dbt unit tests test the code, not the
    day's data (dbt Labs: run them in development and CI, exclude them from production builds): they run in
    ``make test`` (tests/dbt_project/test_unit_tests.py), and here they cost every hourly run time and could only
    hold healthy feeds for a fault of the code. The seeds are loaded only when a seed's file changed since it was
    last loaded (or a table is gone, or on ``full_refresh``): dbt reloads every seed on every build otherwise, 2.5 s
    of a county's daily run for the 6,763-character pinyin table. Left out by resource type, not by name, so their
    data tests (and the relationships from models to them) still run: excluding a node by name drops its tests."""
    unchanged = not full_refresh and set(loaded_seeds()) == set(seed_checksums())
    skipped = ["unit_test"] + (["seed"] if unchanged else [])
    args = ["build", *(a for kind in skipped for a in ("--exclude-resource-type", kind))]
    args += ["--full-refresh"] if full_refresh else []
    args += (["--select", select] if select else []) + (["--exclude", exclude] if exclude else [])
    nodes = run_dbt(args)
    _record_seeds(nodes)
    return nodes
