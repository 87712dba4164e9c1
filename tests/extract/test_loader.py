"""load_batch's one pass (values, key, row hash, validation) and its chunked COPY straight into raw: the
guarantees hold across chunk boundaries — received = loaded + quarantined, originals and reasons kept,
a re-load inserts nothing, one row per version, hashes as before."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from dataclasses import replace

import pytest

from govhub import db
from govhub.extract.loader import load_batch, row_hash
from govhub.extract.registry import feed
from govhub.extract.sql_connector import _fixed_width_parser, validator
from govhub.ops import ensure_ops

FEED = "loadertest"


def reference_hash(values: list[str | None]) -> str:
    """The row hash as the loader always computed it (value by value), to pin the identity of raw versions."""
    digest = hashlib.sha256()
    for v in values:
        digest.update(b"\x00" if v is None else v.encode("utf-8"))
        digest.update(b"\x1f")
    return digest.hexdigest()


@pytest.fixture(scope="module")
def scratch(hub_env):
    police = feed("police")
    spec, obj = replace(police, name=FEED), police.objects["RK_CZRK"]
    with db.connect() as conn:
        ensure_ops(conn)  # raw and ops, as a first extract creates them
    yield spec, obj
    with db.connect() as conn:
        conn.execute(f'drop table if exists raw."{spec.raw_table(obj)}"')
        conn.execute("delete from ops.quarantine where feed = %s", (FEED,))
        conn.execute("delete from ops.batch where feed = %s", (FEED,))


def person(i: int, **changes) -> dict:
    row = {"RYBH": f"R{i:05d}", "GMSFHM": f"34112319800101{i:04d}", "XM": "王伟", "XB": "1", "CSRQ": "19800101",
           "MZ": "01", "HH": f"H{i}", "YHZGX": "01", "HJDZ_XZQH": "341123100200", "HJDZ": "开通镇红旗村1组1号",
           "XZZ": None, "RYZT": "0", "GXSJ": "20261101120000"}
    row.update(changes)
    return row


def test_chunks_keep_every_guarantee(scratch):
    spec, obj = scratch
    records = [person(i) for i in range(7)]
    records += [person(1), person(2, XM="王伟伟")]  # a repeated version (dropped) and a new version of R00002
    records += [person(90, RYBH="  "), person(91, XM="王\x00伟")]  # empty key; NUL in a loaded column
    extra = person(92, **{"EXTRA": "x\x00y"})  # NUL in a column the registry does not load
    extra.pop("XZZ")  # as many keys as the registry's columns, but not the same ones
    records += [extra, person(93, GXSJ="2026-11-01")]  # and a bad update time (the sql feeds' validator)
    with db.connect() as conn, conn.transaction():
        res = load_batch(conn, spec, obj, iter(records), batch_id="loadertest.1", validate=validator(obj),
                         chunk_rows=3)
    assert (res.received, res.loaded, res.quarantined, res.inserted) == (13, 9, 4, 8)
    assert res.received == res.loaded + res.quarantined
    table = f'raw."{spec.raw_table(obj)}"'
    cols = [c.lower() for c in obj.columns]
    rows = db.query(f"select {', '.join(cols)}, _record_key, _row_hash, _batch_id from {table} order by 1, _row_hash")[1]
    assert len(rows) == 8 and len({(r[-3], r[-2]) for r in rows}) == 8
    for r in rows:  # key and hash exactly as before the one-pass loader: existing raw versions stay the same
        values = list(r[:len(cols)])
        assert r[-3] == values[0] and r[-2] == reference_hash(values) == row_hash(values) and r[-1] == "loadertest.1"
    quarantined = {q[0]["RYBH"]: q for q in db.query(
        "select record, reasons from ops.quarantine where feed = %s order by record_no", (FEED,))[1]}
    assert quarantined["  "][1] == ["primary key RYBH is empty"]
    assert quarantined["R00091"][0]["XM"] == "王\\u0000伟" and "NUL" in quarantined["R00091"][1][0]
    assert quarantined["R00092"][0]["EXTRA"] == "x\\u0000y" and "XZZ" not in quarantined["R00092"][0]
    assert quarantined["R00093"][1] == ["update column GXSJ = '2026-11-01' is not in format %Y%m%d%H%M%S"]
    # a re-load of the same records (another chunk size) inserts nothing and counts the same
    with db.connect() as conn, conn.transaction():
        again = load_batch(conn, spec, obj, iter(records), batch_id="loadertest.2", validate=validator(obj),
                           chunk_rows=5)
    assert (again.received, again.loaded, again.quarantined, again.inserted) == (13, 9, 4, 0)
    assert db.query(f"select count(*) from {table}")[1][0][0] == 8


def test_fixed_width_time_check_agrees_with_strptime():
    fmt = "%Y%m%d%H%M%S"
    fast, check = _fixed_width_parser(fmt), validator(feed("police").objects["RK_CZRK"])
    rnd = random.Random(5)
    values = ["20261101120000", "20260229120000", "20240229235959", "00001101120000", "20261301120000",
              "2026110112000", "202611011200000", "２０２６１１０１１２００００", "2026 101120000", "20261101240000"]
    values += ["".join(rnd.choice("0123456789") for _ in range(rnd.choice((13, 14, 14, 15)))) for _ in range(3000)]
    values += [f"{dt.datetime(2000, 1, 1) + dt.timedelta(seconds=rnd.randrange(10**9)):{fmt}}" for _ in range(3000)]
    for v in values:
        try:
            dt.datetime.strptime(v, fmt)
            ok = True
        except ValueError:
            ok = False
        assert not fast(v) or ok, v  # the fast check never accepts what strptime refuses
        assert (check({"GXSJ": v}) == []) == ok, v  # and the validator's verdict is strptime's
    assert sum(map(fast, values)) >= 3000  # it does take the well-formed values
    assert _fixed_width_parser("%Y-%m-%d") is None and _fixed_width_parser("%Y%m%d")("20260230") is False


def _raw_rows(spec, obj) -> list[tuple]:
    cols = [c.lower() for c in obj.columns]
    return db.query(f'select {", ".join(cols)}, _record_key, _row_hash, _source, _object, _batch_id, _extracted_at '
                    f'from raw."{spec.raw_table(obj)}" order by 1, _row_hash')[1]


def test_each_way_of_finding_existing_versions_loads_the_same(scratch):
    """The three paths — a table the batch creates (index built after the COPY, lineage from column defaults), an
    empty table (no lookup, a savepoint per chunk) and a table with rows (a lookup per chunk) — keep one row per
    version when a version repeats across chunks, and store values that need COPY escaping or are not text yet
    exactly as row_hash sees them."""
    spec, obj = scratch
    table = f'raw."{spec.raw_table(obj)}"'
    odd = person(40, HJDZ="1\t2\\3\n4\r5", XZZ="", GMSFHM=341123198001010040)  # escapes; an int as text
    odd["GXSJ"] = dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC)  # a datetime update column passes the validator
    records = [person(i) for i in range(5)] + [person(0), odd, person(3), person(3, XM="李")]
    with db.connect() as conn:
        conn.execute(f"drop table if exists {table}")
    loads = {}
    for path in ("created", "empty", "with rows"):
        if path == "empty":
            with db.connect() as conn:
                conn.execute(f"truncate {table}")
        if path == "with rows":
            with db.connect() as conn:
                conn.execute(f"delete from {table} where _record_key not in ('R00000', 'R00003')")
        with db.connect() as conn, conn.transaction():
            res = load_batch(conn, spec, obj, iter(records), batch_id=f"loadertest.{path}", validate=validator(obj),
                             chunk_rows=2)
        assert (res.received, res.loaded, res.quarantined) == (9, 9, 0), path
        assert res.inserted == {"created": 7, "empty": 7, "with rows": 4}[path], path
        loads[path] = rows = _raw_rows(spec, obj)
        assert len(rows) == 7 and len({(r[13], r[14]) for r in rows}) == 7, path
        for r in rows:
            assert r[14] == reference_hash(list(r[:13])) and r[13] == r[0], path
        stored = next(r for r in rows if r[0] == "R00040")
        assert stored[9] == "1\t2\\3\n4\r5" and stored[10] == "" and stored[1] == "341123198001010040"
        assert stored[12] == "2026-11-01T12:00:00+00:00"
    # the same versions whichever way; a first load's lineage is its own batch's, and no column default remains
    assert [r[:15] for r in loads["created"]] == [r[:15] for r in loads["empty"]] == [r[:15] for r in loads["with rows"]]
    assert {(r[15], r[16]) for r in loads["created"]} == {(spec.name, obj.name)}
    assert {r[17] for r in loads["created"]} == {"loadertest.created"} and loads["created"][0][18] is not None
    assert db.query("select count(*) from information_schema.columns where table_schema = 'raw' "
                    "and table_name = %s and column_default is not null", (spec.raw_table(obj),))[1][0][0] == 0
    assert db.query("select count(*) from pg_indexes where schemaname = 'raw' and indexname = %s",
                    (f"{spec.raw_table(obj)}__version_uq",))[1][0][0] == 1


def test_validator_suspects_cover_every_record_it_refuses():
    check = validator(feed("police").objects["RK_CZRK"])
    rnd = random.Random(11)
    values = ["20261101120000", "20260229120000", "20261101240000", "2026110112000", None, "", 20261101120000,
              dt.datetime(2026, 11, 1), "２０２６１１０１１２００００", "20261101120000\n20261101120000"]
    values += ["".join(rnd.choice("0123456789") for _ in range(14)) for _ in range(2000)]
    for batch in (values, [v for v in values if isinstance(v, str) and "\n" not in v], values[-1500:]):
        records = [{"GXSJ": v} for v in batch]
        refused = {i for i, r in enumerate(records) if check(r)}
        suspects = set(check.suspects(records))
        assert refused <= suspects, sorted(refused - suspects)[:5]
        assert refused  # the random values include invalid ones
    well_formed = [{"GXSJ": f"2026{m:02d}{d:02d}120000"} for m in range(1, 13) for d in range(1, 29)]
    assert check.suspects(well_formed) == []  # and it does clear the valid ones without asking validate
