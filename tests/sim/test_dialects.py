"""Dialects (govhub.sim.dialect): the contract's open choices, drawn per department, written into every system."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import io
import json
import re
from pathlib import Path
from xml.etree import ElementTree

import httpx
import openpyxl
import pytest
from psycopg import sql

from govhub import db
from govhub.settings import TRUTH_DB
from govhub.sim import civil, justice, petition, runner
from govhub.sim import health as health_sim
from govhub.sim.dialect import (
    ADDRESS_CHOICES,
    CHOICES,
    NAME_CHOICES,
    OFFENSE_CHINESE,
    OFFENSE_CRIME,
    PROVINCE_PREFIX,
    RARE_CHARS,
    AddressStyle,
    Dialect,
    NameStyle,
)
from govhub.sim.quirks import QuirkRates
from govhub.sim.world import BASE_END

BOM = b"\xef\xbb\xbf"
CLOCK0 = BASE_END.date()
HISTORY = [CLOCK0 - dt.timedelta(days=d) for d in (2, 1, 0)]
# Without anomalies every drop day is delivered once and every export is well-formed: the checks below can
# then read each day's files. Totals rows always, so the manifest's counting of them shows.
CLEAN = {"duplicate_drop": 0.0, "late_drop": 0.0, "truncated_drop": 0.0, "malformed_xml": 0.0,
         "csv_totals_row": 1.0}
QUIET = {"rate_limit": None, "random_429": 0.0, "random_5xx": 0.0, "state_ttl": 0.0}
# sha256 of everything the tiny default county writes at clock 0 + 1 day, measured with the simulator as it
# was before dialects existed (commit 6709a84): the default dialect must not change one byte.
GOLDEN = {
    "src_police": "3e2caaf6013106eb93c28e5ec12fc8e346538744b80509fa87ee18c2e67ab5fe",
    "src_grid": "896a1337d3f35f8ed46e6819082f9b5507fb39fcf9f2336ec0a76069818167a1",
    "src_health": "e7722365bf35bed88fc48fa3443cc3191b52adb6d98ecd35a6796f91080d8e78",
    "civil": "275c58379d4bbe80e267acf97484af47779f3b95fd9f3ae6c31fc160bc7f3f58",
    "petition": "53dc548aa8c2530f61655951d131071fd01e5464e51dc7cfc9656c925992c87d",
    "justice": "1823931d098a4864be6c21ec8e2e8fe00873dea4e55febbb98b2f617c1a8ea5f",
    "truth": "11efdd5700e6771252bf82e345756f10ebae9735baff60f21c596ce97b952b60",
}

STYLE_A = AddressStyle(prefix="province", numerals="chinese", group_word="社", house_word="号院", unit_word="单元")
STYLE_B = AddressStyle(prefix="county", numerals="fullwidth", group_word="屯", house_word="号", unit_word="幢")
NAMES_A = NameStyle(dot="•", given_only_rate=0.05, rare_char_rate=0.05)
NAMES_B = NameStyle(dot="・", given_only_rate=0.0, rare_char_rate=0.05)
# Every choice away from the default, twice (A and B together cover every alternative of a plain field
# with up to three values; rare codes at a visible rate).
ALT_A = Dialect(
    police_types="varchar", grid_coord_type="numeric(10,6)", grid_level_type="integer", grid_key_type="bigint",
    grid_time_type="timestamp", health_key_type="bigint", health_updated_type="timestamp", health_date_type="text",
    health_risk_type="text", civil_tekun_status=("在册", "退出"), justice_offense="chinese", justice_office="bureau",
    police_rare_rate=0.3, grid_rare_rate=0.3, health_rare_rate=0.3, justice_rare_rate=0.3,
    civil_date_format="chinese", civil_birth_slash_rate=1.0, civil_xlsx_dates="all", civil_thousands_rate=1.0,
    civil_manifest_rows="data+header", civil_layout="daily", civil_bom="always", civil_encoding="gb18030",
    petition_layout="daily", petition_declaration="none", petition_cdata=True, petition_empty="pair",
    petition_pretty=False, justice_time="Z.ms",
    **{f"{d}_address": STYLE_A for d in ("police", "health", "civil", "justice", "petition")},
    **{f"{d}_names": NAMES_A for d in ("police", "health", "civil", "justice", "petition")},
)
ALT_B = dataclasses.replace(
    ALT_A, police_types="text", grid_level_type="text", civil_tekun_status=("正常", "终止"),
    justice_offense="chinese_crime", justice_office="county", civil_date_format="compact",
    civil_birth_slash_rate=0.0, civil_xlsx_dates="none", civil_thousands_rate=0.0,
    civil_manifest_rows="data+totals", civil_bom="never", civil_encoding="gbk", petition_declaration="utf-8",
    justice_time="+0800", police_rare_rate=0.0,
    **{f"{d}_address": STYLE_B for d in ("police", "health", "civil", "justice", "petition")},
    **{f"{d}_names": NAMES_B for d in ("police", "health", "civil", "justice", "petition")},
)


@pytest.fixture(scope="module", autouse=True)
def default_county_afterwards(hub_env):
    """Other test modules reuse the county they find (generate without reset): leave a default one."""
    yield
    runner.generate("tiny", reset=True)


@pytest.fixture
def exchange(hub_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Private civil and petition exchange directories (``tmp_path/civil``, ``tmp_path/petition``)."""
    monkeypatch.setenv("HUB_EXCHANGE_CIVIL", str(tmp_path / "civil"))
    monkeypatch.setenv("HUB_EXCHANGE_PETITION", str(tmp_path / "petition"))
    return tmp_path


def generate_with(monkeypatch: pytest.MonkeyPatch, dialect: Dialect, **rates: float) -> dict:
    """Generate the tiny county with exactly ``dialect`` (draw() answers it for dialect seed 0)."""
    monkeypatch.setattr(Dialect, "draw", classmethod(lambda cls, seed: dialect))
    return runner.generate("tiny", reset=True, rates=rates, dialect_seed=0)


# ------------------------------------------------------------------------------------------- readers
def column_types(database: str) -> dict[tuple[str, str], str]:
    rows = db.query("select table_name, column_name, data_type, numeric_precision, numeric_scale "
                    "from information_schema.columns where table_schema = 'public'", database=database)[1]
    return {(t, c): (f"numeric({p},{s})" if dtype == "numeric" else dtype) for t, c, dtype, p, s in rows}


def rows_of(database: str, table: str) -> list[dict]:
    cols, rows = db.query(sql.SQL("select * from {}").format(sql.Identifier(table)).as_string(), database=database)
    return [dict(zip(cols, r, strict=True)) for r in rows]


def truth_ids(source: str, obj: str) -> dict[str, int]:
    rows = db.query("select record_id, pid from truth_record where source = %s and object = %s", (source, obj),
                    database=TRUTH_DB)[1]
    return dict(rows)


def persons() -> dict:
    world = runner.world_for(runner.load_state())
    return {p.pid: p for p in world.persons}


def homes(ids: dict[str, int]) -> dict:
    """{record id: the true person's home building} from truth links."""
    people = persons()
    return {rid: people[pid].home for rid, pid in ids.items()}


def standard_share(records: dict[str, str], buildings: dict, style: AddressStyle) -> float:
    """Share of records whose address is exactly their building written in ``style`` (the rest are the
    clerks' variants, QuirkRates.address_variant = 0.35)."""
    linked = [(rid, a) for rid, a in records.items() if rid in buildings and a]
    assert linked, "no linked records"
    return sum(a == style.write(buildings[rid]) for rid, a in linked) / len(linked)


def expect(present: bool, rate: float) -> None:
    """A value drawn at ``rate`` is absent at 0 and (on thousands of draws, or a forced 0.3) present."""
    if rate == 0:
        assert not present
    elif rate >= 0.2:
        assert present


def county_digest(root: Path) -> dict[str, str]:
    """sha256 per department system, file tree and truth of the current county (see GOLDEN)."""
    out = {}
    for database in ("src_police", "src_grid", "src_health"):
        h = hashlib.sha256()
        with db.connect(database) as conn:
            cols = conn.execute("select table_name, column_name, data_type, character_maximum_length, "
                                "numeric_precision from information_schema.columns where table_schema = 'public' "
                                "order by table_name, ordinal_position").fetchall()
            h.update(repr(cols).encode())
            tables = conn.execute("select table_name from information_schema.tables where table_schema = 'public' "
                                  "order by 1").fetchall()
            for (t,) in tables:
                for row in conn.execute(sql.SQL("select * from {} order by 1").format(sql.Identifier(t))):
                    h.update(repr(row).encode())
        out[database] = h.hexdigest()
    for src in ("civil", "petition"):
        h = hashlib.sha256()
        for f in sorted((root / src).rglob("*")):
            if f.is_file():
                h.update(str(f.relative_to(root)).encode() + f.read_bytes())
        out[src] = h.hexdigest()
    state = runner.load_state()
    world = runner.world_for(state)
    h = hashlib.sha256()
    for r in justice.RESOURCES:
        items = justice.items_as_of(world, QuirkRates(**state.rates), world.clock(state.clock_days), r)
        h.update(json.dumps([{**i, "updatedAt": justice.iso(i["updatedAt"])} for i in items],
                            ensure_ascii=False).encode())
    out["justice"] = h.hexdigest()
    h = hashlib.sha256()
    with db.connect(TRUTH_DB) as conn:
        for t in ("truth_person", "truth_record", "truth_event"):
            for row in conn.execute(f"select * from {t} order by 1, 2, 3"):
                h.update(repr(row).encode())
    out["truth"] = h.hexdigest()
    return out


# ------------------------------------------------------------------------------------------- the checker
DATE_RE = {"iso": r"\d{4}-\d{2}-\d{2}", "slash": r"\d{4}/\d{1,2}/\d{1,2}", "compact": r"\d{8}",
           "chinese": r"\d{4}年\d{1,2}月\d{1,2}日"}
TIME_RE = {"+08:00": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", "Z.ms": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z",
           "+0800": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0800"}


def check_types(d: Dialect) -> None:
    police = column_types("src_police")
    expected = {"char_varchar": {"character", "character varying"}, "varchar": {"character varying"},
                "text": {"text"}}[d.police_types]
    assert set(police.values()) == expected
    grid = column_types("src_grid")
    assert grid["building", "lon"] == grid["grid_event", "lat"] == d.grid_coord_type
    assert grid["admin_division", "level"] == d.grid_level_type
    key = "bigint" if d.grid_key_type == "bigint" else "text"
    assert {grid[t, c] for t, c in [("building", "building_id"), ("grid_staff", "staff_id"),
                                    ("grid_event", "event_id"), ("grid_event", "reporter_staff_id")]} == {key}
    naive = "timestamp without time zone" if d.grid_time_type == "timestamp" else "timestamp with time zone"
    assert grid["grid_event", "reported_at"] == grid["grid", "created_at"] == naive
    assert grid["grid_event", "updated_at"] == "timestamp with time zone"  # the contract types it
    htypes = column_types("src_health")
    key = "bigint" if d.health_key_type == "bigint" else "character varying"
    assert {htypes[t, c] for t, c in [("smd_patient", "patient_id"), ("smd_followup", "followup_id"),
                                      ("smd_followup", "patient_id"), ("birth_cert", "cert_no"),
                                      ("death_cert", "cert_no")]} == {key}
    updated = "timestamp without time zone" if d.health_updated_type == "timestamp" else "timestamp with time zone"
    assert {htypes[t, "updated_at"] for t in ("smd_patient", "smd_followup", "birth_cert", "death_cert")} == {updated}
    assert htypes["smd_patient", "birth_date"] == htypes["birth_cert", "birth_date"] == d.health_date_type
    assert htypes["smd_patient", "risk_level"] == htypes["smd_followup", "risk_level"] == d.health_risk_type
    if d.health_updated_type == "timestamp":  # local wall time: what a +08:00 clock showed
        first = db.query("select min(updated_at)::text from smd_followup", database="src_health")[1][0][0]
        entered = min(f.entered_at for pt in health_sim._patients(runner.world_for(runner.load_state()))
                      for f in pt.followups)
        assert first == entered.strftime("%Y-%m-%d %H:%M:%S")


def check_values_and_truth(d: Dialect) -> None:
    expect("5" in {r["CJJG"] for r in rows_of("src_police", "JQ_JJXX")}, d.police_rare_rate)
    expect("已办结" in {r["status"] for r in rows_of("src_grid", "grid_event")}, d.grid_rare_rate)
    sexes = {r["sex"] for r in rows_of("src_health", "smd_patient") + rows_of("src_health", "birth_cert")}
    expect(bool(sexes & {"m", "f", "u"}), d.health_rare_rate)
    # truth still names every record as the hub reads it (bigint keys included)
    for obj, key in (("RK_CZRK", "RYBH"), ("RK_LDRK", "DJBH"), ("ZDRY", "ZDRYBH")):
        assert {str(r[key]) for r in rows_of("src_police", obj)} <= set(truth_ids("police", obj)), obj
    patients = {str(r["patient_id"]) for r in rows_of("src_health", "smd_patient")}
    assert patients and patients <= set(truth_ids("health", "smd_patient"))
    deaths = {str(r["cert_no"]) for r in rows_of("src_health", "death_cert")}
    assert deaths <= set(truth_ids("health", "death_cert"))
    events = {str(r["event_id"]) for r in rows_of("src_grid", "grid_event")}
    truth_events = {r[0] for r in db.query("select record_id from truth_event where source = 'grid'",
                                           database=TRUTH_DB)[1]}
    assert events and events <= truth_events
    buildings = {str(r["building_id"]) for r in rows_of("src_grid", "building")}
    truth_buildings = {r[0] for r in db.query("select building_id from truth_person", database=TRUTH_DB)[1]}
    assert truth_buildings <= buildings
    # addresses: most records (no clerk's variant) are the home written exactly in the department's style
    czrk_rows = rows_of("src_police", "RK_CZRK")
    ids = truth_ids("police", "RK_CZRK")
    czrk = {r["RYBH"]: r["XZZ"] for r in czrk_rows}
    assert standard_share(czrk, homes(ids), d.police_address) > 0.5
    smd = {str(r["patient_id"]): r["address"] for r in rows_of("src_health", "smd_patient")}
    assert standard_share(smd, homes(truth_ids("health", "smd_patient")), d.health_address) > 0.4
    # names: the system's middle dot only; given name alone; characters outside GBK (a UTF-8 database)
    dots = {ch for r in czrk_rows for ch in r["XM"] if ch in "·•・."}
    assert dots == {d.police_names.dot}  # the tiny county has minority residents
    people = persons()
    given_only = sum(r["XM"] == people[ids[r["RYBH"]]].name[1:] for r in czrk_rows
                     if len(people[ids[r["RYBH"]]].name) >= 3)
    expect(given_only > 0, d.police_names.given_only_rate * 10)
    expect(any(ch in RARE_CHARS for r in czrk_rows for ch in r["XM"]), d.police_names.rare_char_rate * 10)


def check_civil(d: Dialect, out: Path) -> None:
    civil_names: list[str] = []
    for day in HISTORY:
        folder = out / f"{day:%Y%m%d}" if d.civil_layout == "daily" else out
        manifest = json.loads((folder / civil.manifest_name(day)).read_text("utf-8"))
        assert not (d.civil_layout == "daily" and (out / civil.manifest_name(day)).exists())
        for entry in manifest["files"]:
            data = (folder / entry["name"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == entry["sha256"]
            if entry["name"].endswith(".csv"):
                if d.civil_bom != "sometimes":
                    assert data.startswith(BOM) == (d.civil_bom == "always"), entry["name"]
                rows = list(csv.reader(io.StringIO(data.removeprefix(BOM).decode(d.civil_encoding), newline="")))
            else:
                wb = openpyxl.load_workbook(io.BytesIO(data))
                rows = [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
            header, body = rows[0], [r for r in rows[1:] if any(c not in (None, "") for c in r)]
            data_rows = [r for r in body if r[0] != "合计"]
            totals = len(body) - len(data_rows)
            expected = len(data_rows) + {"data": 0, "data+header": 1, "data+totals": totals}[d.civil_manifest_rows]
            assert entry["rows"] == expected, entry["name"]
            col = {h: i for i, h in enumerate(header)}
            if entry["name"].startswith("低保对象"):
                slash = [("/" in r[col["出生日期"]]) for r in data_rows]
                if d.civil_birth_slash_rate in (0.0, 1.0):
                    assert set(slash) == {d.civil_birth_slash_rate == 1.0}
                assert all(re.fullmatch(DATE_RE[d.civil_date_format], r[col["救助开始日期"]]) for r in data_rows)
                big = [r[col["月保障金额"]] for r in data_rows if float(r[col["月保障金额"]].replace(",", "")) >= 1000]
                commas = sum("," in a for a in big)
                assert commas == {1.0: len(big), 0.0: 0}.get(d.civil_thousands_rate, commas)
            if entry["name"].startswith("特困人员"):
                assert {r[col["状态"]] for r in data_rows} <= set(d.civil_tekun_status)
                since = [r[col["认定日期"]] for r in data_rows]
                if d.civil_xlsx_dates == "none":
                    assert all(re.fullmatch(DATE_RE[d.civil_date_format], s) for s in since)
                else:
                    assert all(isinstance(s, dt.datetime) for s in since)
                births = [isinstance(r[col["出生日期"]], dt.datetime) for r in data_rows]
                assert set(births) == {d.civil_xlsx_dates == "all"}
            rare = any(ch in RARE_CHARS for r in data_rows for ch in r[col["姓名"]])
            civil_names += [r[col["姓名"]] for r in data_rows]
            if d.civil_encoding == "gbk":
                assert not rare
    if d.civil_encoding == "gb18030":
        expect(any(ch in RARE_CHARS for n in civil_names for ch in n), d.civil_names.rare_char_rate * 10)
    # truth links every row: its ID as sent, or ~name|address
    links = {(o, r) for o, r in db.query("select object, record_id from truth_record where source = 'civil'",
                                         database=TRUTH_DB)[1]}
    last = out / f"{CLOCK0:%Y%m%d}" if d.civil_layout == "daily" else out
    raw = (last / civil.file_name("残疾人", CLOCK0)).read_bytes().removeprefix(BOM).decode(d.civil_encoding)
    rows = [r for r in list(csv.reader(io.StringIO(raw, newline="")))[1:] if r and r[0] != "合计"]
    assert rows and all(("残疾人", r[0] or f"~{r[1]}|{r[5]}") in links for r in rows)
    # the civil address is the department's style: check through the linked IDs
    assert standard_share({r[0]: r[5] for r in rows}, homes(truth_ids("civil", "残疾人")), d.civil_address) > 0.4


def check_petition(d: Dialect, out: Path) -> None:
    files = sorted(out.rglob("xinfang_*.xml"))
    assert files
    for f in files:
        assert (f.parent != out) == (d.petition_layout == "daily")
    texts = [f.read_text("utf-8") for f in files]
    for text in texts:
        ElementTree.fromstring(text.encode())  # well-formed in every dialect
        if d.petition_declaration == "none":
            assert text.startswith("<petitions")
        else:
            assert text.startswith(f'<?xml version="1.0" encoding="{d.petition_declaration}"?>')
        if not d.petition_pretty:
            assert text.count("\n") == 1
    joined = "".join(texts)
    assert ("<![CDATA[" in joined) == d.petition_cdata
    assert ("<closedAt></closedAt>" in joined) == (d.petition_empty == "pair")
    assert ("<closedAt/>" in joined) == (d.petition_empty == "self_closing")
    ids = truth_ids("petition", "xinfang")
    world = runner.world_for(runner.load_state())
    buildings = {p.petition_id: p.building for p in world.petitions}  # the petition's place, not always home
    addresses = {}
    for text in texts:
        for p in ElementTree.fromstring(text.encode()).iter("petition"):
            assert p.get("id") in ids
            addresses[p.get("id")] = p.findtext("petitioner/address")
    assert standard_share(addresses, buildings, d.petition_address) > 0.4


def check_justice(d: Dialect) -> None:
    with justice.start_server(**QUIET) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        token = http.post("/api/v1/token", json={"clientId": "hub", "clientSecret": "sim-secret"}).json()
        auth = {"Authorization": f"Bearer {token['accessToken']}"}
        items = {r: http.get(f"/api/v1/{r}", params={"pageSize": 500}, headers=auth).json()["items"]
                 for r in justice.RESOURCES}
    assert all(items.values())
    stamps = [i["updatedAt"] for r in items.values() for i in r] + [i["acceptedAt"] for i in items["mediations"]]
    assert all(re.fullmatch(TIME_RE[d.justice_time], s) for s in stamps)
    offenses = {i["offenseCategory"] for i in items["resettlement"]}
    if d.justice_offense == "code":
        assert offenses <= set(OFFENSE_CHINESE)
    else:
        labels = OFFENSE_CHINESE if d.justice_offense == "chinese" else OFFENSE_CRIME
        assert offenses <= set(labels.values())
    office = {"township": r"[^县]+司法所", "county": r"清河县[^局]+司法所", "bureau": r"清河县司法局.+司法所"}
    assert all(re.fullmatch(office[d.justice_office], i["supervisingOffice"]) for i in items["corrections"])
    genders = {i["gender"] for r in ("corrections", "resettlement") for i in items[r]}
    expect("U" in genders, d.justice_rare_rate)
    ids = {**truth_ids("justice", "corrections"), **truth_ids("justice", "resettlement")}
    addresses = {i.get("caseId") or i["recordId"]: i["residenceAddress"]
                 for r in ("corrections", "resettlement") for i in items[r]}
    assert standard_share(addresses, homes(ids), d.justice_address) > 0.4


def check_everything(d: Dialect, root: Path) -> None:
    check_types(d)
    check_values_and_truth(d)
    check_civil(d, root / "civil")
    check_petition(d, root / "petition")
    check_justice(d)


# ------------------------------------------------------------------------------------------- tests
def test_default_dialect_writes_todays_bytes(exchange: Path) -> None:
    assert Dialect.default() == Dialect() and Dialect.from_json(None) == Dialect()
    runner.generate("tiny", reset=True)
    runner.advance(1)
    assert county_digest(exchange) == GOLDEN


def test_draw_is_deterministic_and_reaches_every_alternative() -> None:
    assert Dialect.draw(7) == Dialect.draw(7)
    assert Dialect.from_json(json.loads(json.dumps(Dialect.draw(7).to_json()))) == Dialect.draw(7)
    draws = [Dialect.draw(seed) for seed in range(60)]
    assert len({json.dumps(x.to_json(), sort_keys=True, ensure_ascii=False) for x in draws}) == 60
    # two seeds differ in many choices, not one
    differing = [k for k in CHOICES if getattr(draws[1], k) != getattr(draws[2], k)]
    assert len(differing) >= 5, differing
    for name, alternatives in CHOICES.items():
        assert {getattr(x, name) for x in draws} == set(alternatives), name
    for name, alternatives in ADDRESS_CHOICES.items():
        assert {getattr(x.civil_address, name) for x in draws} == set(alternatives), name
    for name, alternatives in NAME_CHOICES.items():
        assert {getattr(x.petition_names, name) for x in draws} == set(alternatives), name
    # per department: the same choice is drawn separately for each
    assert any(x.police_address != x.health_address for x in draws)


def test_dialect_is_stored_and_kept_when_the_clock_advances(exchange: Path) -> None:
    out = runner.generate("tiny", reset=True, dialect_seed=5)
    assert out["dialect"]["seed"] == 5 and out["dialect"]["alternatives"] == Dialect.draw(5).alternatives()
    assert runner.load_state().get_dialect() == Dialect.draw(5)
    assert runner.generate("tiny", dialect_seed=5)["status"] == "exists"
    runner.advance(1)
    assert runner.load_state().get_dialect() == Dialect.draw(5)
    # a county stored before dialects (no column) reads as the default reading
    with db.connect(TRUTH_DB) as conn:
        conn.execute("alter table sim_state drop column dialect")
    assert runner.load_state().get_dialect() == Dialect.default()
    assert runner.generate("tiny")["status"] == "exists"
    # another dialect is another county
    assert runner.generate("tiny", dialect_seed=6)["status"] == "generated"
    assert runner.load_state().get_dialect() == Dialect.draw(6)


@pytest.mark.parametrize("dialect", [ALT_A, ALT_B], ids=["alt_a", "alt_b"])
def test_every_alternative_is_written(exchange: Path, monkeypatch: pytest.MonkeyPatch, dialect: Dialect) -> None:
    generate_with(monkeypatch, dialect, **CLEAN)
    check_everything(dialect, exchange)
    # advancing keeps the dialect in the new rows and files
    runner.advance(1)
    day = CLOCK0 + dt.timedelta(days=1)
    assert (exchange / "civil" / f"{day:%Y%m%d}" / civil.manifest_name(day)).exists()
    assert (exchange / "petition" / f"{day:%Y%m%d}" / petition.file_name(day)).exists()
    check_types(dialect)


def test_addresses_take_the_department_style() -> None:
    from govhub.sim.geography import Building

    rural = Building("B1", "g", "v", "t", "开通镇", "红旗村", "3组", 15, None, 0.0, 0.0, "住宅")
    urban = Building("B2", "g", "v", "t", "城关街道", "建设社区", "人民路", 12, 3, 0.0, 0.0, "住宅")
    assert AddressStyle().write(rural) == rural.std_address == "开通镇红旗村3组15号"
    assert STYLE_A.write(rural) == f"{PROVINCE_PREFIX}清河县开通镇红旗村三社十五号院"
    assert STYLE_A.write(urban) == f"{PROVINCE_PREFIX}清河县城关街道建设社区人民路十二号院三单元"
    assert STYLE_B.write(rural) == "清河县开通镇红旗村３屯１５号"
    assert STYLE_B.write(urban, township=False) == "清河县建设社区人民路１２号３幢"


def test_a_drawn_dialect_is_written_as_drawn(exchange: Path) -> None:
    seed = 11
    drawn = Dialect.draw(seed)
    assert len(drawn.alternatives()) >= 10  # a real mix, not the default
    runner.generate("tiny", reset=True, rates=CLEAN, dialect_seed=seed)
    check_everything(drawn, exchange)
