"""What the DAG tasks call. DAG files only declare schedule, assets and wiring."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from typing import Any

from psycopg import sql

from govhub import db, publish, transform
from govhub.extract.registry import load_registry
from govhub.ops import ensure_ops
from govhub.quality import gate

log = logging.getLogger(__name__)
ASSET_HOST = "hub:5432"


def raw_asset_uri(feed: str) -> str:
    """Airflow Asset of a feed's raw tables (``postgres://host:port/database/schema/table`` form)."""
    return f"postgres://{ASSET_HOST}/warehouse/raw/{feed}"


PUBLISHED_ASSET_URI = f"postgres://{ASSET_HOST}/warehouse/published/all"


def extract(feed: str, interval: tuple[str, str] | None = None, objects: list[str] | None = None
            ) -> list[dict[str, Any]]:
    from govhub.extract.run import extract_feed

    results = extract_feed(feed, interval=interval, objects=objects)
    for r in results:
        log.info("%s", describe_batch(r))
    return [r.as_dict() for r in results]


def _n(count: int, noun: str) -> str:
    """``count`` and the noun, plural unless one ("1 batch", "3 batches", "2 records")."""
    plural = noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")
    return f"{count:,} {noun if count == 1 else plural}"


def describe_batch(r) -> str:
    """One extract batch in words, for the task log (govhub.extract.loader.BatchResult)."""
    if not r.received:
        return f"{r.feed}.{r.object}: nothing new since the last extract (batch {r.batch_id}, 0 records)"
    quarantined = (f", {_n(r.quarantined, 'record')} quarantined (kept with their reasons in ops.quarantine)"
                   if r.quarantined else ", none quarantined")
    return (f"{r.feed}.{r.object}: {_n(r.received, 'record')} received in batch {r.batch_id}: "
            f"{r.loaded:,} loaded into raw{quarantined}; {_n(r.inserted, 'new or changed version')}")


def extract_task(feed: str, objects: list[str] | None = None) -> list[dict[str, Any]]:
    """The Airflow task of an extract: a failure that cannot change on retry fails the task at once
    (AirflowFailException, no retries); a transient one is raised as is, for Airflow's retries."""
    from govhub.extract.loader import FeedError

    try:
        return extract(feed, objects=objects)
    except FeedError as exc:
        if exc.retryable:
            raise
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(f"{exc} (not retried: the same input gives the same error)") from exc


def stale_feeds(now: dt.datetime | None = None) -> list[str]:
    """Feeds that are late by govhub.freshness (a scheduled run missed, or never arrived)."""
    from govhub.freshness import check_all

    with db.connect() as conn:
        ensure_ops(conn)
        checks = check_all(now, conn)
    last = {name: f.last_arrival for name, f in checks.items()}
    stale = [name for name, f in checks.items() if not f.on_time]
    if stale:
        from govhub.notify import alert_stale_feeds

        log.warning("building on what is there; stale feeds: %s", ", ".join(stale))
        alert_stale_feeds(stale, last)
    return stale


def gate_feeds(run_id: str) -> dict[str, Any]:
    """Per-feed suites over the new batches, before the build: a failing object's batches are held out of the
    warehouse (ops.batch_hold) so one department's bad day neither blocks nor pollutes the others."""
    from govhub.quality import feed_gate

    with db.connect() as conn:  # (run_feed_gate creates the ops tables itself)
        missing_udfs = conn.execute("select to_regprocedure('util.hub_id_status(text)') is null").fetchone()[0]
    if missing_udfs:  # first run on an empty warehouse: the suites use the same ID rules as staging
        transform.run_dbt(["run-operation", "install_time_udfs"])
    report = feed_gate.run_feed_gate(run_id)
    for name, verdict in report.verdicts.items():
        if verdict.held:
            log.warning("feed %s: %s failed its blocking checks; %s held out of the warehouse (the last good data "
                        "stays published; `hub release %s` takes them in)", name, _n(len(verdict.batches), "new batch"),
                        _n(len(verdict.held), "batch"), name)
        else:
            log.info("feed %s: %s checked, %s", name, _n(len(verdict.batches), "new batch"),
                     "passed" if verdict.status == "passed" else f"{verdict.status} (nothing held)")
    return {"failed": report.failed, "warned": report.warned,
            "held": {name: v.held for name, v in report.verdicts.items() if v.held}}


def ensure_raw_tables() -> None:
    """Every registry object has its raw table (empty until its first batch), so a feed that has never loaded —
    a department whose extract is failing — leaves the build with nothing to read instead of a missing relation."""
    from govhub.extract.files_connector import changes_table
    from govhub.extract.loader import ensure_raw_table

    with db.connect() as conn:
        ensure_ops(conn)
    with db.connect(role=db.LOADER) as conn:  # raw tables are the loader's (govhub.roles)
        for feed in load_registry().values():
            for obj in feed.objects.values():
                ensure_raw_table(conn, feed, obj)
                if feed.options.get("format") == "civil_snapshots":
                    conn.execute(sql.SQL(
                        """create table if not exists {} (record_key text not null, change text not null
                               check (change in ('started', 'changed', 'ended')), drop_date date not null,
                               row_hash text not null, _batch_id text, primary key (record_key, drop_date))"""
                    ).format(changes_table(feed, obj)))


class BuildFailed(RuntimeError):
    """The build failed and holding the new batches of the feeds it read did not help: the hub's own fault."""


class MachineFault(BuildFailed):
    """The build stopped on the machine (disk, memory, connections), not on a department's data: nothing is held."""


# What PostgreSQL says when the machine, not a row, stopped a statement (SQLSTATE classes 53 insufficient
# resources and 08 connection, and temp_file_limit's 53400), with what the data engineer does about it. A
# department's data cannot cause these, and holding its feed only seems to cure them when the hold makes the
# build smaller: on a city the first disk-full build held civil, the second grid, and the third built without
# them. Matched on the message because dbt reports the database error as text.
MACHINE_FAULTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"No space left on device|could not (?:write|extend|create) .*file", re.I),
     "free disk space where PostgreSQL writes (its data directory and base/pgsql_tmp), or move it to a larger "
     "disk; then run again"),
    (re.compile(r"temporary file size exceeds \W?temp_file_limit", re.I),
     "the statement needed more temporary space than temp_file_limit allows (HUB_PG_TEMP_FILE_LIMIT for the "
     "embedded server): raise it if the disk has room, or report the model as a hub bug"),
    (re.compile(r"out of memory|could not resize shared memory|Cannot allocate memory", re.I),
     "give PostgreSQL more memory (or lower work_mem / dbt threads); then run again"),
    (re.compile(r"too many clients|remaining connection slots are reserved|too many connections", re.I),
     "too many connections: lower dbt threads or raise max_connections; then run again"),
    (re.compile(r"server closed the connection unexpectedly|terminating connection|connection to server .* failed",
                re.I),
     "PostgreSQL stopped or was restarted during the build (see its log); then run again"),
)


def machine_fault(message: str) -> str | None:
    """The fix for a failure the machine caused (MACHINE_FAULTS), or None for one data or code could cause."""
    for pattern, fix in MACHINE_FAULTS:
        if pattern.search(message or ""):
            return fix
    return None


# built before the Python linkage step, which reads the person records and the buildings their addresses matched
LINKAGE_INPUTS = "+int_person_records__unioned +int_addresses__matched"


def _build_once(full_refresh: bool, run_id: str = "manual") -> dict[str, Any]:
    from govhub import linkage

    upstream = transform.build(full_refresh=full_refresh, select=LINKAGE_INPUTS)
    try:
        links = linkage.link_probabilistically(full_refresh=full_refresh, run_id=run_id)
    except Exception as exc:  # a Python step that still trips on a department's value: hold and retry like dbt
        raise transform.TransformError(f"linkage failed: {type(exc).__name__}: {exc}", [transform.NodeResult(
            "model.govhub.int_person_records__unioned", "error", 0.0, f"linkage: {exc}")]) from exc
    nodes = transform.build(full_refresh=full_refresh, exclude=LINKAGE_INPUTS)
    return {"nodes": len(upstream) + len(nodes), "probabilistic_links": links,
            "warnings": [n for n in upstream + nodes if n.status == "warn"]}


def _feed_objects_of(sources: set[str]) -> set[tuple[str, str]]:
    """(feed, object) of dbt sources named after raw tables (``<feed>__<object>`` or ``…__changes``)."""
    registry = load_registry()
    by_table = {feed.raw_table(obj): (feed.name, obj.name) for feed in registry.values() for obj in feed.objects.values()}
    out = set()
    for source in sources:
        table = source.rsplit(".", 1)[-1].removesuffix("__changes")
        if table in by_table:
            out.add(by_table[table])
    return out


def _new_batches(feed_objects: set[tuple[str, str]]) -> dict[str, list[str]]:
    """Per feed, the new batches of these objects this build reads (checked since the last publication, not held)."""
    from govhub.quality.feed_gate import CHECKED_SINCE_PUBLICATION

    with db.connect() as conn:
        rows = conn.execute("select batch_id, feed, object from ops.batch "
                            f"where batch_id in ({CHECKED_SINCE_PUBLICATION})").fetchall()
    out: dict[str, list[str]] = {}
    for batch_id, feed, obj in rows:
        if (feed, obj) in feed_objects:
            out.setdefault(feed, []).append(batch_id)
    return out


def _hold(run_id: str, batches: list[str], reason: str) -> None:
    with db.connect() as conn:
        conn.execute("""insert into ops.batch_hold (batch_id, feed, object, run_id, reason)
                        select batch_id, feed, object, %s, %s from ops.batch where batch_id = any(%s)
                        on conflict (batch_id) do nothing""", (run_id, reason, batches))


def _unhold(run_id: str, batches: list[str]) -> None:
    with db.connect() as conn:
        conn.execute("delete from ops.batch_hold where run_id = %s and batch_id = any(%s)", (run_id, batches))


Failure = list[tuple[str, str]]  # (dbt node id, what failed) of one attempt


def with_holds(attempt: Callable[[bool], Any], failures_of: Callable[[Exception], Failure | None], run_id: str,
               stage: str) -> Any:
    """Run ``attempt``; when it fails on data, hold one suspect feed's new batches and try again.

    Suspects are the feeds whose raw tables the failing nodes read (dbt's manifest), taken one at a time; a hold
    that leaves the failure exactly as it was is taken back, one that changes or cures it stays (two bad feeds
    are found one after the other). A failure no hold cures is the hub's own: it is raised, and every hold made
    here is taken back so no healthy data stays withheld. ``attempt(retry)`` is called with ``retry`` False the
    first time.
    """
    tried: set[str] = set()
    held: list[tuple[str, list[str]]] = []
    last_signature: str | None = None
    retry = False
    while True:
        try:
            return attempt(retry)
        except Exception as exc:
            failing = failures_of(exc)
            faults = [(node, what, fix) for node, what in (failing or [("", str(exc))]) if (fix := machine_fault(what))]
            if faults:  # no department's batch is suspect: take back what this build held, say the fix once
                for _, batches in held:
                    _unhold(run_id, batches)
                node, what, fix = faults[0]
                where = f"in {node.split('.')[-1]}" if node else "outside any model (dbt's own queries, or linkage)"
                raise MachineFault(f"the warehouse {stage} stopped on the machine, not on a department's data, {where}: "
                                   f"{what.strip()[:400]}\nFix: {fix}. Nothing was held for it"
                                   f"{' (the holds this build made are taken back)' if held else ''}.") from exc
            if not failing:
                raise
            signature = "|".join(sorted(f"{node}:{what}" for node, what in failing))
            if held and last_signature == signature:  # the last hold did not change the failure: take it back
                _unhold(run_id, held.pop()[1])
            parents = transform.manifest().get("parent_map", {})
            sources = set().union(*(transform.upstream_sources(node, parents) for node, _ in failing))
            suspects = {f: b for f, b in _new_batches(_feed_objects_of(sources)).items() if f not in tried}
            if not suspects:
                for _, batches in held:
                    _unhold(run_id, batches)
                if not tried:  # no department batch to suspect: the failure stands as it is
                    raise
                raise BuildFailed(f"{exc}\n— holding the new batches of the feeds it reads did not cure it, so this "
                                  f"is the hub's own failure; nothing is held for it") from exc
            feed = sorted(suspects)[0]
            what = "; ".join(f"{node.split('.')[-1]}: {message[:300]}" for node, message in failing)
            reason = (f"[blocking] feed {feed}: the warehouse {stage} failed on this feed's new data ({what}). "
                      f"Fix: find the offending record with {feed}'s data officer and correct it at the source, "
                      f"or `hub release {feed}` once the hub handles it")
            log.warning("%s failed (%s); holding the %d new batch(es) of %s and trying again", stage, what[:200],
                        len(suspects[feed]), feed)
            _hold(run_id, suspects[feed], reason)
            tried.add(feed)
            held.append((feed, suspects[feed]))
            last_signature = signature
            retry = True


def _dbt_failures(exc: Exception) -> Failure | None:
    if isinstance(exc, transform.TransformError) and exc.failed:
        return [(n.node, n.message or n.status) for n in exc.failed]
    return None


def build(full_refresh: bool = False, run_id: str = "manual") -> dict[str, Any]:
    """dbt build with linkage in between; a failure on one feed's data holds that feed and rebuilds (with_holds)."""
    ensure_raw_tables()
    result = with_holds(lambda retry: _build_once(full_refresh, run_id), _dbt_failures, run_id, "build")
    _record_build_warnings(run_id, result.pop("warnings"))
    with db.connect() as conn:
        result["held_by_build"] = [r[0] for r in conn.execute(
            "select distinct feed from ops.held_batch where run_id = %s", (run_id,))]
    return result


def _record_build_warnings(run_id: str, warned: list) -> None:
    """dbt tests that a department's data tripped (severity warn), recorded per feed for the scorecard."""
    if not warned:
        return
    parents = transform.manifest().get("parent_map", {})
    with db.connect() as conn:
        for node in warned:
            feeds = sorted({f for f, _ in _feed_objects_of(transform.upstream_sources(node.node, parents))})
            for feed in feeds or [None]:
                conn.execute(
                    """insert into ops.validation_result (run_id, suite, table_name, expectation, column_name,
                           blocking, success, observed, feed, object)
                       values (%s, 'dbt', %s, %s, null, false, false, %s, %s, null)""",
                    (run_id, node.node.split(".")[2] if node.node.count(".") >= 2 else node.node,
                     node.node.split(".")[-1], (node.message or "warn")[:2000], feed))


def gate_and_publish(run_id: str) -> int:
    from govhub.quality import surprises

    # The scorecard is rebuilt whatever the gate says (a blocked run is exactly when officers need it), in
    # `finally` and guarded, so that neither a scorecard error hides the gate's verdict nor the reverse.
    try:
        def gate_once(retry: bool) -> None:
            if retry:  # a feed was just held: rebuild without it, then validate again
                build(run_id=run_id)
            gate.run_gate(run_id)

        def gate_failures(exc: Exception) -> Failure | None:
            if not isinstance(exc, gate.GateFailed):
                return None
            # a clear ID number or name in `published` is the hub's own fault (masking is the hub's job): never
            # blamed on a department, never cured by a hold
            failed = [o for o in exc.failed if "clear ID" not in o.expectation and "true name" not in o.expectation]
            if not failed or len(failed) < len(exc.failed):
                return None
            return [(f"model.govhub.{o.table}", f"{o.expectation}: {o.observed}") for o in failed]

        try:
            with_holds(gate_once, gate_failures, run_id, "quality gate")
        except (gate.GateFailed, gate.GateError, BuildFailed) as exc:
            publish.record_blocked(run_id, str(exc))
            raise
        from govhub.quality.feed_gate import CHECKED_SINCE_PUBLICATION

        with db.connect() as conn:
            # what this version contains: batches since the last publication, less the held ones, plus the
            # batches released since then
            # (checked by a feed gate: a batch that committed during this run waits for the next one's check)
            batches = [r[0] for r in conn.execute(
                f"""with last as (select coalesce(max(published_at), '-infinity') as at from ops.publication
                                  where gate_success)
                    {CHECKED_SINCE_PUBLICATION}
                    union
                    select batch_id from ops.batch_hold, last where released_at > last.at""")]
        version = publish.publish(run_id, sorted(batches), message=surprises.publication_message())
        held = feed_gate_held()
        log.info("published version %d carrying %s%s", version, _n(len(batches), "new batch"),
                 f"; still held out: {held}" if held else "; nothing held")
        return version
    finally:
        refresh_scorecard()


def feed_gate_held() -> str:
    """What is held now, in words (``police.RK_CZRK: 2 batches``), or empty."""
    from govhub.quality.feed_gate import held_summary

    return "; ".join(f"{h['feed']}.{h['object']}: {_n(h['batches'], 'batch')}" for h in held_summary())


def refresh_scorecard() -> str | None:
    """Rebuild the quality scorecard; log (never raise) when it fails. Returns its path or None."""
    try:
        from govhub.quality.scorecard import build_scorecard

        return str(build_scorecard())
    except Exception:
        log.exception("scorecard could not be rebuilt (the gate result stands)")
        return None
