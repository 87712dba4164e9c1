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
        # per-feed suites first: a department's bad day is reported against its feed (ops.feed_gate) and named
        # in the publication's message, without blocking the other departments
        feeds = feed_gate.run_feed_gate(run_id)
        try:
            gate.run_gate(run_id)
        except gate.GateFailed as exc:
            publish.record_blocked(run_id, str(exc))
            raise
        with db.connect() as conn:
            batches = [r[0] for r in conn.execute(
                """select batch_id from ops.batch where status = 'succeeded' and finished_at >
                   coalesce((select max(published_at) from ops.publication where gate_success), '-infinity')""")]
        return publish.publish(run_id, batches, message=feeds.publication_message())
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
