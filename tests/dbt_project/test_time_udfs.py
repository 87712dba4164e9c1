"""The tolerant date/time parsers of the files and API feeds (dbt_project/macros/time_udfs.sql)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from govhub import db

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def time_udfs(hub_env):
    from govhub.transform import run_dbt

    run_dbt(["run-operation", "install_time_udfs"])


def _one(sql: str, value):
    with db.connect() as conn:
        return conn.execute(sql, (value,)).fetchone()[0]


@pytest.mark.parametrize("text, expected", [
    ("2026-11-20T09:12:00+08:00", dt.datetime(2026, 11, 20, 9, 12, tzinfo=SHANGHAI)),
    ("2026-11-20T01:12:00Z", dt.datetime(2026, 11, 20, 9, 12, tzinfo=SHANGHAI)),
    ("2026-11-20T09:12:00.5+0800", dt.datetime(2026, 11, 20, 9, 12, 0, 500000, tzinfo=SHANGHAI)),
    ("2026-11-20 09:12:00", dt.datetime(2026, 11, 20, 9, 12, tzinfo=SHANGHAI)),  # naive = Asia/Shanghai
    ("２０２６-１１-２０T０９:１２", dt.datetime(2026, 11, 20, 9, 12, tzinfo=SHANGHAI)),  # full-width digits
    ("20261120091200", dt.datetime(2026, 11, 20, 9, 12, tzinfo=SHANGHAI)),
    ("2026/1/5", dt.datetime(2026, 1, 5, tzinfo=SHANGHAI)),
    (" 2026-01-05 ", dt.datetime(2026, 1, 5, tzinfo=SHANGHAI)),
    ("2026-02-30T10:00:00+08:00", None),  # impossible date: null, never an error
    ("garbage", None),
    ("", None),
    (None, None),
])
def test_hub_ts(time_udfs, text, expected):
    assert _one("select util.hub_ts(%s)", text) == expected


@pytest.mark.parametrize("text, expected", [
    ("1979-01-01", dt.date(1979, 1, 1)),
    ("1979/1/1", dt.date(1979, 1, 1)),  # the civil registers' second format
    ("1979.01.01", dt.date(1979, 1, 1)),
    ("1979年1月1日", dt.date(1979, 1, 1)),
    ("19790101", dt.date(1979, 1, 1)),
    ("１９７９-０１-０１", dt.date(1979, 1, 1)),
    ("45000", dt.date(2023, 3, 15)),  # an Excel serial day number from the XLSX register
    ("2026-11-20T23:30:00+00:00", dt.date(2026, 11, 21)),  # a timestamp: its Asia/Shanghai date
    ("2026-02-30", None),
    ("not a date", None),
    (None, None),
])
def test_hub_date(time_udfs, text, expected):
    assert _one("select util.hub_date(%s)", text) == expected
