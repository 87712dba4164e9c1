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
