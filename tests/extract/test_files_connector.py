"""files feeds: complete drops only, re-deliveries recognised, snapshot changes, malformed XML rejected whole."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from govhub import db
from govhub.extract.files_connector import extract_civil_drops, extract_petition_files
from govhub.extract.loader import FeedError
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


def test_renamed_csv_header_rejects_that_drop_naming_the_column(county, tmp_path):
    directory = copy_dir(exchange_dir("civil"), tmp_path / "civil", "*_*.*")
    manifest = sorted(directory.glob("manifest_*.json"))[0]
    spec = json.loads(manifest.read_text("utf-8"))
    entry = next(f for f in spec["files"] if f["name"].startswith("残疾人_"))
    path = directory / entry["name"]
    data = path.read_bytes().replace("残疾等级".encode("gbk"), "残疾级别".encode("gbk"), 1)
    path.write_bytes(data)
    entry["sha256"] = hashlib.sha256(data).hexdigest()  # a consistent drop: the header really changed
    manifest.write_text(json.dumps(spec, ensure_ascii=False), "utf-8")
    results = extract_civil_drops(civil_feed("civil_drift"), conninfo(), directory)  # a department problem: no raise
    rejected = [r for r in results if r.status == "rejected"]
    assert len(rejected) == 1 and rejected[0].object == "残疾人" and "残疾等级" in rejected[0].message
    failed = db.query("select message from ops.batch where feed = 'civil_drift' and status = 'failed'")[1]
    assert len(failed) == 1 and "残疾等级" in failed[0][0] and manifest.name in failed[0][0]
    assert db.query("select column_name, kind, severity from ops.schema_drift where feed = 'civil_drift'")[1] == \
        [("残疾等级", "missing", "blocking")]
    assert db.query("select drop_name from ops.rejected_drop where feed = 'civil_drift'")[1] == [(manifest.name,)]
    accepted = {r[0] for r in db.query("select drop_name from ops.accepted_drop where feed = 'civil_drift'")[1]}
    assert manifest.name not in accepted  # the later drops of the copy still load
    assert accepted == {p.name for p in directory.glob("manifest_*.json")} - {manifest.name}


def test_malformed_xml_is_rejected_whole_while_others_load(county, tmp_path):
    directory = copy_dir(exchange_dir("petition"), tmp_path / "petition", "xinfang_*.xml")
    files = sorted(directory.glob("xinfang_*.xml"))
    with_petitions = [f for f in files if b"<petition " in f.read_bytes()]
    bad = with_petitions[len(with_petitions) // 2]
    text = bad.read_text("utf-8")
    bad.write_text(text.replace("<targetDept>", "<targetDept>信访局&", 1), "utf-8")
    feed = petition_feed()
    results = extract_petition_files(feed, conninfo(), directory)
    failed = [r for r in results if r.status == "rejected"]
    assert len(failed) == 1 and bad.name in failed[0].message and "line" in failed[0].message
    ok = [r for r in results if r.status == "succeeded"]
    assert len(ok) == len(files) - 1 and all(r.received == r.loaded + r.quarantined for r in ok)
    assert sum(r.loaded for r in ok) > 0
    accepted = {r[0] for r in db.query("select drop_name from ops.accepted_drop where feed = 'petition'")[1]}
    assert bad.name not in accepted and len(accepted) == len(files) - 1
    assert db.query("select count(*) from ops.batch where drop_name = %s and status <> 'failed'",
                    (bad.name,))[1][0][0] == 0
    row = db.query("select status, message from ops.batch where batch_id = %s", (failed[0].batch_id,))[1][0]
    assert row[0] == "failed" and "not well-formed" in row[1]
    cols = db.query('select "petitioner_idnumber", "updatedat" from raw."petition__petition" limit 1')[1]
    assert cols and cols[0][1] is not None
    before = fingerprint("petition__petition")
    again = extract_petition_files(feed, conninfo(), directory)
    assert again == []  # rejected for good (same sha256): not evaluated again; nothing else re-loaded
    assert fingerprint("petition__petition") == before


def test_backfill_of_a_files_feed_says_how_to_reload_a_drop(county):
    from govhub.extract.run import extract_feed

    with pytest.raises(FeedError, match="ops.accepted_drop"):
        extract_feed("civil", interval=("20260101000000", "20260201000000"))


# ------------------------------------------------------------------------------------------ hostile / different
# Drops built by the tests themselves from the first simulated drop: the expected outcome of each case is worked
# out here from the files' bytes, independently of the connector.
import csv  # noqa: E402
import datetime as dt  # noqa: E402
import io  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import struct  # noqa: E402
import zlib  # noqa: E402

from govhub.extract.files_connector import MAX_KEY_CHARS, MAX_MANIFEST_BYTES, MAX_XLSX_UNCOMPRESSED  # noqa: E402

D1, D2, D3 = dt.date(2026, 11, 1), dt.date(2026, 11, 2), dt.date(2026, 11, 3)
CSV_OBJ = "残疾人"


def keyed(rows: list[list[str]]) -> list[list[str]]:
    """Rows with a non-empty ID that no other row repeats (so a test can address a row by its key)."""
    counts: dict[str, int] = {}
    for r in rows:
        counts[r[0]] = counts.get(r[0], 0) + 1
    return [list(r) for r in rows if r[0].strip() and counts[r[0]] == 1]


def parse_csv(data: bytes) -> tuple[list[str], list[list[str]]]:
    """(header, data rows) of a department CSV: BOM stripped, GBK (or UTF-8), blank and 合计 rows dropped."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("gb18030")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    body = [r for r in rows[1:] if any(c.strip() for c in r) and r[0].strip() != "合计"]
    return rows[0], body


def write_csv(header: list[str], rows: list[list[str]], encoding: str = "gbk", bom: bool = False,
              tail: str = "") -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows([header, *rows])
    return (b"\xef\xbb\xbf" if bom else b"") + (buf.getvalue() + tail).encode(encoding)


@pytest.fixture(scope="module")
def source_drop(county) -> dict[str, tuple[bytes, int]]:
    """register -> (file bytes, data rows) of the first simulated drop."""
    directory = exchange_dir("civil")
    manifest = sorted(directory.glob("manifest_*.json"))[0]
    out = {}
    for f in json.loads(manifest.read_text("utf-8"))["files"]:
        obj = f["name"].rsplit("_", 1)[0]
        out[obj] = ((directory / f["name"]).read_bytes(), f["rows"])
    return out


def file_name(obj: str, day: dt.date, src: dict) -> str:
    ext = "xlsx" if src[obj][0][:2] == b"PK" else "csv"
    return f"{obj}_{day:%Y%m%d}.{ext}"


def make_drop(directory: Path, day: dt.date, src: dict, csv_rows: list[list[str]] | None = None,
              layout: str = "flat", **replace: tuple[bytes, int]) -> Path:
    """Write a consistent drop of ``day``: the source files under this day's names, 残疾人's data rows replaced by
    ``csv_rows`` and any register replaced by ``replace[obj] = (bytes, rows)``; returns the manifest path."""
    folder = directory / f"{day:%Y%m%d}" if layout == "daily" else directory
    folder.mkdir(parents=True, exist_ok=True)
    files = dict(src)
    if csv_rows is not None:
        header, _ = parse_csv(src[CSV_OBJ][0])
        files[CSV_OBJ] = (write_csv(header, csv_rows), len(csv_rows))
    files.update(replace)
    listed = []
    for obj, (data, rows) in files.items():
        name = file_name(obj, day, src)
        (folder / name).write_bytes(data)
        listed.append({"name": name, "rows": rows, "sha256": hashlib.sha256(data).hexdigest()})
    manifest = folder / f"manifest_{day:%Y%m%d}.json"
    manifest.write_text(json.dumps({"drop_date": day.isoformat(), "files": listed}, ensure_ascii=False), "utf-8")
    return manifest


def edit_manifest(manifest: Path, change) -> None:
    spec = json.loads(manifest.read_text("utf-8"))
    change(spec)
    manifest.write_text(json.dumps(spec, ensure_ascii=False), "utf-8")


def expected_changes(before: list[list[str]] | None, after: list[list[str]]) -> set[tuple[str, str]]:
    """(record key, change) between two 残疾人 snapshots, worked out from the rows (first row of a key wins)."""
    def snap(rows):
        out: dict[str, tuple] = {}
        for r in rows or []:
            if r[0].strip():
                out.setdefault(r[0], tuple(c if c.strip() else None for c in r))
        return out
    b, a = snap(before), snap(after)
    return ({(k, "started") for k in a.keys() - b.keys()} | {(k, "ended") for k in b.keys() - a.keys()}
            | {(k, "changed") for k in a.keys() & b.keys() if a[k] != b[k]})


def changes_of(feed: str, day: dt.date) -> set[tuple[str, str]]:
    return set(db.query(f'select record_key, change from raw."{feed}__{CSV_OBJ}__changes" where drop_date = %s',
                        (day,))[1])


def assert_reconciled(feed: str) -> None:
    bad = db.query("select batch_id from ops.batch where feed = %s and status = 'succeeded' "
                   "and received <> loaded + quarantined", (feed,))[1]
    assert bad == []
    assert db.query("select count(*) from ops.batch where feed = %s and status = 'succeeded'", (feed,))[1][0][0] > 0


def three_snapshots(src) -> tuple[list, list, list]:
    """Day 1: the source rows; day 2: without the first five (and so different from day 1); day 3: without rows
    5-9 and with row 10's address changed — so diff(day 1, day 3) differs from diff(day 2, day 3)."""
    rows = keyed(parse_csv(src[CSV_OBJ][0])[1])
    assert len(rows) > 12
    day1 = [list(r) for r in rows]
    day2 = day1[5:]
    day3 = [list(r) for r in day1[:5] + day1[10:]]
    day3[5][-1] = day3[5][-1] + "（新址）"
    return day1, day2, day3


def _outside(tmp_path: Path, src) -> Path:
    target = tmp_path / "outside.csv"
    target.write_bytes(src[CSV_OBJ][0])
    return target


def refuse_dotdot(manifest: Path, tmp_path: Path, src) -> None:
    _outside(tmp_path, src)
    edit_manifest(manifest, lambda s: s["files"][2].update(name="../outside.csv"))


def refuse_absolute(manifest: Path, tmp_path: Path, src) -> None:
    target = _outside(tmp_path, src)
    edit_manifest(manifest, lambda s: s["files"][2].update(name=str(target)))


def refuse_symlink(manifest: Path, tmp_path: Path, src) -> None:
    target = _outside(tmp_path, src)
    link = manifest.parent / file_name(CSV_OBJ, D2, src)
    link.unlink()
    os.symlink(target, link)
    edit_manifest(manifest, lambda s: s["files"][2].update(sha256=hashlib.sha256(target.read_bytes()).hexdigest(),
                                                           rows=src[CSV_OBJ][1]))


def refuse_unknown_register(manifest: Path, tmp_path: Path, src) -> None:
    extra = manifest.parent / "宠物登记_20261102.csv"
    extra.write_bytes(write_csv(["编号", "名称"], [["1", "旺财"]]))
    edit_manifest(manifest, lambda s: s["files"].append(
        {"name": extra.name, "rows": 1, "sha256": hashlib.sha256(extra.read_bytes()).hexdigest()}))


def refuse_omitted_register(manifest: Path, tmp_path: Path, src) -> None:
    edit_manifest(manifest, lambda s: s["files"].pop(3))


def refuse_not_json(manifest: Path, tmp_path: Path, src) -> None:
    manifest.write_bytes(manifest.read_bytes()[:-20])


def refuse_wrong_shape(manifest: Path, tmp_path: Path, src) -> None:
    edit_manifest(manifest, lambda s: s.update(files={f["name"]: f for f in s["files"]}))


def refuse_missing_column(manifest: Path, tmp_path: Path, src) -> None:
    path = manifest.parent / file_name(CSV_OBJ, D2, src)
    header, rows = parse_csv(path.read_bytes())
    data = write_csv([h if h != "残疾等级" else "残疾级别" for h in header], rows)
    path.write_bytes(data)
    edit_manifest(manifest, lambda s: s["files"][2].update(sha256=hashlib.sha256(data).hexdigest()))


def refuse_oversize_cell(manifest: Path, tmp_path: Path, src) -> None:
    path = manifest.parent / file_name(CSV_OBJ, D2, src)
    header, rows = parse_csv(path.read_bytes())
    rows[0][5] = "村" * (csv.field_size_limit() + 1)
    data = write_csv(header, rows)
    path.write_bytes(data)
    edit_manifest(manifest, lambda s: s["files"][2].update(sha256=hashlib.sha256(data).hexdigest()))


def refuse_symlinked_manifest(manifest: Path, tmp_path: Path, src) -> dict:
    """The day-2 manifest is a link to a manifest outside the drop directory (right hashes and counts)."""
    target = tmp_path / "elsewhere" / manifest.name
    target.parent.mkdir()
    shutil.move(manifest, target)
    os.symlink(target, manifest)
    return {"unread": target}


def refuse_symlinked_day_folder(manifest: Path, tmp_path: Path, src) -> dict:
    """The whole day-2 drop lies in a folder outside the exchange directory; ``<dir>/20261102`` links to it."""
    outside = tmp_path / "elsewhere" / "20261102"
    outside.mkdir(parents=True)
    for f in manifest.parent.glob("*_20261102.*"):
        shutil.move(f, outside / f.name)
    os.symlink(outside, manifest.parent / "20261102", target_is_directory=True)
    return {"drop_name": "20261102", "unread": outside / manifest.name}


def refuse_oversize_manifest(manifest: Path, tmp_path: Path, src) -> dict:
    """A manifest padded past MAX_MANIFEST_BYTES with JSON whitespace (still valid JSON, right hashes)."""
    edit_manifest(manifest, lambda s: s.update(note=" " * MAX_MANIFEST_BYTES))
    return {"unread": manifest}


def deflate_bomb(member: str, size: int) -> bytes:
    """A zip archive whose one ``member`` really inflates to ``size`` zero bytes, built in about a second: a deflate
    block of 16 MiB of zeros, full-flushed (byte-aligned, no back-reference) so it can be repeated, then a last
    block; sizes and CRC-32 as a zip reader checks them (no zip64: ``size`` < 4 GiB)."""
    chunk = 16 << 20
    zeros = bytes(chunk)
    first = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = first.compress(zeros) + first.flush(zlib.Z_FULL_FLUSH)
    n, rest = divmod(size, chunk)
    last = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = block * n + last.compress(zeros[:rest]) + last.flush()
    crc = 0
    for _ in range(n):
        crc = zlib.crc32(zeros, crc)
    crc = zlib.crc32(zeros[:rest], crc)
    name = member.encode()
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), size, len(name), 0) + name
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, len(data), size, len(name),
                          0, 0, 0, 0, 0, 0) + name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local) + len(data), 0)
    return local + data + central + end


def refuse_xlsx_bomb(manifest: Path, tmp_path: Path, src) -> None:
    """特困人员's workbook is a zip bomb (~1 MB that inflates past MAX_XLSX_UNCOMPRESSED), its sha256 listed."""
    path = manifest.parent / file_name("特困人员", D2, src)
    assert path.suffix == ".xlsx"
    data = deflate_bomb("xl/worksheets/sheet1.xml", MAX_XLSX_UNCOMPRESSED + 1)
    path.write_bytes(data)
    edit_manifest(manifest, lambda s: next(f for f in s["files"] if f["name"] == path.name).update(
        sha256=hashlib.sha256(data).hexdigest()))


REFUSALS = {  # case -> (how the day-2 drop is broken, words the reason must contain)
    "dotdot": (refuse_dotdot, "climbs out of the drop directory"),
    "absolute": (refuse_absolute, "absolute path"),
    "symlink": (refuse_symlink, "symbolic link"),
    "unknown_register": (refuse_unknown_register, "宠物登记_20261102.csv has no register"),
    "omitted_register": (refuse_omitted_register, "omits the registered register(s) 留守人员"),
    "not_json": (refuse_not_json, "not UTF-8 JSON"),
    "wrong_shape": (refuse_wrong_shape, "shape"),
    "missing_column": (refuse_missing_column, "lacks the registered column(s) 残疾等级"),
    "oversize_cell": (refuse_oversize_cell, "not readable as CSV"),
    "symlinked_manifest": (refuse_symlinked_manifest, "manifest_20261102.json is a symbolic link to "),
    "symlinked_day_folder": (refuse_symlinked_day_folder, "day folder 20261102 is a symbolic link to "),
    "oversize_manifest": (refuse_oversize_manifest, f"over the limit of {MAX_MANIFEST_BYTES} bytes: not read"),
    "xlsx_bomb": (refuse_xlsx_bomb, f"inflates to {MAX_XLSX_UNCOMPRESSED + 1} bytes (over {MAX_XLSX_UNCOMPRESSED})"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refused_drop_is_recorded_later_drops_load_across_the_gap_and_a_redelivery_is_taken(
        case, source_drop, tmp_path, monkeypatch):
    feed_name = f"civil_refuse_{case}"
    feed = civil_feed(feed_name)
    directory = tmp_path / "drops"
    day1, day2, day3 = three_snapshots(source_drop)
    make_drop(directory, D1, source_drop, day1)
    m2 = make_drop(directory, D2, source_drop, day2)
    make_drop(directory, D3, source_drop, day3)
    breaker, words = REFUSALS[case]
    # what the refusal is recorded under (default: the manifest) and a file it must refuse without opening
    trick = breaker(m2, tmp_path, source_drop) or {}
    refused_name = trick.get("drop_name", m2.name)

    opened: list[Path] = []
    real_open = Path.open

    def spy_open(path: Path, *args, **kwargs):  # every file read goes through Path.open (read_bytes uses it)
        opened.append(path.resolve())
        return real_open(path, *args, **kwargs)

    with monkeypatch.context() as mp:
        mp.setattr(Path, "open", spy_open)
        results = extract_civil_drops(feed, conninfo(), directory)  # no exception: a department problem
    assert (directory / "manifest_20261101.json").resolve() in opened  # (the spy sees the reads)
    if "unread" in trick:
        assert trick["unread"].resolve() not in opened
    rejected = [r for r in results if r.status == "rejected"]
    assert len(rejected) == 1 and words in rejected[0].message, [r.message for r in rejected]
    assert refused_name in rejected[0].message
    assert [r.status for r in results].count("succeeded") == 8  # days 1 and 3, four registers each
    refusals = db.query("select sha256, reason from ops.rejected_drop where feed = %s and drop_name = %s",
                        (feed_name, refused_name))[1]
    assert len(refusals) == 1 and refusals[0][1].count(words) == 1, refusals
    if "unread" not in trick:  # a manifest that was read is recorded by its sha256
        assert refusals[0][0] == hashlib.sha256(m2.read_bytes()).hexdigest()
    assert db.query("select status, message like %s from ops.batch where batch_id = %s",
                    (f"%{words}%", rejected[0].batch_id))[1] == [("failed", True)]
    accepted = [r[0] for r in db.query("select drop_name from ops.accepted_drop where feed = %s order by 1",
                                       (feed_name,))[1]]
    assert accepted == ["manifest_20261101.json", "manifest_20261103.json"]
    assert_reconciled(feed_name)
    # day 3 is compared with the last *accepted* drop (day 1), not with the refused day 2
    assert changes_of(feed_name, D3) == expected_changes(day1, day3) != expected_changes(day2, day3)

    # the same refused manifest is not evaluated again (no new batch row)
    batches = db.query("select count(*) from ops.batch where feed = %s", (feed_name,))[1][0][0]
    assert extract_civil_drops(feed, conninfo(), directory) == []
    assert db.query("select count(*) from ops.batch where feed = %s", (feed_name,))[1][0][0] == batches

    # the department re-delivers day 2 correctly (a new manifest): taken, slotted in by date
    for f in m2.parent.glob("*_20261102.*"):
        f.unlink()
    make_drop(directory, D2, source_drop, day2)
    again = extract_civil_drops(feed, conninfo(), directory)
    assert [r.status for r in again] == ["succeeded"] * 4
    assert changes_of(feed_name, D2) == expected_changes(day1, day2)
    assert changes_of(feed_name, D3) == expected_changes(day2, day3)
    assert_reconciled(feed_name)


def test_incomplete_drop_is_skipped_not_refused(source_drop, tmp_path):
    feed_name = "civil_incomplete"
    directory = tmp_path / "drops"
    day1, day2, _ = three_snapshots(source_drop)
    make_drop(directory, D1, source_drop, day1)
    m2 = make_drop(directory, D2, source_drop, day2)
    missing = m2.parent / file_name("留守人员", D2, source_drop)
    kept = missing.read_bytes()
    missing.unlink()  # the department is still writing
    results = extract_civil_drops(civil_feed(feed_name), conninfo(), directory)
    assert [r.status for r in results] == ["succeeded"] * 4 + ["skipped"]
    assert "missing" in results[-1].message
    assert db.query("select count(*) from ops.rejected_drop where feed = %s", (feed_name,))[1][0][0] == 0
    missing.write_bytes(kept)
    assert [r.status for r in extract_civil_drops(civil_feed(feed_name), conninfo(), directory)] == ["succeeded"] * 4
    assert changes_of(feed_name, D2) == expected_changes(day1, day2)


def xlsx_bytes(header: list[str], rows: list[list]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_contract_valid_variants_are_accepted(source_drop, tmp_path, caplog):
    """Per-day folders and flat drops; the three readings of manifest rows; UTF-8+BOM / GB18030 / GBK; trailing
    blank lines; a header with spaces, BOM and full-width parentheses; an extra column (a drift warning);
    XLSX date cells and text dates give the same text."""
    feed_name = "civil_variants"
    feed = civil_feed(feed_name)
    directory = tmp_path / "drops"
    header, rows = parse_csv(source_drop[CSV_OBJ][0])
    rows = keyed(rows)
    rows[0][1] = "𠀀䶮"  # outside GBK: survives GB18030 only
    messy = ["\ufeff" + header[0], f" {header[1]}　", f"（{header[2]}）", *header[3:], "备注（新增）"]
    extra = [[*r, "x"] for r in rows]
    n = len(rows)
    xhead = ["身份证号", "姓名", "性别", "出生日期", "家庭住址", "所属乡镇", "所属村社区", "供养方式", "认定日期", "状态"]
    xrow = ["341126199001011234", "张三", "男", "1990-01-01", "某村", "某镇", "某村", "分散供养"]
    as_date = (xlsx_bytes(xhead, [[*xrow, dt.date(2020, 1, 5), "在保"]]), 1)
    as_text = (xlsx_bytes(xhead, [[*xrow, "2020-01-05", "在保"]]), 1)
    # day 1, flat: UTF-8 with BOM, rows = data rows only, XLSX date cell
    make_drop(directory, D1, source_drop, **{CSV_OBJ: (write_csv(messy, extra, "utf-8", bom=True), n)},
              特困人员=as_date)
    # day 2, its own folder: GB18030, rows = data rows + header line, trailing blank lines
    totals = ["合计", f"共{n}人"] + [""] * (len(messy) - 2)
    make_drop(directory, D2, source_drop, layout="daily", **{CSV_OBJ: (
        write_csv(messy, extra, "gb18030", tail="\r\n,,,\r\n\r\n"), n + 1)}, 特困人员=as_text)
    # day 3, flat: plain header, rows = data rows + the 合计 row; a lossy GBK copy of the name
    gbk_rows = [list(r) for r in rows]
    gbk_rows[0][1] = "?"
    make_drop(directory, D3, source_drop, **{CSV_OBJ: (write_csv(header, [*gbk_rows, totals[:len(header)]]), n + 1)})
    # day 4: rows match none of the readings (data + header + totals): skipped as a row-count mismatch
    d4 = dt.date(2026, 11, 4)
    make_drop(directory, d4, source_drop, **{CSV_OBJ: (write_csv(header, [*gbk_rows, totals[:len(header)]]), n + 2)})

    with caplog.at_level(logging.INFO, logger="govhub.extract.files_connector"):
        results = extract_civil_drops(feed, conninfo(), directory)
    assert [r.status for r in results] == ["succeeded"] * 12 + ["skipped"], [r.message for r in results]
    assert f"{n} rows, the manifest says {n + 2}" in results[-1].message
    log_text = caplog.text
    assert "read as data rows only" in log_text and "read as data rows + the header line (" in log_text
    assert "read as data rows + the 合计 totals row or data rows + the header line" in log_text
    assert_reconciled(feed_name)
    loaded = dict(db.query("select drop_name, loaded from ops.batch where feed = %s and object = %s and status = "
                           "'succeeded'", (feed_name, CSV_OBJ))[1])
    assert loaded == {f"{CSV_OBJ}_{d:%Y%m%d}.csv": n for d in (D1, D2, D3)}
    names = [r[0] for r in db.query(f'select "姓名" from raw."{feed_name}__{CSV_OBJ}" where _record_key = %s '
                                    'order by _batch_id', (rows[0][0],))[1]]
    assert "𠀀䶮" in names and "?" in names
    assert db.query(f'select count(*) from raw."{feed_name}__{CSV_OBJ}" where "姓名" = \'合计\' or "身份证号" = \'合计\'')[1] \
        == [(0,)]
    drift = db.query("select column_name, kind, severity from ops.schema_drift where feed = %s", (feed_name,))[1]
    assert drift == [("备注（新增）", "unexpected", "warning")]
    dates = db.query(f'select "认定日期" from raw."{feed_name}__特困人员" where "身份证号" = %s', (xrow[0],))[1]
    assert dates == [("2020-01-05",)]  # one version: the date cell (day 1) and the text (day 2) are the same text
    # the change records see the whole snapshot despite the header dressing: day 2 = day 1 exactly
    assert changes_of(feed_name, D2) == set()
    assert changes_of(feed_name, D3) == {(rows[0][0], "changed")}


def test_hostile_cells_are_inert_data_or_quarantined(source_drop, tmp_path):
    feed_name = "civil_hostile"
    header, rows = parse_csv(source_drop[CSV_OBJ][0])
    rows = keyed(rows)[:8]
    table = f'raw."{feed_name}__{CSV_OBJ}"'
    hostile = {
        0: ("姓名", f"'); drop table {table}; --"),
        1: ("姓名", "张三😀"),
        2: ("家庭住址", "\u202e号51组3村旗红"),
        3: ("家庭住址", "=cmd|' /C calc'!A0"),
        4: ("残疾类别", "+SUM(A1)"),
        5: ("姓名", "名" * 32767),
    }
    for i, (col, value) in hostile.items():
        rows[i][header.index(col)] = value
    nul_key = rows[6][0]
    rows[6][header.index("姓名")] = "李\x00四"
    ragged_key = rows[7][0]
    rows[7] = [*rows[7], "多出来的", "格子"]
    long_key = "9" * (MAX_KEY_CHARS + 1)
    rows.append([long_key, *rows[0][1:]])
    data = write_csv(header, rows, "utf-8")
    xhead = ["身份证号", "姓名", "性别", "出生日期", "家庭住址", "所属乡镇", "所属村社区", "供养方式", "认定日期", "状态"]
    xrows = [["341126199001011234", "=cmd|' /C calc'!A0", "男", "1990-01-01", "+SUM(A1)", "镇", "村", "分散供养",
              "2020-01-05", "在保"],
             ["341126199001015678", "王" * 32767, "女", "1990-01-01", "\u202e址", "镇😀", "村", "'; select 1; --",
              "2020-01-05", "在保"]]
    directory = tmp_path / "drops"
    make_drop(directory, D1, source_drop, **{CSV_OBJ: (data, len(rows))}, 特困人员=(xlsx_bytes(xhead, xrows), 2))
    results = extract_civil_drops(civil_feed(feed_name), conninfo(), directory)
    assert [r.status for r in results] == ["succeeded"] * 4
    assert_reconciled(feed_name)
    for i, (col, value) in hostile.items():
        assert db.query(f'select "{col}" from {table} where _record_key = %s', (rows[i][0],))[1] == [(value,)]
    reasons = dict(db.query("select record->>'身份证号', array_to_string(reasons, ' ') from ops.quarantine "
                            "where feed = %s", (feed_name,))[1])
    assert set(reasons) == {nul_key, ragged_key, long_key}
    assert "NUL" in reasons[nul_key] and "beyond the header" in reasons[ragged_key]
    assert f"{MAX_KEY_CHARS + 1} characters" in reasons[long_key]
    assert db.query("select record->>'姓名' from ops.quarantine where feed = %s and record->>'身份证号' = %s",
                    (feed_name, nul_key))[1] == [("李\\u0000四",)]
    keys = {k for k, _ in changes_of(feed_name, D1)}
    assert keys == {r[0] for r in rows[:6]}  # the change records leave out exactly what was quarantined
    xl = db.query(f'select "姓名", "家庭住址", "所属乡镇", "供养方式" from raw."{feed_name}__特困人员" order by 1')[1]
    assert sorted(xl) == sorted([("=cmd|' /C calc'!A0", "+SUM(A1)", "镇", "分散供养"),
                                 ("王" * 32767, "\u202e址", "镇😀", "'; select 1; --")])


# ------------------------------------------------------------------------------------------ petition XML
PETITION = """  <petition id="{id}">
    <channel>来访</channel>
    <petitioner><idNumber>341126199001011234</idNumber><name>{name}</name><phone/><address/></petitioner>
    <headcount>1</headcount>
    <receivedAt>2026-11-20T09:12:00+08:00</receivedAt>
    <category>其他</category>
    <targetDept/>
    <isFirst>true</isFirst>
    <escalation>本级</escalation>
    <status>受理</status>
    <closedAt/>
    <oneTimeResolved>false</oneTimeResolved>
    <satisfaction>未评价</satisfaction>
    <updatedAt>{updated}</updatedAt>
  </petition>"""


def petitions_xml(*items: tuple[str, str, str], declaration: bool = True, doctype: str = "") -> bytes:
    body = "\n".join(PETITION.format(id=i, name=n, updated=u) for i, n, u in items)
    head = '<?xml version="1.0" encoding="UTF-8"?>\n' if declaration else ""
    return f'{head}{doctype}<petitions exportedAt="2026-11-21T23:00:00+08:00">\n{body}\n</petitions>\n'.encode()


def test_petition_attacks_are_rejected_whole_and_the_next_file_loads(county, tmp_path):
    feed_name = "petition_hostile"
    feed = petition_feed(feed_name)
    directory = tmp_path / "petition"
    directory.mkdir()
    laughs = ('<!DOCTYPE petitions [<!ENTITY a "haha"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
              '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>\n')
    xxe = '<!DOCTYPE petitions [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
    good = petitions_xml(("XF1", "张三", "2026-11-21T16:40:00+08:00"))
    files = {  # day -> (bytes, per-day folder?, rejected with these words or None)
        "20261101": (good, False, None),
        "20261102": (petitions_xml(("XF2", "&d;", "2026-11-22T10:00:00+08:00"), doctype=laughs), False, "DTD"),
        "20261103": (petitions_xml(("XF3", "&x;", "2026-11-23T10:00:00+08:00"), doctype=xxe), True, "DTD"),
        "20261104": (petitions_xml(("XF4", "&x;", "2026-11-24T10:00:00+08:00")), False, "not well-formed"),
        "20261105": (bytes(range(256)) + b"\x00\x00<petitions>\x00", False, "not well-formed"),
        "20261106": (petitions_xml(("XF6", "李\x00四", "2026-11-26T10:00:00+08:00")), False, "not well-formed"),
        "20261107": (good[: len(good) * 2 // 3], True, "not well-formed"),
        "20261108": (b'<?xml version="1.0"?><html><petition id="XF8"/></html>', False, "not <petitions>"),
        # contract-valid variants: no declaration, CDATA, self-closing elements, Z / +0800 / milliseconds
        "20261109": (petitions_xml(("XF9", "<![CDATA[王<五>&]]>", "2026-11-29T02:00:00Z"),
                                   ("XF10", "赵六", "2026-11-29T10:00:00.250+0800"), declaration=False), True, None),
        # an updatedAt that is not a time is loaded as sent and moves no watermark
        "20261110": (petitions_xml(("XF11", "孙七", "9999-99-99T99:99:99"), ("XF12", "周八", "yesterday")), False,
                     None),
    }
    for day, (data, daily, _) in files.items():
        folder = directory / day if daily else directory
        folder.mkdir(exist_ok=True)
        (folder / f"xinfang_{day}.xml").write_bytes(data)
    # well-formed exports outside the directory, reached through a symbolic link: an export linked to a file
    # elsewhere, and a day folder linked to a folder elsewhere (refused under the folder's name)
    outside = tmp_path / "elsewhere"
    (outside / "20261112").mkdir(parents=True)
    (outside / "export.xml").write_bytes(petitions_xml(("XF13", "郑十", "2026-11-30T10:00:00+08:00")))
    os.symlink(outside / "export.xml", directory / "xinfang_20261111.xml")
    (outside / "20261112" / "xinfang_20261112.xml").write_bytes(
        petitions_xml(("XF14", "冯十一", "2026-11-30T11:00:00+08:00")))
    os.symlink(outside / "20261112", directory / "20261112", target_is_directory=True)
    links = {"xinfang_20261111.xml": "xinfang_20261111.xml is a symbolic link to ",
             "20261112": "day folder 20261112 is a symbolic link to "}
    results = extract_petition_files(feed, conninfo(), directory)
    assert len(results) == len(files) + len(links)
    for r, (drop_name, words) in zip(results[len(files):], links.items(), strict=True):
        assert r.status == "rejected" and words in r.message and str(outside) in r.message, r.message
        reason = db.query("select reason from ops.rejected_drop where feed = %s and drop_name = %s",
                          (feed_name, drop_name))[1]
        assert len(reason) == 1 and words in reason[0][0]
        assert db.query("select status from ops.batch where batch_id = %s", (r.batch_id,))[1] == [("failed",)]
    for r, (day, (_, _, words)) in zip(results, files.items(), strict=False):
        if words is None:
            assert r.status == "succeeded" and r.received == r.loaded + r.quarantined and r.loaded > 0, r
        else:
            assert r.status == "rejected" and f"xinfang_{day}.xml" in r.message and words in r.message, r.message
            assert r.message.lower().count("fix:") == 1, r.message  # the fix is said once, and said
            reason = db.query("select reason from ops.rejected_drop where feed = %s and drop_name = %s",
                              (feed_name, f"xinfang_{day}.xml"))[1]
            assert len(reason) == 1 and words in reason[0][0]
            assert db.query("select status from ops.batch where batch_id = %s", (r.batch_id,))[1] == [("failed",)]
    raw = dict(db.query(f'select id, "petitioner_name" from raw."{feed_name}__petition"')[1])
    assert raw == {"XF1": "张三", "XF9": "王<五>&", "XF10": "赵六", "XF11": "孙七", "XF12": "周八"}
    assert db.query(f'select "updatedat" from raw."{feed_name}__petition" where id = \'XF12\'')[1] == [("yesterday",)]
    # the watermark is the latest real time (XF10: 2026-11-29T02:00:00.250 UTC), not the string-largest text
    assert db.query("select value from ops.watermark where feed = %s", (feed_name,))[1] == \
        [("2026-11-29T02:00:00.250000+00:00",)]
    # nothing new on a re-run; a fixed re-export of a rejected day is evaluated afresh and taken
    assert extract_petition_files(feed, conninfo(), directory) == []
    (directory / "xinfang_20261104.xml").write_bytes(petitions_xml(("XF4", "吴九", "2026-11-24T10:00:00+08:00")))
    again = extract_petition_files(feed, conninfo(), directory)
    assert [r.status for r in again] == ["succeeded"] and again[0].loaded == 1
    assert db.query("select value from ops.watermark where feed = %s", (feed_name,))[1] == \
        [("2026-11-29T02:00:00.250000+00:00",)]


def test_oversize_drop_file_and_export_are_refused_before_reading_while_the_rest_loads(source_drop, county, tmp_path):
    """Sizes are bounded (feed option max_file_bytes): a register file or a petition export over the limit is
    refused with its size and the limit, unread; the other drops and exports load."""
    from dataclasses import replace

    day1, day2, day3 = three_snapshots(source_drop)
    directory = tmp_path / "drops"
    make_drop(directory, D1, source_drop, day1)
    m2 = make_drop(directory, D2, source_drop, day2)
    make_drop(directory, D3, source_drop, day3)
    biggest = max(p.stat().st_size for p in directory.glob("*.csv"))
    path = m2.parent / file_name(CSV_OBJ, D2, source_drop)
    data = path.read_bytes() + b"\r\n" * (biggest + 1)  # blank lines: the same rows, too many bytes
    path.write_bytes(data)
    edit_manifest(m2, lambda s: s["files"][2].update(sha256=hashlib.sha256(data).hexdigest()))
    feed = replace(civil_feed("civil_oversize"), options={"max_file_bytes": biggest})
    results = extract_civil_drops(feed, conninfo(), directory)
    rejected = [r for r in results if r.status == "rejected"]
    assert len(rejected) == 1 and f"is {len(data)} bytes, over the limit of {biggest} bytes" in rejected[0].message
    assert [r.status for r in results].count("succeeded") == 8

    pet = tmp_path / "petition"
    pet.mkdir()
    good = petitions_xml(("XF1", "张三", "2026-11-21T16:40:00+08:00"))
    big = petitions_xml(("XF2", "李四" * 200, "2026-11-22T16:40:00+08:00"))
    (pet / "xinfang_20261101.xml").write_bytes(good)
    (pet / "xinfang_20261102.xml").write_bytes(big)
    feed = replace(petition_feed("petition_oversize"), options={"max_file_bytes": len(good) + 10})
    results = extract_petition_files(feed, conninfo(), pet)
    assert [r.status for r in results] == ["succeeded", "rejected"]
    assert f"is {len(big)} bytes, over the limit of {len(good) + 10} bytes" in results[1].message
