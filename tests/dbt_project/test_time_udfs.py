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


# Police YYYYMMDD / YYYYMMDDHH24MISS and numbers as text (dbt_project/macros/udfs.sql): an impossible value is
# null, never an error (to_date('00000000') gave a year-0 date that psycopg cannot read; to_date('19791345') raised)
@pytest.mark.parametrize("text, expected", [
    ("19790101", dt.date(1979, 1, 1)),
    (" 19790101 ", dt.date(1979, 1, 1)),
    ("20000229", dt.date(2000, 2, 29)),
    ("19000229", None),  # 1900 was not a leap year
    ("00000000", None),
    ("00010101", dt.date(1, 1, 1)),  # a real date: the range check (clean_date) drops it, not the parser
    ("19791345", None),
    ("19790132", None),
    ("1979010", None),
    ("1979-01-01", None),
    ("garbage", None),
    (None, None),
])
def test_hub_date8(time_udfs, text, expected):
    assert _one("select util.hub_date8(%s)", text) == expected


@pytest.mark.parametrize("text, expected", [
    ("20261120091200", dt.datetime(2026, 11, 20, 9, 12, tzinfo=SHANGHAI)),
    ("00000000000000", None),
    ("20261120246000", None),
    ("20261120235960", None),
    ("20261320091200", None),
    ("2026112009120", None),
    ("", None),
])
def test_hub_ts14(time_udfs, text, expected):
    assert _one("select util.hub_ts14(%s)", text) == expected


@pytest.mark.parametrize("sql, text, expected", [
    ("select util.hub_int(%s)", "3", 3),
    ("select util.hub_int(%s)", " ３ ", 3),
    ("select util.hub_int(%s)", "3.0", 3),
    ("select util.hub_int(%s)", "高", None),
    ("select util.hub_int(%s)", "99999999999", None),  # would overflow int
    ("select util.hub_int(%s)", "3.5", None),
    ("select util.hub_float(%s)", "117.35", 117.35),
    ("select util.hub_float(%s)", "-0.5", -0.5),
    ("select util.hub_float(%s)", "东经117度", None),
    ("select util.hub_float(%s)", "1e999", None),  # would overflow double precision
    ("select util.hub_float(%s)", "NaN", None),
    ("select util.hub_float(%s)", "", None),
    ("select util.hub_jsonb(%s) is null", "[1, 2", True),
    ("select util.hub_jsonb(%s) is null", '["a"]', False),
    ("select util.hub_geojson_polygon(%s) is null", '{"type": "Polygon", "coordinates": [[[117, 32], [117.1, 32], [117.1, 32.1], [117, 32]]]}', False),
    ("select util.hub_geojson_polygon(%s) is null", '{"type": "Polygon", "coordinates": [[["a", "b"]]]}', True),
    ("select util.hub_geojson_polygon(%s) is null", "not json", True),
])
def test_tolerant_number_and_json_parsers(time_udfs, sql, text, expected):
    assert _one(sql, text) == expected


@pytest.mark.parametrize("text", [
    "2026-11-20T09:12:00+08:00", "2026-11-20T01:12:00Z", "2026-11-20T09:12:00.5+0800", "2026-11-20 09:12:00",
    "2026-11-30 09:12:00+08", "2026-11-20 09:12:00.123456+08", "2026-02-30T10:00:00+08:00", "0000-01-01 00:00:00+00",
    "2026-11-20 09:12:00+99", "infinity", "20261120091200", "2026/1/5", "garbage", "", None,
])
def test_hub_tstz_is_hub_ts(time_udfs, text):
    # the fast path for the databases' own timestamp text gives exactly what hub_ts gives
    with db.connect() as conn:
        fast, slow = conn.execute("select util.hub_tstz(%s), util.hub_ts(%s)", (text, text)).fetchone()
    assert fast == slow
