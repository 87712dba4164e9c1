"""Per-feed suites: a department's bad batch is reported against its feed (severity, object, column, the rate in
words) and held out of the warehouse without blocking the other departments; `hub release` takes it in; a
warn-level issue never holds or blocks anything."""

from __future__ import annotations

import pytest

from govhub import db
from tests.quality.test_gate_blocks_publication import published_fingerprint

WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def id_number(n: int, valid: bool = True) -> str:
    body = f"341123{1950 + n % 50}{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11]
    if not valid:  # a wrong check character
        check = "10X98765432"[("10X98765432".index(check) + 1) % 11]
    return body + check


def resident(n: int, prefix: str, valid: bool = True, sex: str = "1") -> dict[str, str]:
    return {"RYBH": f"{prefix}{n:06d}", "GMSFHM": id_number(n, valid), "XM": "测试" + "甲乙丙丁"[n % 4], "XB": sex,
            "CSRQ": f"{1950 + n % 50}{1 + n % 12:02d}{1 + n % 28:02d}", "MZ": "01", "HH": f"TH{n:06d}", "YHZGX": "01",
            "HJDZ_XZQH": "341123100200", "HJDZ": "开通镇红旗村3组15号", "XZZ": None, "RYZT": "0",
            "GXSJ": "20261120120000"}


def load_police_residents(records: list[dict[str, str]]) -> None:
    from govhub.extract.loader import load_batch, new_batch_id
    from govhub.extract.registry import feed

    police = feed("police")
    with db.connect() as conn, conn.transaction():
        load_batch(conn, police, police.objects["RK_CZRK"], records, batch_id=new_batch_id("police", "RK_CZRK"))


def results(run_id: str) -> list[tuple]:
    return db.query(
        """select feed, object, column_name, severity, success, expectation, observed from ops.validation_result
           where run_id = %s and feed is not null order by feed, object, column_name""", (run_id,))[1]


def feed_status(run_id: str) -> dict[str, str]:
    return dict(db.query("select feed, status from ops.feed_gate where run_id = %s", (run_id,))[1])


def last_publication() -> tuple:
    return db.query("select version, gate_success, message, run_id from ops.publication order by version desc limit 1")[1][0]


def warehouse_pass(run_id: str) -> int:
    """The warehouse DAG's steps, in its order: per-feed suites, dbt build, gate and publish."""
    from govhub.pipeline import build, gate_and_publish, gate_feeds

    gate_feeds(run_id)
    build()
    return gate_and_publish(run_id)


def xref_count(prefix: str) -> int:
    return db.query("select count(*) from linkage.resident_xref where source_record_id like %s", (prefix + "%",))[1][0][0]


@pytest.fixture(scope="module")
def published_tiny(tiny_county) -> str:
    """The tiny county after its first pass through every DAG (tests/conftest.py): the run id of its feed gate."""
    return db.query("select run_id from ops.feed_gate order by validated_at desc limit 1")[1][0][0]


def test_simulated_county_passes_every_feed_suite(published_tiny):
    statuses = feed_status(published_tiny)
    assert set(statuses) == {"police", "grid", "health", "civil", "petition", "justice"}
    assert "failed" not in statuses.values(), results(published_tiny)
    # nothing held (the message may still name a refused delivery: the simulator's malformed-XML quirk)
    assert last_publication()[1] is True and "held" not in (last_publication()[2] or "")
    kinds = {r[5].split(" ")[0] for r in results(published_tiny)}
    assert {"ID", "present", "code", "date", "every", "freshness:"} <= kinds


def test_invalid_ids_fail_their_feed_and_out_of_dictionary_code_warns(published_tiny):
    records = [resident(n, "BAD", valid=n % 5 >= 2) for n in range(100)]  # 40 of 100 with a wrong check character
    records[7]["XB"] = "7"  # not in GB/T 2261.1 (1, 2, 0, 9)
    load_police_residents(records)
    before = published_fingerprint()
    version = warehouse_pass("feed-bad-ids")

    # the police feed failed; every other department is unaffected and the publication went ahead, naming police
    statuses = feed_status("feed-bad-ids")
    assert statuses["police"] == "failed"
    assert all(s != "failed" for f, s in statuses.items() if f != "police")
    v, ok, message, run_id = last_publication()
    assert (v, ok, run_id) == (version, True, "feed-bad-ids")
    assert "police.RK_CZRK: 1 batch(es) held" in message and "GMSFHM" in message and "grid" not in message

    # held, not built: the bad batch reached neither the warehouse nor `published`, which is byte-for-byte as
    # before (no other feed had anything new); its rows wait in raw, untouched
    held = db.query("select feed, object, run_id, released_at from ops.batch_hold")[1]
    assert held == [("police", "RK_CZRK", "feed-bad-ids", None)]
    assert xref_count("BAD") == 0
    assert published_fingerprint() == before
    assert db.query("select count(*) from raw.police__rk_czrk where rybh like 'BAD%'")[1][0][0] == 100

    rows = {(r[1], r[2], r[5].split(" ")[0]): r for r in results("feed-bad-ids") if r[0] == "police"}
    feed_, obj, column, severity, success, _, observed = rows[("RK_CZRK", "GMSFHM", "ID")]
    assert (feed_, obj, column, severity, success) == ("police", "RK_CZRK", "GMSFHM", "blocking", False)
    assert "40 of 100 ID numbers invalid" in observed and "40.0%" in observed and "10% allowed" in observed
    feed_, obj, column, severity, success, _, observed = rows[("RK_CZRK", "XB", "code")]
    assert (feed_, obj, column, severity, success) == ("police", "RK_CZRK", "XB", "warn", False)
    assert "1 of 100 values outside the dictionary" in observed

    # counts and rates only: no ID number, name or code value is rendered anywhere
    texts = " ".join(str(r[6]) for r in results("feed-bad-ids")) + message
    assert not any(rec["GMSFHM"] in texts for rec in records)
    assert "测试" not in texts and "'7'" not in texts

    # the police data officer reads it on the scorecard, in words
    from govhub.quality.scorecard import compute

    police_card = next(d for d in compute()["departments"] if d["feed"] == "police")
    assert [(h["object"], h["batches"]) for h in police_card["held"]] == [("RK_CZRK", 1)]
    assert "40 of 100 ID numbers invalid" in police_card["held"][0]["reason"]

    # a held batch is judged once: the next run neither validates it again nor builds it
    warehouse_pass("feed-still-held")
    assert feed_status("feed-still-held")["police"] == "passed"
    assert xref_count("BAD") == 0 and "police.RK_CZRK" in last_publication()[2]

    # the department confirms the batch: `hub release police` and the next build takes all 100 records in
    from govhub.cli import main

    assert main(["release", "police", "--by", "test", "--note", "confirmed by the police data officer"]) == 0
    version = warehouse_pass("feed-released")
    assert xref_count("BAD") == 100
    v, ok, message, _ = last_publication()
    assert (v, ok, message) == (version, True, None)
    released = db.query("select released_by, release_note from ops.batch_hold where released_at is not null")[1]
    assert released == [("test", "confirmed by the police data officer")]
    assert main(["release", "police"]) == 1  # nothing left to release: a clear error, not a silent success


def test_warn_level_issue_does_not_block_publication(published_tiny):
    before = last_publication()[0]
    records = [resident(n, "OK", valid=True) for n in range(60)]
    records[3]["XB"] = "7"
    load_police_residents(records)
    version = warehouse_pass("feed-warn-only")
    assert version > before
    assert xref_count("OK") == 60  # warn-level: built and published, nothing held
    assert db.query("select count(*) from ops.held_batch")[1][0][0] == 0
    assert feed_status("feed-warn-only")["police"] == "warn"
    assert "failed" not in feed_status("feed-warn-only").values()
    _, ok, message, _ = last_publication()
    assert ok is True and message is None
    police = [r for r in results("feed-warn-only") if r[0] == "police" and not r[4]]
    assert [(r[1], r[2], r[3]) for r in police] == [("RK_CZRK", "XB", "warn")]


def _drop_records(manifest_path, obj: str) -> list[dict]:
    import json

    from govhub.extract.files_connector import read_table_file
    from govhub.extract.registry import feed

    entry = next(f for f in json.loads(manifest_path.read_text("utf-8"))["files"] if f["name"].startswith(obj))
    civil = feed("civil")
    return read_table_file(civil, civil.objects[obj], entry["name"], (manifest_path.parent / entry["name"]).read_bytes())


def test_truncated_snapshot_is_held_and_the_next_drop_compares_with_the_last_good_one(published_tiny):
    """A civil snapshot with a tenth of its rows is held; the next complete drop is compared with the drop before
    the held one, so nobody is delisted and relisted by a broken export."""
    import hashlib
    import json

    from govhub.extract.files_connector import _diff, _snapshot
    from govhub.extract.registry import feed, load_registry
    from govhub.pipeline import extract
    from govhub.settings import exchange_dir
    from govhub.sim import runner

    obj = "残疾人"
    directory = exchange_dir("civil")
    day0 = sorted(directory.glob("manifest_*.json"))[-1]
    disabled_before = db.query("select count(*) from published.dim_resident where is_disabled")[1][0][0]
    runner.advance(1)
    day1 = sorted(directory.glob("manifest_*.json"))[-1]
    assert day1 != day0
    # the department's export breaks: 19 rows in 20 are missing, the manifest is consistent with the file
    manifest = json.loads(day1.read_text("utf-8"))
    entry = next(f for f in manifest["files"] if f["name"].startswith(obj))
    lines = (directory / entry["name"]).read_bytes().split(b"\n")
    totals = ("合计".encode("gbk"), "合计".encode())
    data = [ln for ln in lines[1:] if ln.strip() and not any(t in ln for t in totals)]
    (directory / entry["name"]).write_bytes(b"\n".join([lines[0], *data[::20]]) + b"\n")
    entry["sha256"] = hashlib.sha256((directory / entry["name"]).read_bytes()).hexdigest()
    entry["rows"] = len(_drop_records(day1, obj))
    day1.write_text(json.dumps(manifest, ensure_ascii=False), "utf-8")
    assert entry["rows"] < len(_drop_records(day0, obj)) * 0.08

    for name in load_registry():
        extract(name)
    warehouse_pass("civil-truncated")
    assert feed_status("civil-truncated")["civil"] == "failed", (
        results("civil-truncated"), db.query("select object, received, status from ops.batch where feed = 'civil'")[1])
    held = db.query("select feed, object from ops.held_batch")[1]
    assert held == [("civil", obj)]  # the other registers of the drop were fine and are built
    assert "civil.残疾人: 1 batch(es) held" in last_publication()[2] and "volume" in last_publication()[2]
    # the register stays as the last good drop had it
    assert db.query("select count(*) from published.dim_resident where is_disabled")[1][0][0] == disabled_before

    runner.advance(1)  # the next drop is complete again
    day2 = sorted(directory.glob("manifest_*.json"))[-1]
    for name in load_registry():
        extract(name)
    warehouse_pass("civil-next")
    assert feed_status("civil-next")["civil"] != "failed"
    # the changes staging sees on day 2 are exactly those between the day-0 and the day-2 snapshots
    fobj = feed("civil").objects[obj]
    expected = sorted(_diff(_snapshot(fobj, _drop_records(day0, obj)), _snapshot(fobj, _drop_records(day2, obj))))
    drop_date = json.loads(day2.read_text("utf-8"))["drop_date"]
    actual = sorted(tuple(r) for r in db.query(
        """select source_record_id, change, row_hash from staging.stg_civil__register_changes
           where register = %s and drop_date = %s""", (obj, drop_date))[1])
    assert actual == expected
    raw_day2 = db.query(f'select count(*) from raw."civil__{obj}__changes" where drop_date = %s', (drop_date,))[1][0][0]
    assert raw_day2 > len(expected)  # raw still has the day-1 -> day-2 diff (the relisting), staging reads around it
