"""Run the real Airflow DAGs in-process (``dag.test()``), for `hub run`, `hub demo` and the tests.

``dag.test()`` does not raise when a task fails (the returned run is just ``failed``): every caller here
checks the run state and the task instances, so a broken pipeline never looks green.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from govhub import airflow_env


class DagRunFailed(RuntimeError):
    pass


@dataclass
class DagOutcome:
    dag_id: str
    state: str
    tasks: dict[str, str]
    seconds: float


def dagbag():
    airflow_env.ensure_metadata_db()
    from airflow.dag_processing.dagbag import DagBag

    from govhub.settings import REPO_ROOT

    return DagBag(dag_folder=str(REPO_ROOT / "dags"))


def run_dag(dag_id: str, conf: dict[str, Any] | None = None, bag=None, raise_on_failure: bool = True,
            view=None) -> DagOutcome:
    """Run one DAG with ``dag.test()``; ``view`` (govhub.console.PipelineView) is told when it starts and ends."""
    import time

    bag = bag or dagbag()
    if bag.import_errors:
        raise DagRunFailed(f"DAG import errors: {bag.import_errors}")
    from govhub import build_lock

    dag = bag.dags[dag_id]
    if view is not None:
        view.dag_started(dag_id, list(dag.task_ids))
    started = time.perf_counter()
    build_lock.IN_PROCESS = True  # dag.test() runs the tasks here, one after the other: keep the lock between them
    try:
        run = dag.test(run_conf=conf or None)
    finally:
        build_lock.release_own()  # whatever happened, this process (which may go on living) holds no build lock
    tasks = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    outcome = DagOutcome(dag_id, str(run.state), tasks, round(time.perf_counter() - started, 1))
    if view is not None:
        view.dag_finished(dag_id, outcome.state, tasks, outcome.seconds)
    if raise_on_failure and (outcome.state != "success" or any(s != "success" for s in tasks.values())):
        failed = [t for t, s in tasks.items() if s != "success"]
        raise DagRunFailed(f"DAG {dag_id} ended {outcome.state}; tasks not successful: {failed}. "
                           f"Task logs: {os.environ.get('AIRFLOW__LOGGING__BASE_LOG_FOLDER')}")
    return outcome


def run_pipeline(full_refresh: bool = False, feeds: list[str] | None = None, quiet: bool = True,
                 strict: bool = False, view=None) -> list[DagOutcome]:
    """One pipeline pass: every extract DAG (a failing department does not stop the others), then the
    warehouse build, which publishes what is healthy. Raises if the warehouse build failed; a failed extract
    (a department's drift, a refused delivery, an unreachable system) is reported in the outcomes, in
    `hub status` and in the publication message, and raises only with ``strict``."""
    if quiet:
        os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    bag = dagbag()
    extract_ids = sorted(d for d in bag.dags if d.startswith("extract_"))
    if feeds:
        extract_ids = [d for d in extract_ids if d.removeprefix("extract_") in feeds]
    outcomes = [run_dag(d, bag=bag, raise_on_failure=False, view=view) for d in extract_ids]
    outcomes.append(run_dag("warehouse_build", conf={"full_refresh": full_refresh}, bag=bag, raise_on_failure=False,
                            view=view))
    failed = [o for o in outcomes if o.state != "success" and (strict or o.dag_id == "warehouse_build")]
    if failed:
        raise DagRunFailed("; ".join(f"{o.dag_id}: {o.state} {o.tasks}" for o in failed))
    return outcomes
