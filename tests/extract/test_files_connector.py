"""files feeds: complete drops only, re-deliveries recognised, snapshot changes, malformed XML rejected whole."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from govhub import db
from govhub.extract.files_connector import extract_civil_drops, extract_petition_files
from govhub.extract.loader import FeedError, SchemaDriftError
from govhub.extract.registry import Feed, FeedObject
from govhub.settings import WAREHOUSE_DB, exchange_dir
from tests.conftest import reset_warehouse

ID_COLUMN = {"低保对象": "成员身份证号", "特困人员": "身份证号", "残疾人": "身份证号", "留守人员": "身份证号"}


def civil_feed(name: str = "civil") -> Feed:
    from govhub.sim.civil import HEADERS

    objects = {obj: FeedObject(obj, [ID_COLUMN[obj]], {c: "text" for c in cols}) for obj, cols in HEADERS.items()}
    return Feed(name, "files", "民政局", {}, "civil", "@daily", objects)


def petition_feed(name: str = "petition") -> Feed:
    from govhub.extract.files_connector import PETITION_FIELDS

    obj = FeedObject("petition", ["id"], {c: "text" for c in PETITION_FIELDS})
    return Feed(name, "files", "信访局", {}, "petition", "@daily", {"petition": obj})


def conninfo() -> str:
    return db.server().conninfo(WAREHOUSE_DB)


def fingerprint(table: str) -> tuple:
    return db.query(f'select count(*), md5(string_agg(_record_key || _row_hash, \',\' order by _record_key, _row_hash)) '
                    f'from raw."{table}"')[1][0]


def copy_dir(src: Path, dst: Path, pattern: str) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.glob(pattern):
        shutil.copy2(f, dst / f.name)
    return dst


@pytest.fixture(scope="module")
def county(hub_env):
    from govhub.sim import runner

    reset_warehouse()
    # totals rows everywhere, no truncation/malformation from the simulator (the tests break files themselves)
    return runner.generate("tiny", reset=True, rates={"truncated_drop": 0.0, "csv_totals_row": 1.0,
                                                      "malformed_xml": 0.0})


def test_complete_drops_load_and_rerun_loads_nothing(county):
    feed = civil_feed()
    directory = exchange_dir("civil")
    manifests = sorted(p.name for p in directory.glob("manifest_*.json"))
    assert manifests
    results = extract_civil_drops(feed, conninfo(), directory)
    assert results and all(r.status == "succeeded" for r in results)
    assert all(r.received == r.loaded + r.quarantined for r in results)
    assert len(results) == 4 * len(manifests)
    accepted = db.query("select drop_name from ops.accepted_drop where feed = 'civil' order by 1")[1]
    assert [a[0] for a in accepted] == manifests
    # the 合计 totals row (forced on by the rates) never reaches raw nor quarantine
    for obj, col in (("低保对象", "户主身份证号"), ("特困人员", "身份证号"), ("残疾人", "身份证号")):
        assert db.query(f'select count(*) from raw."civil__{obj}" where "{col}" = \'合计\'')[1][0][0] == 0
    assert db.query("select count(*) from ops.quarantine where feed = 'civil' and record::text like '%合计%'")[1][0][0] == 0
    before = {obj: fingerprint(f"civil__{obj}") for obj in ID_COLUMN}
    changes_before = db.query('select count(*) from raw."civil__残疾人__changes"')[1][0][0]
    again = extract_civil_drops(feed, conninfo(), directory)
    assert again == []
    assert {obj: fingerprint(f"civil__{obj}") for obj in ID_COLUMN} == before
    assert db.query('select count(*) from raw."civil__残疾人__changes"')[1][0][0] == changes_before
    # first drop: every record started
    first = db.query('select distinct change from raw."civil__残疾人__changes" '
                     'where drop_date = (select min(drop_date) from raw."civil__残疾人__changes")')[1]
    assert first == [("started",)]


def test_changes_show_started_and_ended_after_advance(county):
    from govhub.sim import runner

    runner.advance(20)
    results = extract_civil_drops(civil_feed(), conninfo(), exchange_dir("civil"))
    assert all(r.status == "succeeded" for r in results if r.status != "skipped")
    kinds = {}
    for obj in ID_COLUMN:
        rows = db.query(f'select change, count(*) from raw."civil__{obj}__changes" '
                        f'where drop_date > (select min(drop_date) from raw."civil__{obj}__changes") group by 1')[1]
        for change, n in rows:
            kinds[change] = kinds.get(change, 0) + n
    assert kinds.get("started", 0) > 0 and kinds.get("ended", 0) > 0, kinds
    # the change records replay to exactly the latest snapshot in raw
    latest = db.query("""select count(*) from (select distinct on (record_key) change from raw."civil__残疾人__changes"
                         order by record_key, drop_date desc) s where change <> 'ended'""")[1][0][0]
    last_drop = max(p.name for p in exchange_dir("civil").glob("残疾人_*.csv"))
    expected = next(f["rows"] for m in exchange_dir("civil").glob("manifest_*.json")
                    for f in json.loads(m.read_text("utf-8"))["files"] if f["name"] == last_drop)
    quarantined = db.query("select quarantined from ops.batch where feed = 'civil' and drop_name = %s "
                           "and status = 'succeeded'", (last_drop,))[1][0][0]
    assert latest <= expected - quarantined  # duplicate IDs in a snapshot collapse to one record key


def test_truncated_drop_is_skipped_then_taken_once_complete(county, tmp_path):
    feed = civil_feed("civil_trunc")
    directory = copy_dir(exchange_dir("civil"), tmp_path / "civil", "*_*.*")
    # the first drop is broken, so later drops are accepted before it is completed
    last = sorted(directory.glob("manifest_*.json"))[0]
    victim = directory / json.loads(last.read_text("utf-8"))["files"][2]["name"]
    good = victim.read_bytes()
    victim.write_bytes(good[: len(good) // 2])
    results = extract_civil_drops(feed, conninfo(), directory)
    skipped = [r for r in results if r.status == "skipped"]
    assert len(skipped) == 1 and victim.name in skipped[0].message and "sha256" in skipped[0].message
    row = db.query("select status, message from ops.batch where batch_id = %s", (skipped[0].batch_id,))[1][0]
    assert row[0] == "skipped" and victim.name in row[1]
    assert last.name not in [r[0] for r in db.query(
        "select drop_name from ops.accepted_drop where feed = 'civil_trunc'")[1]]
    victim.write_bytes(good)  # the department completes the drop
    taken = extract_civil_drops(feed, conninfo(), directory)
    assert len(taken) == 4 and all(r.status == "succeeded" for r in taken)
    assert all(r.received == r.loaded + r.quarantined for r in taken)
    assert extract_civil_drops(feed, conninfo(), directory) == []
    # slotted in by date: the change records equal those of the in-order load of feed civil
    for obj in ID_COLUMN:
        q = 'select record_key, change, drop_date, row_hash from raw."{}" order by 1, 3'
        assert db.query(q.format(f"civil_trunc__{obj}__changes"))[1] == db.query(q.format(f"civil__{obj}__changes"))[1]


def test_renamed_csv_header_raises_schema_drift_naming_the_column(county, tmp_path):
    directory = copy_dir(exchange_dir("civil"), tmp_path / "civil", "*_*.*")
    manifest = sorted(directory.glob("manifest_*.json"))[0]
    spec = json.loads(manifest.read_text("utf-8"))
    entry = next(f for f in spec["files"] if f["name"].startswith("残疾人_"))
    path = directory / entry["name"]
    data = path.read_bytes().replace("残疾等级".encode("gbk"), "残疾级别".encode("gbk"), 1)
    path.write_bytes(data)
    entry["sha256"] = hashlib.sha256(data).hexdigest()  # a consistent drop: the header really changed
    manifest.write_text(json.dumps(spec, ensure_ascii=False), "utf-8")
    with pytest.raises(SchemaDriftError) as err:
        extract_civil_drops(civil_feed("civil_drift"), conninfo(), directory)
    assert "feed civil_drift, object 残疾人, column 残疾等级" in str(err.value)
    failed = db.query("select message from ops.batch where feed = 'civil_drift' and status = 'failed'")[1]
    assert failed and "残疾等级" in failed[0][0]
    assert db.query("select count(*) from ops.accepted_drop where feed = 'civil_drift'")[1][0][0] == 0


def test_malformed_xml_is_rejected_whole_while_others_load(county, tmp_path):
    directory = copy_dir(exchange_dir("petition"), tmp_path / "petition", "xinfang_*.xml")
    files = sorted(directory.glob("xinfang_*.xml"))
    with_petitions = [f for f in files if b"<petition " in f.read_bytes()]
    bad = with_petitions[len(with_petitions) // 2]
    text = bad.read_text("utf-8")
    bad.write_text(text.replace("<targetDept>", "<targetDept>信访局&", 1), "utf-8")
    feed = petition_feed()
    results = extract_petition_files(feed, conninfo(), directory)
    failed = [r for r in results if r.status == "failed"]
    assert len(failed) == 1 and bad.name in failed[0].message and "line" in failed[0].message
    ok = [r for r in results if r.status == "succeeded"]
    assert len(ok) == len(files) - 1 and all(r.received == r.loaded + r.quarantined for r in ok)
    assert sum(r.loaded for r in ok) > 0
    accepted = {r[0] for r in db.query("select drop_name from ops.accepted_drop where feed = 'petition'")[1]}
    assert bad.name not in accepted and len(accepted) == len(files) - 1
    assert db.query("select count(*) from ops.batch where drop_name = %s", (bad.name,))[1][0][0] == 0
    row = db.query("select status, message from ops.batch where batch_id = %s", (failed[0].batch_id,))[1][0]
    assert row[0] == "failed" and "not well-formed" in row[1]
    cols = db.query('select "petitioner_idnumber", "updatedat" from raw."petition__petition" limit 1')[1]
    assert cols and cols[0][1] is not None
    before = fingerprint("petition__petition")
    again = extract_petition_files(feed, conninfo(), directory)
    assert [r.status for r in again] == ["failed"]  # still rejected; nothing else re-loaded
    assert fingerprint("petition__petition") == before


def test_backfill_of_a_files_feed_says_how_to_reload_a_drop(county):
    from govhub.extract.run import extract_feed

    with pytest.raises(FeedError, match="ops.accepted_drop"):
        extract_feed("civil", interval=("20260101000000", "20260201000000"))
