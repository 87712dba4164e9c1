"""What the DAG tasks call. DAG files only declare schedule, assets and wiring."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from govhub import db, publish, transform
from govhub.extract.registry import load_registry
from govhub.ops import ensure_ops
from govhub.quality import gate

log = logging.getLogger(__name__)
ASSET_HOST = "hub:5432"
STALE_AFTER = dt.timedelta(hours=26)


def raw_asset_uri(feed: str) -> str:
    """Airflow Asset of a feed's raw tables (``postgres://host:port/database/schema/table`` form)."""
    return f"postgres://{ASSET_HOST}/warehouse/raw/{feed}"


PUBLISHED_ASSET_URI = f"postgres://{ASSET_HOST}/warehouse/published/all"


def extract(feed: str, interval: tuple[str, str] | None = None) -> list[dict[str, Any]]:
    from govhub.extract.run import extract_feed

    results = extract_feed(feed, interval=interval)
    for r in results:
        log.info("%s.%s: received %d = loaded %d + quarantined %d; new versions %d", r.feed, r.object, r.received,
                 r.loaded, r.quarantined, r.inserted)
    return [r.as_dict() for r in results]


def stale_feeds(now: dt.datetime | None = None) -> list[str]:
    """Feeds whose last successful batch is older than STALE_AFTER (or that never arrived)."""
    now = now or dt.datetime.now(dt.UTC)
    with db.connect() as conn:
        ensure_ops(conn)
        last = dict(conn.execute(
            "select feed, max(finished_at) from ops.batch where status = 'succeeded' group by feed").fetchall())
    stale = [name for name in load_registry() if last.get(name) is None or now - last[name] > STALE_AFTER]
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
    return {"failed": report.failed, "warned": report.warned,
            "held": {name: v.held for name, v in report.verdicts.items() if v.held}}


def build(full_refresh: bool = False) -> dict[str, Any]:
    from govhub import linkage

    with db.connect() as conn:
        ensure_ops(conn)
    upstream = transform.build(full_refresh=full_refresh, select="+int_person_records__unioned")
    links = linkage.link_probabilistically()
    nodes = transform.build(full_refresh=full_refresh, exclude="+int_person_records__unioned")
    return {"nodes": len(upstream) + len(nodes), "probabilistic_links": links}


def gate_and_publish(run_id: str) -> int:
    from govhub.quality import feed_gate

    # The scorecard is rebuilt whatever the gate says (a blocked run is exactly when officers need it), in
    # `finally` and guarded, so that neither a scorecard error hides the gate's verdict nor the reverse.
    try:
        try:
            gate.run_gate(run_id)
        except gate.GateFailed as exc:
            publish.record_blocked(run_id, str(exc))
            raise
        with db.connect() as conn:
            # what this version contains: batches since the last publication, less the held ones, plus the
            # batches released since then
            batches = [r[0] for r in conn.execute(
                """with last as (select coalesce(max(published_at), '-infinity') as at from ops.publication
                                 where gate_success)
                   select batch_id from ops.batch as b, last where status = 'succeeded' and finished_at > last.at
                     and not exists (select from ops.held_batch as h where h.batch_id = b.batch_id)
                   union
                   select batch_id from ops.batch_hold, last where released_at > last.at""")]
        return publish.publish(run_id, sorted(batches), message=feed_gate.held_message())
    finally:
        refresh_scorecard()


def refresh_scorecard() -> str | None:
    """Rebuild the quality scorecard; log (never raise) when it fails. Returns its path or None."""
    try:
        from govhub.quality.scorecard import build_scorecard

        return str(build_scorecard())
    except Exception:
        log.exception("scorecard could not be rebuilt (the gate result stands)")
        return None
