"""Run the extract of one feed: lock, watermark, read, load, reconcile — per object, one transaction each."""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from govhub import db
from govhub.extract import sql_connector
from govhub.extract.connections import files_directory, sql_connect
from govhub.extract.drift import record_drift_autocommit
from govhub.extract.files_connector import extract_civil_drops, extract_petition_files
from govhub.extract.http_connector import extract_http_object, http_endpoint
from govhub.extract.loader import (
    BatchResult,
    FeedError,
    SourceUnavailable,
    load_batch,
    lock_feed_object,
    new_batch_id,
    read_watermark,
    record_failure,
)
from govhub.extract.registry import Feed, feed
from govhub.ops import ensure_ops
from govhub.settings import WAREHOUSE_DB

log = logging.getLogger(__name__)


class ObjectsFailed(FeedError):
    """Some objects of a feed failed while the others loaded; ``results`` holds what did load."""

    def __init__(self, feed: str, failures: list[FeedError | Exception], results: list[BatchResult]):
        self.failures, self.results = failures, results
        retryable = all(getattr(f, "retryable", True) for f in failures)
        objects = ", ".join(getattr(f, "object", "?") for f in failures)
        super().__init__(feed, objects, None, "; ".join(str(f) for f in failures),
                         f"the other objects loaded ({len(results)} batch(es)); fix the above and run again",
                         retryable=retryable)


def extract_feed(name: str, interval: tuple[str, str] | None = None, objects: list[str] | None = None) -> list[BatchResult]:
    """Extract every object of feed ``name``; ``interval`` = (from, to] re-reads just that interval (backfill).

    Objects are independent: one object's failure (drift, an unreachable table) is recorded and the feed's other
    objects still load; the failures are raised together at the end (a single failure is raised as itself)."""
    spec = feed(name)
    with db.connect() as conn:  # (the admin: sets up ops and the roles on a fresh warehouse)
        ensure_ops(conn)
    warehouse = db.conninfo(WAREHOUSE_DB, role=db.LOADER)  # the extract itself runs as the loader
    if spec.kind == "files":
        if interval:  # say so rather than silently loading whatever is new
            raise FeedError(name, "*", None, "a files feed has no update interval to re-read: every complete drop "
                            "not yet accepted is taken once",
                            "to reload a drop, delete its row from ops.accepted_drop (feed, drop_name) and run "
                            f"`hub run --feed {name}`")
        # a drop spans several objects (and is loaded once, whole): the connector walks the drops itself
        return _extract_files(spec, warehouse)
    runner = {"sql": _extract_sql_object, "http": _extract_http_object}[spec.kind]
    results: list[BatchResult] = []
    failures: list[Exception] = []
    for obj_name, obj in spec.objects.items():
        if objects and obj_name not in objects:
            continue
        batch_id = new_batch_id(name, obj_name)
        try:
            results.append(runner(spec, obj, batch_id, warehouse, interval))
        except Exception as exc:
            record_failure(warehouse, name, obj_name, batch_id, str(exc))
            log.error("%s", exc)
            failures.append(exc)
    if len(failures) == 1 and not results:
        raise failures[0]
    if failures:
        raise ObjectsFailed(name, failures, results)
    return results


@retry(retry=retry_if_exception_type(psycopg.OperationalError), stop=stop_after_attempt(3),
       wait=wait_exponential(multiplier=1, max=10), reraise=True)
def _connect_source(spec: Feed) -> psycopg.Connection:
    conn = sql_connect(spec, connect_timeout=10)
    sql_connector.make_tolerant(conn)
    return conn


def _extract_sql_object(spec: Feed, obj, batch_id: str, warehouse: str, interval) -> BatchResult:
    try:
        source = _connect_source(spec)
    except psycopg.OperationalError as exc:
        raise SourceUnavailable(spec.name, obj.name, None, f"source database unreachable after 3 attempts ({exc})",
                                f"check connection {spec.connection} / ask {spec.department}") from exc
    with source, psycopg.connect(warehouse) as conn:
        try:
            shape, drifts = sql_connector.check_schema(source, spec, obj)
        except FeedError as exc:
            record_drift_autocommit(warehouse, exc.drifts)
            raise
        record_drift_autocommit(warehouse, drifts)
        for d in drifts:
            log.warning("%s.%s: drift warning: %s", spec.name, obj.name, d.detail)
        with conn.transaction():
            lock_feed_object(conn, spec.name, obj.name)
            if interval:
                lower, upper = interval
            else:
                lower, upper = sql_connector.incremental_bounds(obj, read_watermark(conn, spec.name, obj.name)), None
            rows = sql_connector.read_rows(source, spec, obj, lower, upper, shape)
            column = obj.incremental.get("column")
            return load_batch(
                conn, spec, obj, rows, batch_id=batch_id, validate=sql_connector.validator(obj), window=(lower, upper),
                # a backfill never moves the watermark backwards (write_watermark only advances)
                watermark_of=(lambda r: sql_connector.watermark_value(obj, r.get(column))) if column else None)


FILE_FORMATS = {"civil_snapshots": extract_civil_drops, "petition_xml": extract_petition_files}


def _extract_files(spec: Feed, warehouse: str) -> list[BatchResult]:
    fmt = str(spec.options.get("format", ""))
    if fmt not in FILE_FORMATS:
        raise FeedError(spec.name, "*", None, f"unknown files format {fmt!r}",
                        f"set format to one of {sorted(FILE_FORMATS)} in sources.yml")
    return FILE_FORMATS[fmt](spec, warehouse, Path(files_directory(spec)))


def _extract_http_object(spec: Feed, obj, batch_id: str, warehouse: str, interval) -> BatchResult:
    base_url, client_id, client_secret = http_endpoint(spec)
    budget = int(obj.options.get("request_budget", spec.options.get("request_budget", 2000)))
    return extract_http_object(spec, obj, batch_id, warehouse, interval, base_url, client_id, client_secret,
                               request_budget=budget)
