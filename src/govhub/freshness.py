"""The one definition of a feed's freshness, from its schedule in the source registry (``sources.yml``).

A feed is **late** when a run of its cron schedule (Asia/Shanghai) that is at least ``GRACE`` old has come and
gone since its last successful batch — or when no batch ever succeeded. Equivalently: after a batch at time
``t``, the feed becomes late at ``deadline = next scheduled run after t + GRACE``.

Used by the freshness check of the warehouse build and its alert (``pipeline.stale_feeds``), the per-feed GX
suite (``quality.feed_gate``: hours since the last batch <= hours until the deadline), and the scorecard's
timeliness, and dbt's ``source freshness`` (``dbt_vars``): dbt compares a fixed ``warn_after`` with the age of
a ``loaded_at_query`` timestamp, so for a schedule with one fixed period ``P`` (hourly, every 15 minutes, daily
at 23:00 …) the query returns the scheduled run at or before the last arrival and ``warn_after`` is ``P +
GRACE``: dbt then warns exactly when this module says late. A schedule without one period (weekdays only, "8,20")
gets the longest gap between its runs instead, a bound that never warns earlier than this module.
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


_SQL_TZ = "Asia/Shanghai"  # LOCAL_TZ as PostgreSQL names it


@dataclass(frozen=True)
class Period:
    """A schedule's period in seconds, and the phase of its runs within it (local wall-clock seconds since
    1970-01-01 modulo ``seconds``); ``uniform`` is false when the runs are not evenly spaced and ``seconds`` is
    then the longest gap between two runs."""

    seconds: int
    phase: int
    uniform: bool


def period(schedule: str) -> Period:
    """The runs of ``schedule`` over two weeks from a fixed Monday: one gap between all of them, or several."""
    start = dt.datetime(2026, 1, 5, tzinfo=LOCAL_TZ)
    runs = [start]
    it = croniter(schedule, start - dt.timedelta(seconds=1))
    while runs[-1] < start + dt.timedelta(days=14) and len(runs) < 20_000:
        runs.append(it.get_next(dt.datetime))
    runs = runs[1:]
    gaps = {int((b - a).total_seconds()) for a, b in zip(runs, runs[1:], strict=False)}
    longest = max(gaps)
    wall = int((runs[0].replace(tzinfo=None) - dt.datetime(1970, 1, 1)).total_seconds())
    return Period(longest, wall % longest, len(gaps) == 1)


def dbt_freshness(feed: Feed) -> dict[str, Any]:
    """The feed's dbt source freshness: ``warn_minutes`` and the ``loaded_at_query`` dbt ages against it (the
    scheduled run at or before the last successful batch, from ``ops.batch`` as ``last_arrivals`` reads it)."""
    p = period(feed.schedule)
    name = feed.name.replace("'", "''")
    last = "max(finished_at)"
    if p.uniform:
        local = f"extract(epoch from {last} at time zone '{_SQL_TZ}')"
        anchor = (f"(to_timestamp(floor(({local} - {p.phase}) / {p.seconds}) * {p.seconds} + {p.phase})"
                  f" at time zone 'UTC') at time zone '{_SQL_TZ}'")
    else:
        anchor = last
    grace = int(GRACE.total_seconds())
    return {"warn_minutes": (p.seconds + grace) // 60, "exact": p.uniform,
            "loaded_at_query": f"select {anchor} from ops.batch where feed = '{name}' and status = 'succeeded'"}


def dbt_vars() -> dict[str, Any]:
    """dbt's ``--vars`` for every invocation (``transform.run_dbt``): ``hub_freshness`` per registry feed, which
    the sources' ``freshness`` config reads. The same for every run, so dbt's partial parsing stays valid."""
    return {"hub_freshness": {name: dbt_freshness(feed) for name, feed in load_registry().items()}}


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
