"""A department's own column types: lossless ones load with a warning, lossy or missing ones hold that object only."""

from __future__ import annotations

import pytest

from govhub import db
from govhub.extract.loader import FeedError
from govhub.extract.run import ObjectsFailed, extract_feed
from tests.conftest import reset_warehouse


def drifts(feed: str) -> dict[tuple[str, str], tuple[str, str]]:
    rows = db.query("select object, column_name, kind, severity from ops.schema_drift where feed = %s", (feed,))[1]
    return {(o, c): (k, s) for o, c, k, s in rows}


@pytest.fixture(scope="module")
def county(hub_env):
    from govhub.sim import runner

    reset_warehouse()
    runner.generate("tiny", reset=True)
    yield
    runner.generate("tiny", reset=True)  # the next module gets the county as the simulator writes it


def test_lossless_retypes_load_with_a_warning_and_keep_their_instants(county):
    with db.connect("src_grid") as conn:
        expected = dict(conn.execute("select event_id, updated_at from grid_event").fetchall())
        conn.execute("set time zone 'UTC'")  # the retype must not depend on the session's zone
        conn.execute("alter table grid_event alter column updated_at type timestamp without time zone "
                     "using updated_at at time zone 'Asia/Shanghai'")
        conn.execute("alter table building alter column lon type numeric(10, 6), alter column lat type numeric(10, 6)")
        conn.execute("alter table admin_division alter column level type text")
        conn.execute("alter table grid_staff add column remark text")
    results = {r.object: r for r in extract_feed("grid")}
    assert all(r.status == "succeeded" and r.received == r.loaded + r.quarantined for r in results.values())
    assert results["grid_event"].loaded == len(expected) > 0
    found = drifts("grid")
    assert found[("grid_event", "updated_at")] == ("retyped", "warning")
    assert found[("building", "lon")] == ("retyped", "warning")
    assert found[("admin_division", "level")] == ("retyped", "warning")
    assert found[("grid_staff", "*")] == ("unexpected", "warning")
    # naive source times were read as Asia/Shanghai: the same instants as before the retype
    raw = dict(db.query("select event_id, updated_at::timestamptz from raw.grid__grid_event")[1])
    assert raw == expected
    # the watermark of a naive column is compared in Shanghai wall time: an unchanged source reads nothing new,
    # one touched row is read again (an 8-hour shift would re-read or miss rows)
    again = {r.object: r for r in extract_feed("grid", objects=["grid_event"])}["grid_event"]
    assert again.inserted == 0
    with db.connect("src_grid") as conn:
        touched = conn.execute("""update grid_event set updated_at = (now() at time zone 'Asia/Shanghai'),
                                  description = description || ' (updated)'
                                  where event_id = (select min(event_id) from grid_event) returning event_id""").fetchone()[0]
    third = {r.object: r for r in extract_feed("grid", objects=["grid_event"])}["grid_event"]
    assert third.inserted == 1
    assert db.query("select count(*) from raw.grid__grid_event where event_id = %s", (touched,))[1][0][0] == 2


def test_lossy_or_missing_columns_hold_that_object_and_the_rest_loads(county):
    with db.connect("src_health") as conn:
        conn.execute("alter table smd_patient alter column updated_at type date")  # loses the time of day
        conn.execute("alter table death_cert drop column cause_icd10")
    with pytest.raises(ObjectsFailed) as err:
        extract_feed("health")
    assert not err.value.retryable  # the same source gives the same error: Airflow must not retry it
    assert {getattr(f, "object", None) for f in err.value.failures} == {"smd_patient", "death_cert"}
    assert {r.object for r in err.value.results} == {"smd_followup", "birth_cert"}
    assert all(r.loaded > 0 for r in err.value.results)
    found = drifts("health")
    assert found[("smd_patient", "updated_at")] == ("retyped_lossy", "blocking")
    assert found[("death_cert", "cause_icd10")] == ("missing", "blocking")
    failed = dict(db.query("""select object, message from ops.batch where feed = 'health' and status = 'failed'""")[1])
    assert "cause_icd10" in failed["death_cert"] and "Fix:" in failed["death_cert"]
    loaded = db.query("select count(*) from ops.batch where feed = 'health' and object = 'smd_patient' "
                      "and status = 'succeeded'")[1][0][0]
    assert loaded == 0


def test_airflow_task_fails_fast_on_errors_that_cannot_change(county):
    from airflow.sdk.exceptions import AirflowFailException

    from govhub.pipeline import extract_task

    with pytest.raises(AirflowFailException, match="death_cert"):
        extract_task("health", ["death_cert"])
    # a transient failure is raised as itself, for Airflow's retries
    err = FeedError("x", "y", None, "unreachable", "retry", retryable=True)
    assert err.retryable


def test_values_python_cannot_hold_are_kept_as_text(county):
    with db.connect("src_health") as conn:
        conn.execute("""insert into smd_followup (followup_id, patient_id, followup_date, followup_type, risk_level,
                        updated_at) values ('FBC1', 'P-none', '0001-01-01 BC', 'home', 3, now()),
                                           ('FINF', 'P-none', 'infinity', 'home', 3, now())""")
    result = {r.object: r for r in extract_feed("health", objects=["smd_followup"])}["smd_followup"]
    assert result.loaded >= 2 and result.received == result.loaded + result.quarantined
    raw = dict(db.query("""select followup_id, followup_date from raw.health__smd_followup
                           where followup_id in ('FBC1', 'FINF')""")[1])
    assert raw == {"FBC1": "0001-01-01 BC", "FINF": "infinity"}


def test_a_naive_bound_is_shanghai_wall_time():
    import datetime as dt

    from govhub.extract.sql_connector import _naive_bound

    assert _naive_bound("2026-01-01T00:00:00+00:00", "timestamp without time zone") == dt.datetime(2026, 1, 1, 8)
    assert _naive_bound("2026-01-01T00:00:00+00:00", "timestamp with time zone") == "2026-01-01T00:00:00+00:00"
