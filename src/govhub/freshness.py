"""The one definition of a feed's freshness, from its schedule in the source registry (``sources.yml``).

A feed is **late** when a run of its cron schedule (Asia/Shanghai) that is at least ``GRACE`` old has come and
gone since its last successful batch — or when no batch ever succeeded. Equivalently: after a batch at time
``t``, the feed becomes late at ``deadline = next scheduled run after t + GRACE``.

Used by the freshness check of the warehouse build and its alert (``pipeline.stale_feeds``), the per-feed GX
suite (``quality.feed_gate``: hours since the last batch <= hours until the deadline), and the scorecard's
timeliness. dbt's ``source freshness`` is not used: its fixed ``warn_after`` cannot express a cron schedule,
and nothing ran it (the sources carry no ``freshness:`` blocks).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter

from govhub.extract.registry import Feed, load_registry

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
GRACE = dt.timedelta(minutes=30)  # a run that is still going is not late yet


@dataclass(frozen=True)
class Freshness:
    feed: str
    schedule: str
    due: str  # the latest scheduled run at least GRACE old (local time, ISO)
    last_arrival: str | None  # the last successful batch (local time, ISO)
    on_time: bool
    late_minutes: int | None  # since the run it missed was due
    age_hours: float | None
    deadline: str | None  # when it becomes late if nothing arrives (local time, ISO)
    limit_hours: float | None  # hours from the last arrival to the deadline
    status: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _local(t: dt.datetime) -> dt.datetime:
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).astimezone(LOCAL_TZ)


def _cron(schedule: str, start: dt.datetime, direction: str) -> dt.datetime:
    t = getattr(croniter(schedule, start), direction)(dt.datetime)
    return t if t.tzinfo else t.replace(tzinfo=LOCAL_TZ)


def check(feed: Feed, last_arrival: dt.datetime | None, now: dt.datetime | None = None) -> Freshness:
    now = _local(now or dt.datetime.now(dt.UTC))
    due = _cron(feed.schedule, now - GRACE, "get_prev")
    if last_arrival is None:
        return Freshness(feed.name, feed.schedule, due.isoformat(), None, False, None, None, None, None,
                         "never arrived")
    last = _local(last_arrival)
    deadline = _cron(feed.schedule, last, "get_next") + GRACE
    on_time = now < deadline
    late = None if on_time else int((now - due).total_seconds() // 60)
    return Freshness(
        feed.name, feed.schedule, due.isoformat(), last.isoformat(), on_time, late,
        round((now - last).total_seconds() / 3600, 1), deadline.isoformat(),
        round((deadline - last).total_seconds() / 3600, 4),
        "on time" if on_time else f"late: the run due {due:%m-%d %H:%M} has not arrived ({late} min)")


def last_arrivals(conn) -> dict[str, dt.datetime]:
    """Feed -> finish time of its last successful batch."""
    return dict(conn.execute(
        "select feed, max(finished_at) from ops.batch where status = 'succeeded' group by feed").fetchall())


def check_all(now: dt.datetime | None = None, conn=None) -> dict[str, Freshness]:
    """Every registry feed's freshness now."""
    from govhub import db
    from govhub.ops import ensure_ops

    if conn is None:
        with db.connect() as own:
            ensure_ops(own)
            return check_all(now, own)
    last = last_arrivals(conn)
    return {name: check(feed, last.get(name), now) for name, feed in load_registry().items()}
