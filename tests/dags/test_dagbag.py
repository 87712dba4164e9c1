from __future__ import annotations

import pytest

from govhub.extract.registry import load_registry


@pytest.fixture(scope="module")
def bag(hub_env):
    from govhub.orchestrate import dagbag

    return dagbag()


def test_no_import_errors_or_cycles(bag):
    # a cycle in Airflow 3 raises while the DAG file is parsed, so it shows up here as an import error
    assert bag.import_errors == {}
    expected = {f"extract_{name}" for name in load_registry()} | {"warehouse_build"}
    assert set(bag.dags) == expected
    for dag in bag.dags.values():
        dag.topological_sort()  # raises on a cycle


def test_scheduling_is_explicit(bag):
    from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable

    for name, feed in load_registry().items():
        dag = bag.dags[f"extract_{name}"]
        assert isinstance(dag.timetable, CronTriggerTimetable)
        assert dag.timetable.expression == feed.schedule
        assert dag.catchup is False and dag.max_active_runs == 1
        assert dag.default_args["retries"] == 2
    build = bag.dags["warehouse_build"]
    assert isinstance(build.timetable, AssetOrTimeSchedule)
    assert build.catchup is False and build.max_active_runs == 1
    # the build is scheduled on every feed's raw asset, not on a guessed time only
    assert build.timetable.timetable.expression == "0 3 * * *"  # the daily fallback
    uris = {asset.uri for asset in build.timetable.asset_condition.objects}
    assert {f"postgres://hub:5432/warehouse/raw/{n}" for n in load_registry()} <= uris


def test_dag_files_stay_thin(bag):
    # DAG files import logic from the package: no SQL or connector code in them
    from govhub.settings import REPO_ROOT

    for path in (REPO_ROOT / "dags").glob("*.py"):
        text = path.read_text()
        assert "psycopg" not in text and "select " not in text.lower(), path
