"""Build the warehouse when any feed's raw Asset changes (or daily at 03:00 as a fallback), gate it, publish it.

One build at a time: a setup task takes the warehouse build lock (waiting while another run holds it) and a
teardown task releases it (govhub.build_lock). Per-feed suites run first and hold a failing feed's new batches
out of the build (govhub.quality.feed_gate).

dbt runs in one task through its programmatic runner (govhub.transform explains why); the GX gate fails
the run on a blocking expectation, so `published` keeps yesterday's tables.
"""

from __future__ import annotations

import datetime as dt
import os

from airflow.sdk import Asset, AssetAny, AssetOrTimeSchedule, CronTriggerTimetable, dag, setup, task, teardown

from govhub.extract.registry import load_registry
from govhub.notify import HubAlertNotifier
from govhub.pipeline import PUBLISHED_ASSET_URI, raw_asset_uri
from govhub.runbook import warehouse_doc_md

RAW_ASSETS = [Asset(name=f"raw_{name}", uri=raw_asset_uri(name)) for name in load_registry()]
# The daily fallback build runs even when no feed delivered (its freshness check then alerts the stale feeds).
# HUB_BUILD_FALLBACK_CRON changes it; empty = builds on new data only (the service's end-to-end test: with
# catchup off, unpausing the DAG would otherwise start the missed fallback build at once).
FALLBACK_CRON = os.environ.get("HUB_BUILD_FALLBACK_CRON", "0 3 * * *").strip()


def build_schedule():
    if not FALLBACK_CRON:
        return AssetAny(*RAW_ASSETS)
    return AssetOrTimeSchedule(timetable=CronTriggerTimetable(FALLBACK_CRON, timezone="Asia/Shanghai"),
                               assets=AssetAny(*RAW_ASSETS))



@dag(
    dag_id="warehouse_build",
    description="per-feed GX suites -> dbt build -> GX gate -> atomic publish",
    doc_md=warehouse_doc_md(),
    schedule=build_schedule(),
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    # A failed task (a blocked gate above all) alerts: log + webhook from configuration.
    default_args={"retries": 0, "on_failure_callback": HubAlertNotifier()},
    tags=["warehouse"],
    params={"full_refresh": False},
)
def warehouse_build():
    # One warehouse build at a time (govhub.build_lock): the setup task waits for the lock, every task of the
    # sequence runs under it, the teardown releases it whatever happened before.
    @setup
    def acquire_build_lock(run_id: str | None = None) -> None:
        from govhub.build_lock import acquire

        acquire(run_id or "manual", "between")  # held; no task of the sequence runs yet

    @teardown
    def release_build_lock(run_id: str | None = None) -> None:
        from govhub.build_lock import release

        release(run_id or "manual")

    @task
    def check_freshness(run_id: str | None = None) -> list[str]:
        from govhub.build_lock import stage
        from govhub.pipeline import stale_feeds

        with stage(run_id, "check_freshness"):
            return stale_feeds()

    @task
    def gate_feeds(run_id: str | None = None) -> dict:
        from govhub.build_lock import stage
        from govhub.pipeline import gate_feeds as run

        with stage(run_id, "gate_feeds"):
            return run(run_id or "manual")

    @task
    def dbt_build(params: dict | None = None, run_id: str | None = None) -> dict:
        from govhub.build_lock import stage
        from govhub.pipeline import build

        with stage(run_id, "dbt_build"):
            return build(full_refresh=bool((params or {}).get("full_refresh")), run_id=run_id or "manual")

    @task(outlets=[Asset(name="published", uri=PUBLISHED_ASSET_URI)])
    def gate_and_publish(run_id: str | None = None) -> int:
        from govhub.build_lock import stage
        from govhub.pipeline import gate_and_publish as run

        with stage(run_id, "gate_and_publish"):
            return run(run_id or "manual")

    lock, release = acquire_build_lock(), release_build_lock()
    lock >> check_freshness() >> gate_feeds() >> dbt_build() >> gate_and_publish() >> release
    lock >> release

warehouse_build()
