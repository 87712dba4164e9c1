"""The simulated health system (contract section 6) against a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import defaultdict

import pytest
from psycopg import sql

from govhub import db
from govhub.sim import dbsystems, health, runner
from govhub.sim.idnumbers import to_15
from govhub.sim.quirks import QuirkRates
from govhub.sim.world import FUTURE_DAYS, SCALES, World, generate_world

CONTRACT = {  # contract section 6, with the SQL types the simulator uses
    "smd_patient": [("patient_id", "character varying"), ("id_card", "character varying"),
                    ("name", "character varying"), ("sex", "character"), ("birth_date", "date"),
                    ("diagnosis_code", "character varying"), ("risk_level", "smallint"),
                    ("management_status", "character varying"), ("address", "character varying"),
                    ("last_followup_date", "date"), ("updated_at", "timestamp with time zone")],
    "smd_followup": [("followup_id", "character varying"), ("patient_id", "character varying"),
                     ("followup_date", "date"), ("followup_type", "character varying"), ("risk_level", "smallint"),
                     ("updated_at", "timestamp with time zone")],
    "birth_cert": [("cert_no", "character varying"), ("mother_id_card", "character varying"),
                   ("child_name", "character varying"), ("sex", "character"), ("birth_date", "date"),
                   ("birth_address", "character varying"), ("updated_at", "timestamp with time zone")],
    "death_cert": [("cert_no", "character varying"), ("id_card", "character varying"), ("name", "character varying"),
                   ("death_date", "date"), ("cause_icd10", "character varying"), ("address", "character varying"),
                   ("updated_at", "timestamp with time zone")],
}
PKS = {"smd_patient": "patient_id", "smd_followup": "followup_id", "birth_cert": "cert_no", "death_cert": "cert_no"}
FULLWIDTH_BACK = str.maketrans("０１２３４５６７８９Ｘ", "0123456789X")


@pytest.fixture(scope="module")
def county(hub_env):
    # Other modules regenerate the shared county with their own quirk rates: start from the defaults.
    return runner.generate("tiny", reset=True)


def _fresh() -> tuple[World, QuirkRates, dt.datetime]:
    """A world generated anew from the stored seed (not the runner's cache) and the current clock."""
    state = runner.load_state()
    world = generate_world(SCALES[state.scale], state.seed)
    return world, QuirkRates(**state.rates), world.clock(state.clock_days)


def _table(name: str, database: str = "src_health") -> list[tuple]:
    with db.connect(database) as conn:
        return conn.execute(sql.SQL("select * from {} order by {}").format(
            sql.Identifier(name), sql.Identifier(PKS[name]))).fetchall()


def _digest(rows: list[tuple]) -> str:
    norm = [tuple(v.astimezone(dt.UTC).isoformat() if isinstance(v, dt.datetime) else v for v in r) for r in rows]
    return hashlib.sha256(repr(norm).encode()).hexdigest()


def _clean_id(value: str | None) -> str:
    return (value or "").translate(FULLWIDTH_BACK).replace(" ", "").upper()


def _is_quirk_of(value: str | None, id18: str) -> bool:
    """``value`` is ``id18`` as the contract says departments send it (or missing)."""
    clean = _clean_id(value)
    return clean in ("", id18, to_15(id18)) or (len(clean) == 18 and clean[:17] == id18[:17])


def test_registered_with_runner():
    assert health.HEALTH in runner.DB_SYSTEMS
    assert health.truth_links in runner.TRUTH_LINKS
    assert sum(s.source == "health" for s in runner.DB_SYSTEMS) == 1


def test_tables_and_columns_match_contract(county):
    with db.connect("src_health") as conn:
        for table, expected in CONTRACT.items():
            got = conn.execute("select column_name, data_type from information_schema.columns "
                               "where table_schema = 'public' and table_name = %s order by ordinal_position",
                               (table,)).fetchall()
            assert got == expected, table
            pk = conn.execute("""select a.attname from pg_index i join pg_attribute a
                                 on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
                                 where i.indrelid = %s::regclass and i.indisprimary""", (table,)).fetchall()
            assert pk == [(PKS[table],)]


def test_values_stay_inside_the_contract(county):
    _, _, clock = _fresh()
    patients, followups = _table("smd_patient"), _table("smd_followup")
    births, deaths = _table("birth_cert"), _table("death_cert")
    assert patients and followups and births and deaths
    assert {r[3] for r in patients} <= {"M", "F", "U"} and {r[3] for r in births} <= {"M", "F", "U"}
    assert all(re.fullmatch(r"F(20|25|31|22|06|7\d)", r[5]) for r in patients)
    assert all(0 <= r[6] <= 5 for r in patients) and all(0 <= r[4] <= 5 for r in followups)
    assert {r[7] for r in patients} <= {"in_management", "lost", "deceased", "moved_out"}
    assert {r[3] for r in followups} <= {"home", "phone", "clinic"}
    assert all(re.fullmatch(r"[A-Z]\d{2}(\.\d)?", r[4]) for r in deaths)
    for rows in (patients, followups, births, deaths):
        assert all(r[-1] <= clock for r in rows)  # nothing from the future
    # the patient row summarises its follow-ups
    last: dict[str, dt.date] = defaultdict(lambda: None)
    for f in followups:
        last[f[1]] = f[2] if last[f[1]] is None else max(last[f[1]], f[2])
    assert {f[1] for f in followups} <= {p[0] for p in patients}
    assert all(p[9] == last[p[0]] for p in patients)


def test_records_describe_the_hidden_world(county):
    world, _, clock = _fresh()
    by_pid = {p.pid: p for p in world.persons}
    by_id = {p.id18: p for p in world.persons}
    patients = _table("smd_patient")
    present = {r[0] for r in patients}
    for p in world.persons:  # every patient registered before today is there, unless gone before that
        start = p.tags.get("smd_patient")
        gone = [t for t in (p.death_at, p.moved_out_at) if t is not None]
        if start is not None and start < clock.date() and not (gone and min(gone).date() <= start):
            assert health.patient_id(p) in present
    for r in patients:
        p = by_pid[int(r[0][-7:])]
        assert "smd_patient" in p.tags and r[6] == p.smd_risk and r[4] == p.birth
        assert _is_quirk_of(r[1], p.id18)
        if r[7] == "deceased":
            assert p.death_at is not None and p.death_at <= clock
    deaths = _table("death_cert")
    dead = [p for p in world.persons if p.death_at and health.death_cert_at(world, p) <= clock]
    assert sorted(r[0] for r in deaths) == sorted(health.death_cert_no(p) for p in dead)
    for r in deaths:
        p = by_pid[int(r[0][-8:])]
        assert r[3] == p.death_at.date() and _is_quirk_of(r[1], p.id18)
    for r in _table("birth_cert"):
        mother = by_id.get(_clean_id(r[1]))
        if mother is not None:  # a quirky number may not repair; the others are women of 20-40
            assert mother.sex == "2" and 19 <= (r[4] - mother.birth).days / 365.25 <= 41


def test_truth_links_name_the_records(county):
    world, _, _ = _fresh()
    links = list(health.truth_links(world))
    assert {o for _, o, _, _ in links} >= {"smd_patient", "death_cert"}
    with db.connect("sim_truth") as conn:
        stored = set(conn.execute("select object, record_id, pid from truth_record where source = 'health'"))
    assert stored == {(o, r, pid) for _, o, r, pid in links}
    assert {r[0] for r in _table("smd_patient")} <= {r for o, r, _ in stored if o == "smd_patient"}


def test_ids_sometimes_carry_spaces():
    world = generate_world(SCALES["tiny"], 20261125)
    spaced = QuirkRates(id_spaces=1.0, id_missing=0, id_wrong_check=0, id_legacy15=0, id_fullwidth=0)
    clock = world.end
    ids = [r[1] for _, r in health._smd_patient(world, spaced, clock)]
    ids += [r[1] for _, r in health._death_cert(world, spaced, clock)]
    assert ids and all(" " in i and len(i.replace(" ", "")) == 18 for i in ids)


def test_lost_to_followup_follows_the_rule():
    world = generate_world(SCALES["tiny"], 20261125)
    clock = world.end
    rows = [r for _, r in health._smd_patient(world, QuirkRates(), clock)]
    by_pid = {p.pid: p for p in world.persons}
    for r in rows:
        p = by_pid[int(r[0][-7:])]
        ref = max(d for d in (r[9], world.start.date(), p.tags["smd_patient"]) if d is not None)
        if r[7] == "in_management":
            assert clock.date() - ref <= health.LOST_AFTER + dt.timedelta(days=1)
        elif r[7] == "lost" and "smd_patient" not in p.tag_ends:
            assert clock.date() - ref >= health.LOST_AFTER


def test_incremental_writes_equal_a_snapshot(county):
    """Generating at day 0 and advancing gives what the department would show at the new clock."""
    state = runner.load_state()
    if state.clock_days + 5 > FUTURE_DAYS:
        pytest.skip("the simulated future is used up")
    for step in (0, 5):
        if step:
            runner.advance(step)
        world, rates, clock = _fresh()
        for table in health.HEALTH.tables:
            snapshot = sorted(r for _, r in table.rows(world, rates, clock))
            assert _table(table.name) == snapshot, table.name


def test_same_seed_same_content(county):
    """Two generations from the same seed, into two fresh databases, hold identical rows."""
    digests = []
    for n in (1, 2):
        name = f"tmp_health_det_{n}"
        with db.connect("postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        try:
            world, rates, clock = _fresh()
            with db.connect(name) as conn:
                dbsystems.write_system(conn, health.HEALTH, world, rates, None, clock)
            digests.append({t: _digest(_table(t, name)) for t in PKS})
        finally:
            with db.connect("postgres", autocommit=True) as conn:
                conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
    assert digests[0] == digests[1]
    assert digests[0] == {t: _digest(_table(t)) for t in PKS}  # and the live system agrees


def test_residents_born_in_the_span_get_certificates():
    world = generate_world(SCALES["tiny"], 20261125)
    mother = next(p for p in world.persons if p.sex == "2" and p.relation == "10"
                  and 25 <= (world.start.date() - p.birth).days / 365.25 <= 35)
    child = next(p for p in world.persons if p.household == mother.household and p.relation == "20")
    child.birth = world.start.date() + dt.timedelta(days=10)
    rows = [r for _, r in health._birth_cert(world, QuirkRates(id_missing=0), world.end)]
    assert [r[0] for r in rows] == [f"Q{child.pid:09d}"]
    assert _clean_id(rows[0][1])[:6] == mother.id18[:6] and rows[0][4] == child.birth
    assert ("health", "birth_cert", f"Q{child.pid:09d}", child.pid) in set(health.truth_links(world))
