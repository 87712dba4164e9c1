"""Civil-affairs drops (contract section 3): encodings, headers, manifests, quirks, anomalies, determinism."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from pathlib import Path

import openpyxl
import pytest

from govhub import db
from govhub.settings import TRUTH_DB
from govhub.sim import civil, runner
from govhub.sim.quirks import QuirkRates
from govhub.sim.world import BASE_END, SCALES, generate_world

NO_ANOMALIES = {"duplicate_drop": 0.0, "late_drop": 0.0, "truncated_drop": 0.0}
BOM = b"\xef\xbb\xbf"
CLOCK0 = BASE_END.date()
HISTORY = [CLOCK0 - dt.timedelta(days=2), CLOCK0 - dt.timedelta(days=1), CLOCK0]
CONTRACT_HEADERS = {
    "低保对象": "户主身份证号,成员身份证号,姓名,性别,出生日期,家庭住址,所属乡镇,所属村社区,"
            "保障类别,月保障金额,救助开始日期,状态",
    "特困人员": "身份证号,姓名,性别,出生日期,家庭住址,所属乡镇,所属村社区,"
            "供养方式,认定日期,状态",
    "残疾人": "身份证号,姓名,性别,残疾类别,残疾等级,家庭住址",
    "留守人员": "身份证号,姓名,类型,监护人身份证号,家庭住址",
}


@pytest.fixture(scope="module", autouse=True)
def default_county_afterwards(hub_env):
    """Other test modules reuse the county they find (generate without reset): leave a default one."""
    yield
    runner.generate("tiny", reset=True)


@pytest.fixture
def exchange(hub_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private civil exchange directory per test, so tests do not see each other's drops."""
    out = tmp_path / "civil"
    monkeypatch.setenv("HUB_EXCHANGE_CIVIL", str(out))
    monkeypatch.setenv("HUB_EXCHANGE_PETITION", str(tmp_path / "petition"))
    return out


def generate(**rates: float) -> dict:
    return runner.generate("tiny", reset=True, rates=rates)


def csv_table(data: bytes) -> list[list[str]]:
    text = data.removeprefix(BOM).decode("gbk")
    return list(csv.reader(io.StringIO(text, newline="")))


def xlsx_table(data: bytes) -> list[list]:
    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]


def table(path: Path) -> list[list]:
    return xlsx_table(path.read_bytes()) if path.suffix == ".xlsx" else csv_table(path.read_bytes())


def data_rows(rows: list[list]) -> list[list]:
    """Rows the manifest counts: not the header, not blank, not the 合计 totals row."""
    return [r for r in rows[1:] if any(c not in (None, "") for c in r) and r[0] != "合计"]


def drop_status(out: Path, day: dt.date) -> dict[str, bool]:
    """{file name: matches its manifest entry (sha256 and row count)}."""
    manifest = json.loads((out / f"manifest_{day:%Y%m%d}.json").read_text("utf-8"))
    assert manifest["drop_date"] == day.isoformat()
    status = {}
    for entry in manifest["files"]:
        path = out / entry["name"]
        data = path.read_bytes()
        ok = hashlib.sha256(data).hexdigest() == entry["sha256"]
        if ok:
            assert len(data_rows(table(path))) == entry["rows"], entry["name"]
        status[entry["name"]] = ok
    return status


def dir_hashes(out: Path) -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(out.iterdir())}


def test_drop_files_follow_the_contract(exchange: Path) -> None:
    generate(**NO_ANOMALIES, csv_bom=1.0, csv_totals_row=1.0)
    manifests = sorted(f.name for f in exchange.glob("manifest_*"))
    assert manifests == [f"manifest_{d:%Y%m%d}.json" for d in HISTORY]
    for day in HISTORY:
        assert all(drop_status(exchange, day).values())
        for obj, header in CONTRACT_HEADERS.items():
            path = exchange / f"{obj}_{day:%Y%m%d}.{'xlsx' if obj == '特困人员' else 'csv'}"
            rows = table(path)
            assert rows[0] == header.split(","), obj
            assert data_rows(rows), f"{obj} is empty"
            assert [r for r in rows if any(r)][-1][0] == "合计"  # totals row at rate 1.0
            if path.suffix == ".csv":
                data = path.read_bytes()
                assert data.startswith(BOM)
                body = data.removeprefix(BOM)
                assert b"\r\n" not in body or body.count(b"\n") == body.count(b"\r\n")  # one line-end style
            cols = dict(zip(rows[0], zip(*data_rows(rows), strict=True), strict=True))
            if "性别" in cols:
                assert set(cols["性别"]) <= {"男", "女"}
            if "状态" in cols:
                assert set(cols["状态"]) <= {"在保", "停保"}
            if "出生日期" in cols:
                for v in cols["出生日期"]:
                    dt.datetime.strptime(v, "%Y-%m-%d" if "-" in v else "%Y/%m/%d")
        low = data_rows(table(exchange / f"低保对象_{day:%Y%m%d}.csv"))
        assert {r[8] for r in low} <= {"城市低保", "农村低保"}
        for r in low:
            assert float(r[9].replace(",", "")) > 0
    all_amounts = [r[9] for d in HISTORY for r in data_rows(table(exchange / f"低保对象_{d:%Y%m%d}.csv"))]
    assert any("," in a for a in all_amounts)  # thousands separators occur


def test_no_quirks_at_rate_zero_and_advance_writes_one_drop_per_day(exchange: Path) -> None:
    generate(**NO_ANOMALIES, csv_bom=0.0, csv_totals_row=0.0)
    for f in exchange.glob("*.csv"):
        assert not f.read_bytes().startswith(BOM)
        assert all(r[:1] != ["合计"] for r in csv_table(f.read_bytes()))
    before = set(exchange.iterdir())
    written = runner.advance(2)
    assert written["written"]["civil"]["drops"] == 2
    new = {f.name for f in set(exchange.iterdir()) - before}
    days = [CLOCK0 + dt.timedelta(days=1), CLOCK0 + dt.timedelta(days=2)]
    assert {n for n in new if n.startswith("manifest_")} == {f"manifest_{d:%Y%m%d}.json" for d in days}
    assert len(new) == 10
    for day in days:
        assert all(drop_status(exchange, day).values())


def test_totals_row_and_bom_at_default_rates() -> None:
    world, rates = generate_world(SCALES["tiny"]), QuirkRates()
    totals = boms = n = 0
    for i in range(60):
        files, _ = civil.render_drop(world, rates, CLOCK0 + dt.timedelta(days=i))
        for name, data in files.items():
            if name.endswith(".csv"):
                n += 1
                boms += data.startswith(BOM)
                totals += csv_table(data)[-1][:1] == ["合计"] or csv_table(data)[-2][:1] == ["合计"]
    assert 0.18 < totals / n < 0.42  # csv_totals_row = 0.3
    assert 0.38 < boms / n < 0.62  # csv_bom = 0.5


def test_truncated_drop_is_detectable_and_redelivered(exchange: Path) -> None:
    generate(**(NO_ANOMALIES | {"truncated_drop": 1.0}))
    # Each day's drop is truncated; the day before is re-delivered whole with the next day's write.
    assert all(drop_status(exchange, HISTORY[0]).values())
    assert all(drop_status(exchange, HISTORY[1]).values())
    assert list(drop_status(exchange, HISTORY[2]).values()).count(False) == 1
    runner.advance(1)
    assert all(drop_status(exchange, HISTORY[2]).values())
    assert list(drop_status(exchange, CLOCK0 + dt.timedelta(days=1)).values()).count(False) == 1


def test_late_and_duplicate_drops(exchange: Path) -> None:
    generate(**(NO_ANOMALIES | {"late_drop": 1.0}))
    # The last day is late: written only with the next day's write.
    assert not (exchange / f"manifest_{CLOCK0:%Y%m%d}.json").exists()
    assert all(drop_status(exchange, HISTORY[1]).values())
    runner.advance(1)
    assert all(drop_status(exchange, CLOCK0).values())

    result = generate(**(NO_ANOMALIES | {"duplicate_drop": 1.0}))
    assert result["written"]["civil"]["drops"] == 5  # 3 drops + 2 re-deliveries (the first is not repeated)
    world, rates = generate_world(SCALES["tiny"]), QuirkRates.parse({**NO_ANOMALIES, "duplicate_drop": 1.0})
    assert set(civil.drop_anomalies(world, rates, HISTORY[0], CLOCK0).values()) == {"duplicate"}
    assert all(all(drop_status(exchange, d).values()) for d in HISTORY)


def test_same_seed_gives_byte_identical_drops(exchange: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    generate()
    first = dir_hashes(exchange)
    other = tmp_path / "civil2"
    monkeypatch.setenv("HUB_EXCHANGE_CIVIL", str(other))
    generate()
    assert dir_hashes(other) == first
    assert len(first) >= 10


def test_truth_links_cover_every_row(exchange: Path) -> None:
    generate(**NO_ANOMALIES, id_missing=0.05)
    _, links = db.query("select object, record_id from truth_record where source = 'civil'",
                        database=TRUTH_DB)
    truth = set(links)
    for day in HISTORY:
        for obj in civil.OBJECTS:
            rows = table(exchange / civil.file_name(obj, day))
            header = rows[0]
            id_col = header.index("成员身份证号" if obj == "低保对象" else "身份证号")
            for r in data_rows(rows):
                rid = r[id_col] or f"~{r[header.index('姓名')]}|{r[header.index('家庭住址')]}"
                assert (obj, rid) in truth, (obj, rid)
