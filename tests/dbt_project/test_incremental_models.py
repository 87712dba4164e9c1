"""The incremental intermediates give the table a full refresh gives, on the same data (real dbt, real PostgreSQL).

The tiny county is built on day 0 (its first pass through every DAG) and, incrementally, one simulated day later
(the pipeline's own extract, feed gate, build and publication, without Airflow); then department changes a daily
run must cope with are applied to raw one at a time: a late update of an existing record (the newer version must
win), a batch held after it was built, its release, and changed reference data. After each incremental run the
incremental models' tables are compared row for row with a `--full-refresh` of the same models on the same data.
Build-time metadata, not compared: ``built_at``.
"""

from __future__ import annotations

import datetime as dt

import pytest

from govhub import db

ADDRESSES = "intermediate.int_addresses__matched"
EVENTS = "intermediate.int_events__unioned"
PERSONS = "intermediate.int_person_records__unioned"
RESIDENTS = "staging.stg_police__residents"
# the staging models that are incremental tables (macros/incremental_staging.sql), then the intermediates
STAGING = {RESIDENTS: "stg_police__residents", "staging.stg_police__floating_residents": "stg_police__floating_residents",
           "staging.stg_police__incidents": "stg_police__incidents", "staging.stg_grid__buildings": "stg_grid__buildings",
           "staging.stg_grid__events": "stg_grid__events", "staging.stg_health__smd_followups": "stg_health__smd_followups"}
INCREMENTAL = {**STAGING, ADDRESSES: "int_addresses__matched", EVENTS: "int_events__unioned",
               PERSONS: "int_person_records__unioned"}
METADATA = ("built_at",)  # when a row was (re)built: differs between the paths by design
HELD_BATCH = "0-test-incremental-held"


def scalar(query: str, params=None):
    return db.query(query, params)[1][0][0]


def _pass(run_id: str) -> None:
    """One pass as the DAGs run it, without Airflow: extract every feed, feed gate, build, gate and publish."""
    from govhub import pipeline
    from govhub.extract.registry import load_registry

    for name in load_registry():
        pipeline.extract(name)
    pipeline.gate_feeds(run_id)
    pipeline.build(run_id=run_id)
    pipeline.gate_and_publish(run_id)


@pytest.fixture(scope="module")
def two_days(tiny_county):
    """Day 0: the tiny county's first pass (every DAG, tests/conftest.py); day 1 incrementally, without Airflow."""
    from govhub.sim import runner

    day0 = _built_at(ADDRESSES)
    runner.advance(1)
    _pass("incr-day-1")
    return day0


def _built_at(table: str) -> dict[tuple, dt.datetime]:
    key = "address" if table == ADDRESSES else "source, source_record_id"
    return {tuple(r[:-1]): r[-1] for r in db.query(f"select {key}, built_at from {table}")[1]}


def _rebuild(full_refresh: bool = False) -> dict[str, int]:
    """dbt run of staging and the incremental models; rows each merged (or built)."""
    from govhub import transform

    # the staging views too: the county extent the staging tables read is one
    nodes = transform.run_dbt(["run"] + (["--full-refresh"] if full_refresh else []) + [
        "--select", "path:models/staging", *INCREMENTAL.values()])
    return {n.node.split(".")[-1]: int(n.message.split()[-1]) for n in nodes
            if n.node.split(".")[-1] in INCREMENTAL.values()}


def _assert_same_as_full_refresh() -> None:
    """The incremental tables as they stand equal, row for row, what a --full-refresh builds from the same raw."""
    kept = {}
    for table in INCREMENTAL:
        columns = [c for c in db.query(f"select * from {table} limit 0")[0] if c not in METADATA]
        kept[table] = ", ".join(f'"{c}"' for c in columns)
        db.query(f"drop table if exists {table}_incremental")
        db.query(f"create table {table}_incremental as select {kept[table]} from {table}")
    try:
        _rebuild(full_refresh=True)
        for table, columns in kept.items():
            rows = scalar(f"select count(*) from {table}")
            assert rows > 0 and scalar(f"select count(*) from {table}_incremental") == rows
            for a, b in ((table, f"{table}_incremental"), (f"{table}_incremental", table)):
                differ = scalar(f"select count(*) from (select {columns} from {a} except all select {columns} from {b}) d")
                assert differ == 0, f"{a} has {differ} row(s) {b} has not"
    finally:
        for table in INCREMENTAL:
            db.query(f"drop table if exists {table}_incremental")


def _add_version(table: str, record_key: str, batch_id: str, new_key: str | None = None, **changes) -> None:
    """A newer raw version of one source record: its last version with ``changes``, in batch ``batch_id``
    (with ``new_key`` as its record key: a record the department never sent before)."""
    with db.connect() as conn:
        conn.execute(f'create temp table version as select * from raw."{table}" where _record_key = %s '
                     "order by _extracted_at desc limit 1", (record_key,))
        conn.execute("update version set " + ", ".join(f'"{c}" = %s' for c in changes)
                     + ", _batch_id = %s, _row_hash = md5(random()::text)", [*changes.values(), batch_id])
        if new_key is not None:
            conn.execute("update version set _record_key = %s", (new_key,))
        conn.execute(f'insert into raw."{table}" select * from version')


def _sole_texts(source_sql: str) -> list[tuple[str, str]]:
    """(record, address) of ``source_sql``'s records whose address text no other record of any department sends."""
    return db.query(f"""
        with texts as (
            select address from intermediate.int_person_records__unioned where address is not null
            union all select registered_address from staging.stg_police__residents where registered_address is not null
            union all select location_text from staging.stg_police__incidents where location_text is not null
            union all select location_text from staging.stg_justice__mediations where location_text is not null
            union all select petitioner_address from staging.stg_petition__petitions where petitioner_address is not null
        ), sole as (select address from texts group by 1 having count(*) = 1)
        select s.source_record_id, s.address from ({source_sql}) as s join sole using (address) order by 1""")[1]


def _unused_registry_addresses(n: int) -> list[str]:
    """Standard addresses of the building registry that no department has sent (new texts to parse)."""
    return [r[0] for r in db.query(f"""select distinct std_address from staging.stg_grid__buildings
                                      where std_address not in (select address from {ADDRESSES})
                                      order by 1 limit {n}""")[1]]


def _later(table: str, column: str) -> str:
    return (scalar(f'select max("{column}"::timestamptz) from raw."{table}"') + dt.timedelta(days=1)).isoformat()


def test_day_one_incremental_equals_a_full_refresh(two_days):
    day0 = two_days
    day1 = _built_at(ADDRESSES)
    # the daily pass parsed only the day's new texts: every text of day 0 still there kept its build
    assert {k: v for k, v in day1.items() if k in day0} == {k: v for k, v in day0.items() if k in day1}
    assert len({v for v in day1.values()}) <= 2
    _assert_same_as_full_refresh()


def test_a_late_update_a_held_batch_and_its_release_match_a_full_refresh(two_days):
    from govhub.quality import feed_gate

    patients = "select source_record_id, address from staging.stg_health__smd_patients"
    patient, old_address = _sole_texts(patients)[0]
    (new_address,) = _unused_registry_addresses(1)

    # (1) the department updates the record: its newer version wins, the text only it sent leaves the addresses
    _add_version("health__smd_patient", patient, HELD_BATCH, address=new_address,
                 updated_at=_later("health__smd_patient", "updated_at"))
    before = _built_at(ADDRESSES)
    merged = _rebuild()
    after = _built_at(ADDRESSES)
    assert (new_address,) in after and (old_address,) not in after
    assert {k for k, v in after.items() if before.get(k) != v} == {(new_address,)}  # only the new text parsed
    assert merged["int_addresses__matched"] == 1
    assert merged["int_person_records__unioned"] == 1  # the one record the department updated, no other
    _assert_same_as_full_refresh()

    # a record the department sends for the first time, in the same batch: built, then gone with the hold below
    newcomer = "0-test-incremental-newcomer"
    _add_version("health__smd_patient", patient, HELD_BATCH, new_key=newcomer, patient_id=newcomer,
                 address=new_address, updated_at=_later("health__smd_patient", "updated_at"))
    assert _rebuild()["int_person_records__unioned"] == 1
    assert scalar(f"select count(*) from {PERSONS} where source_record_id = %s", (newcomer,)) == 1
    _assert_same_as_full_refresh()

    # (2) the update's batch is held after it was built (the feed gate failed it): the earlier version is current
    # again, so its text is back and the held one's is gone; the newcomer, in no other batch, leaves the records
    db.query("""insert into ops.batch_hold (batch_id, feed, object, run_id, reason)
                values (%s, 'health', 'smd_patient', 'test', 'a blocking check failed')""", (HELD_BATCH,))
    _rebuild()
    assert (old_address,) in _built_at(ADDRESSES) and (new_address,) not in _built_at(ADDRESSES)
    assert scalar(f"select count(*) from {PERSONS} where source_record_id = %s", (newcomer,)) == 0
    _assert_same_as_full_refresh()

    # (3) released: the held version arrives again
    feed_gate.release("health", [HELD_BATCH], by="test", note="confirmed")
    _rebuild()
    assert (new_address,) in _built_at(ADDRESSES) and (old_address,) not in _built_at(ADDRESSES)
    assert scalar(f"select count(*) from {PERSONS} where source_record_id = %s", (newcomer,)) == 1
    _assert_same_as_full_refresh()


def test_changed_reference_data_reparses_every_address(two_days):
    """A building moved to another grid can change any address's match: every text is parsed again."""
    building, grid = db.query("select building_id, grid_code from staging.stg_grid__buildings "
                              f"where building_id in (select building_id from {ADDRESSES}) order by 1 limit 1")[1][0]
    other = scalar("select min(grid_code) from staging.stg_grid__grids where grid_code <> %s and retired_at is null", (grid,))
    before = _built_at(ADDRESSES)
    _add_version("grid__building", building, "0-test-incremental-building", grid_code=other,
                 updated_at=_later("grid__building", "updated_at"))
    merged = _rebuild()
    assert merged["int_addresses__matched"] == len(before)
    assert all(before[k] != v for k, v in _built_at(ADDRESSES).items() if k in before)
    assert scalar(f"select count(*) from {ADDRESSES} where building_id = %s and grid_code <> %s", (building, other)) == 0
    _assert_same_as_full_refresh()


def test_a_staging_table_follows_a_late_update_a_held_batch_and_its_release(two_days):
    """The police residents' staging table re-derives only the records whose current version changed, and gives
    what a full derivation gives after an update, a newcomer, a hold of their batch and its release."""
    from govhub.quality import feed_gate

    batch = "0-test-incremental-police"
    resident, name = db.query(f"select source_record_id, person_name from {RESIDENTS} "
                              "where person_name is not null order by 1 limit 1")[1][0]
    _add_version("police__rk_czrk", resident, batch, xm="王测试", gxsj="20991231000000")
    merged = _rebuild()
    assert merged["stg_police__residents"] == 1  # the one record, not the register
    assert scalar(f"select person_name from {RESIDENTS} where source_record_id = %s", (resident,)) == "王测试"
    newcomer = "0-test-incremental-resident"
    _add_version("police__rk_czrk", resident, batch, new_key=newcomer, rybh=newcomer, gxsj="20991231000000")
    assert _rebuild()["stg_police__residents"] == 1
    assert scalar(f"select count(*) from {RESIDENTS} where source_record_id = %s", (newcomer,)) == 1
    _assert_same_as_full_refresh()

    db.query("""insert into ops.batch_hold (batch_id, feed, object, run_id, reason)
                values (%s, 'police', 'RK_CZRK', 'test', 'a blocking check failed')""", (batch,))
    _rebuild()
    assert scalar(f"select person_name from {RESIDENTS} where source_record_id = %s", (resident,)) == name
    assert scalar(f"select count(*) from {RESIDENTS} where source_record_id = %s", (newcomer,)) == 0
    _assert_same_as_full_refresh()

    feed_gate.release("police", [batch], by="test", note="confirmed")
    _rebuild()
    assert scalar(f"select person_name from {RESIDENTS} where source_record_id = %s", (resident,)) == "王测试"
    assert scalar(f"select count(*) from {RESIDENTS} where source_record_id = %s", (newcomer,)) == 1
    _assert_same_as_full_refresh()


def test_a_staging_table_keyed_on_two_columns_keeps_every_record(two_days):
    """A department whose registry key is two columns: raw _record_key is then not the model's source_record_id.
    The staging table merges on raw_record_key, so its records are neither re-derived every run nor deleted as
    vanished, and it still equals a full derivation."""
    floating = "staging.stg_police__floating_residents"
    records = scalar(f"select count(*) from {floating}")
    db.query("""update raw.police__rk_ldrk set _record_key = _record_key || '|' || coalesce(gmsfhm, '')""")
    try:
        assert _rebuild()["stg_police__floating_residents"] == records  # every key is new: derived once
        assert scalar(f"select count(*) from {floating}") == records
        assert _rebuild()["stg_police__floating_residents"] == 0  # and not again
        key = scalar(f"select min(raw_record_key) from {floating}")
        _add_version("police__rk_ldrk", key, "0-test-incremental-two-columns", xm="李测试", gxsj="20991231000000")
        assert _rebuild()["stg_police__floating_residents"] == 1
        assert scalar(f"select person_name from {floating} where raw_record_key = %s", (key,)) == "李测试"
        _assert_same_as_full_refresh()
    finally:
        db.query("delete from raw.police__rk_ldrk where _batch_id = '0-test-incremental-two-columns'")
        db.query("update raw.police__rk_ldrk set _record_key = split_part(_record_key, '|', 1)")
        _rebuild()


def test_rows_derived_with_other_code_are_derived_again(two_days):
    """A deploy that changes a staging model's code: every stored row was derived with other code, so the run
    derives every record (the pre-hook drops the old rows first) and equals a full derivation."""
    records = scalar(f"select count(*) from {RESIDENTS}")
    db.query(f"update {RESIDENTS} set code_fingerprint = 'other code', person_name = 'stale'")
    assert _rebuild()["stg_police__residents"] == records
    assert scalar(f"select count(*) from {RESIDENTS} where person_name = 'stale' or code_fingerprint = 'other code'") == 0
    assert _rebuild()["stg_police__residents"] == 0
    _assert_same_as_full_refresh()
