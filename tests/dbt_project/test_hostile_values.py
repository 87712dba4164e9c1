"""One department's surprise never fails the build: hostile values written into the simulated police system.

The tiny county is generated, then rows a real department could send are added to its police database before
the pipeline runs: birth dates 00000000 (year 0: psycopg raised "date too small" in linkage.py on every run
after it), 18991231, 20991231 and month 13; sex and status codes the contract does not list; names with emoji
and bidi controls; names and addresses as long as the police columns hold; garbage ID numbers (so the records go through Splink); incident
coordinates that are text or outside the county, a report time of year 0 and unlisted JQLB / CJJG / JQZT codes.
The dbt build must succeed, the values must be null with their flag, and the unlisted codes must be listed by
int_quality__unknown_codes. The incident whose report time is impossible stays an event without a time (nothing
is lost); whether the publication gate (expectations/suites/published.yml, not dbt) lets such an event through is
the gate's decision, so the marts are read from whichever of `audit` / `published` holds this build. Last, linkage.py is run on what PostgreSQL itself can hold in its input table
(dates before year 1 and after 9999, megabyte names, emoji, bidi controls).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from govhub import db
from tests.conftest import reset_warehouse

# RYBH -> (CSRQ, XB, RYZT, name, address): every record has an unusable ID number, so linkage.py reads it
RESIDENTS = {
    "HOSTILE-R1": ("00000000", "1", "0", "张\u202e三😀", "开通镇红旗村3组15号"),
    "HOSTILE-R2": ("18991231", "2", "0", "李\u200f四", "开通镇红旗村3组16号"),
    "HOSTILE-R3": ("20991231", "1", "0", "王五" * 25, "开通镇" + "很长的地址" * 39),  # as long as the columns allow
    "HOSTILE-R4": ("19791345", "1", "0", "赵\x07六", "\u202e\u2066地址\u2069"),
    "HOSTILE-R5": ("19800101", "7", "8", "钱七", "开通镇红旗村3组17号"),
    "HOSTILE-R6": ("19800101", "1", "0", "'); drop table raw.police__rk_czrk; --", "=cmd|' /C calc'!A0"),
    "HOSTILE-R7": ("19800101", "2", "0", "+SUM(A1)", "@SUM(1+1)*cmd|' /C calc'!A0"),
}
NOT_A_TIME = "2026/10/20 8点"  # an update time that is not a time: quarantined, the watermark must not move
XML_ATTACKS = {
    "xinfang_20000101.xml": b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;'
                            b'&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><petitions>&c;</petitions>',
    "xinfang_20000102.xml": b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                            b'<petitions><petition id="X1"><channel>&x;</channel></petition></petitions>',
    "xinfang_20000103.xml": b"\x00\x01\xff\xfe garbage \x89PNG\r\n\x1a\n",
}
# JJBH -> (BJSJ, JD, WD, JQLB, CJJG, JQZT)
INCIDENTS = {
    "HOSTILE-I1": ("20261020080000", "东经117度", "32.8", "0101", "1", "0"),   # text in a numeric field
    "HOSTILE-I2": ("20261020080000", "32.8", "117.3", "0101", "1", "1"),      # swapped: outside the county
    "HOSTILE-I3": ("00000000000000", "0", "0", "9999", "7", "5"),            # year 0, unlisted codes, no point
}


def _insert_hostile_rows() -> None:
    with db.connect(database="src_police") as conn:
        gxsj = conn.execute('select max("GXSJ") from "RK_CZRK"').fetchone()[0]
        for rybh, (csrq, xb, ryzt, name, address) in RESIDENTS.items():
            conn.execute(
                'insert into "RK_CZRK" ("RYBH", "GMSFHM", "XM", "XB", "CSRQ", "MZ", "HH", "YHZGX", "HJDZ_XZQH", '
                '"HJDZ", "XZZ", "RYZT", "GXSJ") values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)',
                (rybh, "NOT-AN-ID-" + rybh[-2:], name, xb, csrq, "01", "H-" + rybh, "01", "341126100001", address,
                 address, ryzt, gxsj))
        conn.execute('insert into "ZDRY" ("ZDRYBH", "GMSFHM", "XM", "ZDRYLB", "LGSJ", "CGSJ", "GXSJ") '
                     "values ('HOSTILE-Z1', null, '孙八', '01', '20200101', null, %s)", (NOT_A_TIME,))
        gxsj = conn.execute('select max("GXSJ") from "JQ_JJXX"').fetchone()[0]
        for jjbh, (bjsj, jd, wd, jqlb, cjjg, jqzt) in INCIDENTS.items():
            conn.execute(
                'insert into "JQ_JJXX" ("JJBH", "BJSJ", "JQLB", "FADZ", "JD", "WD", "BJRSFZH", "SARYSFZH", "CJJG", '
                '"JQZT", "GXSJ") values (%s, %s, %s, %s, %s, %s, null, null, %s, %s, %s)',
                (jjbh, bjsj, jqlb, "开通镇红旗村3组15号", jd, wd, cjjg, jqzt, gxsj))
        conn.commit()
    _deliver_hostile_files()


def _deliver_hostile_files() -> None:
    """Civil manifests that escape the drop folder or omit a register; petition XML attacks and garbage."""
    import json

    from govhub.extract.connections import files_directory
    from govhub.extract.registry import feed

    civil = Path(files_directory(feed("civil")))
    for day, files in (("20000101", [{"name": "../outside.csv", "rows": 1, "sha256": "0" * 64}]),
                       ("20000102", [{"name": "/etc/passwd", "rows": 1, "sha256": "0" * 64}]),
                       ("20000103", [])):  # every register omitted
        (civil / f"manifest_{day}.json").write_text(json.dumps({"drop_date": f"{day[:4]}-{day[4:6]}-{day[6:]}",
                                                                 "files": files}), encoding="utf-8")
    petition = Path(files_directory(feed("petition")))
    for name, data in XML_ATTACKS.items():
        (petition / name).write_bytes(data)


@pytest.fixture(scope="module")
def hostile_pass(hub_env):
    """None when the whole pass succeeded, else the message of the failed warehouse build."""
    from govhub.orchestrate import DagRunFailed, run_pipeline
    from govhub.sim import justice, runner

    reset_warehouse()
    runner.generate("tiny", reset=True)
    _insert_hostile_rows()
    justice.start_background()
    try:
        run_pipeline()
    except DagRunFailed as failed:
        return str(failed)
    return None


def _marts() -> str:
    """The schema holding this run's marts: `audit` until a publication renames it to `published`."""
    return "audit" if db.query("select to_regclass('audit.fct_event') is not null")[1][0][0] else "published"


def _rows(query: str, params=None) -> list[dict]:
    cols, rows = db.query(query, params)
    return [dict(zip(cols, r, strict=True)) for r in rows]


def test_the_build_succeeds_and_the_county_publishes(hostile_pass):
    # every extract, the dbt build (models, tests at error severity, unit tests) and the publication gate passed
    assert hostile_pass is None, hostile_pass
    assert db.query("select count(*) from ops.publication where gate_success")[1][0][0] == 1
    assert db.query("select count(*) from linkage.resident_xref where source_record_id like 'HOSTILE-%%'")[1][0][0] == len(RESIDENTS)


def test_hostile_deliveries_are_inert_data_or_refused_with_a_reason(hostile_pass):
    # SQL text and spreadsheet formulas are data: stored exactly as sent, never executed
    names = dict(db.query("select rybh, xm from raw.police__rk_czrk where rybh in ('HOSTILE-R6', 'HOSTILE-R7')")[1])
    assert names == {"HOSTILE-R6": RESIDENTS["HOSTILE-R6"][3], "HOSTILE-R7": RESIDENTS["HOSTILE-R7"][3]}
    # an update time that is not a time: quarantined with a reason, the watermark stays a real time
    reasons = db.query("""select reasons from ops.quarantine where feed = 'police' and object = 'ZDRY'
                          and record->>'ZDRYBH' = 'HOSTILE-Z1'""")[1]
    assert reasons and any("GXSJ" in r for r in reasons[0][0])
    mark = db.query("select value from ops.watermark where feed = 'police' and object = 'ZDRY'")[1][0][0]
    assert mark != NOT_A_TIME and dt.datetime.strptime(mark, "%Y%m%d%H%M%S")
    # refused deliveries: each alone, with the reason in words; the county still published
    refused = dict(db.query("select drop_name, reason from ops.rejected_drop where feed = 'civil'")[1])
    assert {"manifest_20000101.json", "manifest_20000102.json", "manifest_20000103.json"} <= set(refused)
    assert all(refused[m] for m in refused)
    petitions = dict(db.query("""select drop_name, message from ops.batch where feed = 'petition'
                                 and drop_name like 'xinfang_2000%%'""")[1])
    assert set(petitions) == set(XML_ATTACKS) and all(petitions.values())
    assert db.query("select count(*) from raw.petition__petition where id = 'X1'")[1][0][0] == 0
    assert db.query("select count(*) from ops.publication where gate_success")[1][0][0] == 1


def test_impossible_birth_dates_are_null_with_their_flag(hostile_pass):
    rows = {r["source_record_id"]: r for r in _rows(
        "select source_record_id, birth_date, invalid_fields, sex, person_status, unknown_codes "
        "from staging.stg_police__residents where source_record_id like 'HOSTILE-%%'")}
    assert set(rows) == set(RESIDENTS)
    for rybh in ("HOSTILE-R1", "HOSTILE-R2", "HOSTILE-R3", "HOSTILE-R4"):
        assert rows[rybh]["birth_date"] is None, rybh
        assert rows[rybh]["invalid_fields"] == ["birth_date"], rybh
    assert str(rows["HOSTILE-R5"]["birth_date"]) == "1980-01-01"
    assert rows["HOSTILE-R5"]["invalid_fields"] == []
    # unlisted codes: explicit unknown outcomes, never null, never an error
    assert (rows["HOSTILE-R5"]["sex"], rows["HOSTILE-R5"]["person_status"]) == ("U", "unknown")
    assert rows["HOSTILE-R5"]["unknown_codes"] == {"XB": "7", "RYZT": "8"}
    # the per-field count the scorecard can report
    counted = {r["field"]: r["records"] for r in _rows(
        "select field, records from intermediate.int_quality__invalid_values where feed = 'police' and object = 'RK_CZRK'")}
    assert counted.get("birth_date", 0) >= 4


def test_linkage_read_every_hostile_record(hostile_pass):
    # the records without a usable ID went through linkage.py (Splink) and each got a resident
    linked = {r["source_record_id"]: r["match_method"] for r in _rows(
        "select source_record_id, match_method from linkage.resident_xref "
        "where source = 'police' and source_object = 'RK_CZRK' and source_record_id like 'HOSTILE-%%'")}
    assert set(linked) == set(RESIDENTS)
    assert set(linked.values()) <= {"probabilistic", "new"}


def test_bad_coordinates_and_times_are_null_with_their_flag(hostile_pass):
    rows = {r["source_record_id"]: r for r in _rows(
        "select source_record_id, reported_at, lon, lat, status, category_code, outcome, invalid_fields, unknown_codes "
        "from staging.stg_police__incidents where source_record_id like 'HOSTILE-%%'")}
    assert set(rows) == set(INCIDENTS)
    for jjbh in ("HOSTILE-I1", "HOSTILE-I2"):
        assert (rows[jjbh]["lon"], rows[jjbh]["lat"]) == (None, None), jjbh
        assert rows[jjbh]["invalid_fields"] == ["coordinates"], jjbh
        assert rows[jjbh]["reported_at"] is not None
    i3 = rows["HOSTILE-I3"]
    assert i3["reported_at"] is None and i3["invalid_fields"] == ["reported_at"]  # 0 / 0 is the police "unknown"
    assert (i3["status"], i3["category_code"], i3["outcome"]) == ("unknown", "unknown", "unknown")
    # every incident stays an event (nothing lost): without coordinates it is placed by its address; the unknown
    # JQZT is open, the unknown JQLB of type other, the impossible time null
    events = {r["source_event_id"]: r for r in _rows(
        f"select source_event_id, status, event_type, grid_assignment, occurred_at from {_marts()}.fct_event "
        "where source = 'police' and source_event_id like 'HOSTILE-%%'")}
    assert set(events) == set(INCIDENTS)
    assert {r["grid_assignment"] for r in events.values()} <= {"address", "village_only", "unassigned"}
    assert (events["HOSTILE-I3"]["status"], events["HOSTILE-I3"]["event_type"]) == ("open", "other")
    assert events["HOSTILE-I3"]["occurred_at"] is None


def test_unlisted_codes_are_listed_for_the_scorecard(hostile_pass):
    listed = {(r["object"], r["column_name"], r["raw_value"]): r["records"] for r in _rows(
        "select object, column_name, raw_value, records from intermediate.int_quality__unknown_codes "
        "where feed = 'police'")}
    for key in (("RK_CZRK", "XB", "7"), ("RK_CZRK", "RYZT", "8"), ("JQ_JJXX", "JQLB", "9999"), ("JQ_JJXX", "CJJG", "7"),
                ("JQ_JJXX", "JQZT", "5")):
        assert listed.get(key, 0) >= 1, key
    # the simulated county stays inside the contract: only the hostile rows are listed
    assert sum(listed.values()) == 5


def test_no_mart_value_is_out_of_range(hostile_pass):
    # what dashboards read back: every time of the events and every birth year is a real one (or null)
    marts = _marts()
    assert db.query(f"select count(*) from {marts}.fct_event where occurred_at < '1900-01-01' "
                    "or occurred_at > now() + interval '1 day'")[1][0][0] == 0
    low, high = db.query(f"select min(birth_year), max(birth_year) from {marts}.dim_resident")[1][0]
    assert 1900 <= low <= high <= dt.date.today().year + 1


def test_linkage_survives_any_value_the_database_holds(hostile_pass):
    """Staging never sends such dates, but linkage.py must not depend on it: it reads dates as bounded text."""
    from govhub import linkage

    hostile = [("L1", "4713-01-01 BC", "孙" * 1_000_000, "地址" * 500_000),
               ("L2", "20000-01-01", "😀\u202e\u2066周\u2069八", "\u200f\u202b开通镇红旗村\u202c3组"),
               ("L3", "infinity", "吴九", "开通镇红旗村3组15号"),
               ("L4", "0001-01-01", "", "")]
    with db.connect() as conn:
        for key, birth_date, name, address in hostile:
            conn.execute(
                "insert into intermediate.int_person_records__unioned (source, source_object, source_record_id, "
                "id_number_raw, id_number, id_status, person_name, sex, birth_date, address, residence_type, "
                "is_deceased) values ('police', 'RK_CZRK', %s, 'X', 'X', 'malformed', %s, 'U', %s::date, %s, "
                "'registered', false)", ("HOSTILE-" + key, name, birth_date, address))
        conn.commit()
    try:
        records = linkage.load_records()
        rows = records[records.uid.str.startswith("police|RK_CZRK|HOSTILE-L")].set_index("uid")
        assert len(rows) == 4
        assert rows.birth.isna().all()  # none of them is a date Python or Splink should see
        assert rows.loc["police|RK_CZRK|HOSTILE-L1", "name"] == "孙" * 64
        assert linkage.link_probabilistically() >= 0
    finally:
        with db.connect() as conn:
            conn.execute("delete from intermediate.int_person_records__unioned where source_record_id like 'HOSTILE-L%'")
            conn.commit()


def test_the_scorecard_and_hub_status_name_each_surprise(hostile_pass, capsys):
    from govhub import cli
    from govhub.quality.scorecard import compute

    departments = {d["feed"]: d for d in compute()["departments"]}
    police = departments["police"]["surprises"]
    assert {("JQ_JJXX", "JQLB", "9999"), ("RK_CZRK", "XB", "7")} <= {
        (u["object"], u["column_name"], u["raw_value"]) for u in police["unknown_codes"]}
    assert {("RK_CZRK", "birth_date")} <= {(v["object"], v["field"]) for v in police["invalid_values"]}
    assert {r["drop_name"] for r in departments["civil"]["surprises"]["rejected"]} >= {"manifest_20000101.json"}
    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    assert "9999" in out and "manifest_20000101.json" in out and "birth_date" in out
