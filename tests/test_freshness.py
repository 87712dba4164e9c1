"""One definition of freshness (govhub.freshness, from the registry's schedules) — and nobody else's."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import yaml

from govhub.extract.registry import load_registry
from govhub.freshness import GRACE, Period, check, dbt_freshness, period
from govhub.settings import REPO_ROOT

ARRIVAL = dt.datetime(2026, 11, 25, 2, 5, tzinfo=dt.UTC)  # 10:05 Asia/Shanghai


def test_late_when_a_scheduled_run_plus_grace_has_passed():
    police = load_registry()["police"]  # hourly at minute 0
    assert check(police, ARRIVAL, ARRIVAL + dt.timedelta(minutes=84)).on_time  # 11:29: the 11:00 run may be running
    late = check(police, ARRIVAL, ARRIVAL + dt.timedelta(minutes=100))  # 11:45
    assert not late.on_time and late.late_minutes == 45 and late.deadline.startswith("2026-11-25T11:30")
    civil = load_registry()["civil"]  # daily at 23:00
    assert check(civil, ARRIVAL, ARRIVAL + dt.timedelta(hours=13, minutes=20)).on_time  # 23:25
    assert not check(civil, ARRIVAL, ARRIVAL + dt.timedelta(hours=13, minutes=26)).on_time  # 23:31
    assert check(police, None, ARRIVAL).status == "never arrived"


def test_the_feed_suite_bound_and_the_scorecard_agree_with_it():
    from govhub.quality.scorecard import timeliness

    for feed in load_registry().values():
        for minutes in range(0, 3 * 24 * 60, 37):
            now = ARRIVAL + dt.timedelta(minutes=minutes)
            fresh = check(feed, ARRIVAL, now)
            # the feed suite's GX expectation: hours since the last batch <= limit_hours
            assert fresh.on_time == ((now - ARRIVAL).total_seconds() / 3600 <= fresh.limit_hours + 1e-9), (feed, now)
            assert timeliness(feed, ARRIVAL, now) == fresh.as_dict()
        assert GRACE <= dt.timedelta(hours=fresh.limit_hours)


def test_no_other_freshness_thresholds():
    """dbt's sources take their thresholds from govhub.freshness (``hub_freshness``), each source its own feed's."""
    sources = {}
    for path in (REPO_ROOT / "dbt_project" / "models").rglob("*.yml"):
        for source in (yaml.safe_load(path.read_text()) or {}).get("sources", []):
            sources[source["name"]] = source
            assert "freshness" not in source and "loaded_at_field" not in source, path  # only under config:
            assert all("freshness" not in t and "freshness" not in t.get("config", {})
                       for t in source.get("tables", [])), path
            config = source.get("config", {})
            if source["name"] not in load_registry():  # the hub's own tables (ops, linkage): no arrivals to age
                assert "freshness" not in config, path
                continue
            mine = f"var('hub_freshness')['{source['name']}']"
            assert config["freshness"] == {"warn_after": {"count": f"{{{{ {mine}['warn_minutes'] }}}}",
                                                          "period": "minute"}}, path
            assert config["loaded_at_query"] == f"{{{{ {mine}['loaded_at_query'] }}}}", path
    assert set(load_registry()) <= set(sources)
    feeds = (REPO_ROOT / "expectations" / "suites" / "feeds.yml").read_text()
    assert "warn_after" not in feeds
    assert "STALE_AFTER" not in (REPO_ROOT / "src" / "govhub" / "pipeline.py").read_text()


def test_a_schedule_has_one_period_or_a_longest_gap():
    assert period("0 * * * *") == Period(3600, 0, True)
    assert period("45 * * * *") == Period(3600, 45 * 60, True)
    assert period("*/15 * * * *") == Period(900, 0, True)
    assert period("0 23 * * *") == Period(86400, 23 * 3600, True)
    assert period("0 8,20 * * *") == Period(43200, 8 * 3600, True)
    weekdays = period("0 8 * * 1-5")  # Friday 08:00 to Monday 08:00 is the longest gap
    assert not weekdays.uniform and weekdays.seconds == 3 * 86400
    assert not dbt_freshness(replace(load_registry()["police"], schedule="0 8 * * 1-5"))["exact"]


def _arrivals_near_the_deadline(feed, now: dt.datetime, margin: dt.timedelta) -> tuple[dt.datetime, dt.datetime]:
    """The latest arrival that is late by more than ``margin`` and the earliest that is on time by more than it:
    the two sides of the deadline, as close to it as the margin allows (a per-minute scan of the last 3 days)."""
    late = on_time = None
    for minutes in range(1, 3 * 24 * 60):  # going back in time, the deadlines come earlier
        arrival = (now - dt.timedelta(minutes=minutes)).replace(second=0, microsecond=0)
        deadline = dt.datetime.fromisoformat(check(feed, arrival, now).deadline)
        if deadline - now >= margin:
            on_time = arrival  # the last one seen is the closest to the deadline
        elif now - deadline >= margin:
            late = arrival
            break
    assert late is not None and on_time is not None, feed.name
    return late, on_time


def test_dbt_source_freshness_says_late_exactly_when_the_registry_does(hub_env):
    """Run ``dbt source freshness`` on ops.batch arrivals 10 minutes either side of each feed's deadline: dbt
    warns for exactly the feeds govhub.freshness calls late (half the feeds late, then the other half)."""
    from govhub import db, transform
    from govhub.freshness import check_all
    from govhub.ops import ensure_ops
    from tests.conftest import reset_warehouse

    reset_warehouse()
    names = sorted(load_registry())
    for late_ones in (set(names[::2]), set(names[1::2])):
        # 10 minutes either side of the deadline: dbt's own clock reads a little later (parse, hooks, a loaded machine)
        now = dt.datetime.now(dt.UTC)
        near = {name: _arrivals_near_the_deadline(load_registry()[name], now, dt.timedelta(minutes=10))
                for name in names}
        with db.connect() as conn:
            ensure_ops(conn)
            conn.execute("delete from ops.batch")
            for name in names:
                arrival = near[name][0 if name in late_ones else 1]
                conn.execute("""insert into ops.batch (batch_id, feed, object, finished_at, received, loaded, inserted,
                                                       quarantined, status)
                                values (%s, %s, 'x', %s, 0, 0, 0, 0, 'succeeded')""", (f"{name}.t", name, arrival))
                # a failed batch after it is not an arrival
                conn.execute("""insert into ops.batch (batch_id, feed, object, finished_at, received, loaded, inserted,
                                                       quarantined, status)
                                values (%s, %s, 'x', now(), 0, 0, 0, 0, 'failed')""", (f"{name}.f", name))
        by_dbt = transform.source_freshness()
        by_hub = {name: "pass" if f.on_time else "warn" for name, f in check_all().items()}
        assert by_hub == {name: "warn" if name in late_ones else "pass" for name in names}
        assert by_dbt == by_hub
    reset_warehouse()
