"""One definition of freshness (govhub.freshness, from the registry's schedules) — and nobody else's."""

from __future__ import annotations

import datetime as dt

import yaml

from govhub.extract.registry import load_registry
from govhub.freshness import GRACE, check
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
    for path in (REPO_ROOT / "dbt_project" / "models").rglob("*.yml"):
        for source in (yaml.safe_load(path.read_text()) or {}).get("sources", []):
            assert "freshness" not in source and "loaded_at_field" not in source, path
            assert all("freshness" not in t for t in source.get("tables", [])), path
    feeds = (REPO_ROOT / "expectations" / "suites" / "feeds.yml").read_text()
    assert "warn_after" not in feeds
    assert "STALE_AFTER" not in (REPO_ROOT / "src" / "govhub" / "pipeline.py").read_text()
