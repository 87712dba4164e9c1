"""One extract DAG per department feed, generated from the source registry (sources.yml).

A department's failure or backfill never blocks another, and inside a database or API feed one object's
failure never blocks the others: each object is its own task. Each task publishes the feed's raw Asset, which
schedules the warehouse build. Errors that cannot change on retry (drift, a refused delivery, refused
credentials) fail their task at once; only transient ones (unreachable, timeout, 5xx, 429) are retried. Scheduling is explicit (Airflow 3 changed the defaults):
CronTriggerTimetable (runs *at* the cron time, no data-interval shift), catchup off, one active run.
Schedules are the registry's; HUB_EXTRACT_EVERY_MINUTES compresses them for a live demo (govhub.runbook).
Backfill an interval with:  hub backfill <feed> --from <watermark> --to <watermark>
"""

from __future__ import annotations

import datetime as dt
import os

from airflow.sdk import Asset, CronTriggerTimetable, dag, task

from govhub.extract.registry import Feed, load_registry
from govhub.notify import HubAlertNotifier
from govhub.pipeline import raw_asset_uri
from govhub.runbook import extract_doc_md, extract_schedule

# HUB_RETRY_DELAY_SECONDS shortens the wait between attempts (the test suite sets 1 s so that a failing
# source fails its DAG in seconds, not minutes).
RETRY_DELAY = dt.timedelta(seconds=float(os.environ.get("HUB_RETRY_DELAY_SECONDS", "120")))
# on_failure_callback fires after the last retry only: one alert per failed department run.
DEFAULT_ARGS = {"retries": 2, "retry_delay": RETRY_DELAY, "retry_exponential_backoff": True,
                "on_failure_callback": HubAlertNotifier()}


def make_extract_dag(feed: Feed):
    feed_name, department, objects = feed.name, feed.department, list(feed.objects)
    per_object = feed.kind != "files"

    @dag(
        dag_id=f"extract_{feed_name}",
        description=f"Extract {department} into raw ({', '.join(objects)})",
        schedule=CronTriggerTimetable(extract_schedule(feed), timezone="Asia/Shanghai"),
        doc_md=extract_doc_md(feed),
        start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["extract", feed_name],
    )
    def extract_dag():
        raw = Asset(name=f"raw_{feed_name}", uri=raw_asset_uri(feed_name))

        def object_task(obj: str | None):
            @task(task_id=f"extract_{obj}" if obj else "extract", outlets=[raw])
            def extract() -> list[dict]:
                from govhub.pipeline import extract_task

                return extract_task(feed_name, [obj] if obj else None)

            return extract()

        # a files feed is one task: a drop spans several objects and is accepted whole
        for obj in objects if per_object else [None]:
            object_task(obj)

    return extract_dag()


for _name, _feed in load_registry().items():
    globals()[f"extract_{_name}"] = make_extract_dag(_feed)
