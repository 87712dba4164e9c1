"""Health (卫健) as a relational database: severe-mental-disorder management, birth and death certificates.

Contract section 6: snake_case columns, ``sex`` as ``M``/``F``/``U``, ID numbers sometimes with spaces,
incremental column ``updated_at``. Like the other database systems, every table yields its rows *as of
the simulation clock*, each with the time of its latest change, so generating at day N and advancing
day by day up to N write the same content.

The hidden world decides who is a patient, their risk and follow-ups, and who dies; what the health
system adds here is its own view of it: entry lags, loss to follow-up, certificates and clerks' quirks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from govhub.sim import runner
from govhub.sim.dbsystems import Rows, SimSystem, SimTable
from govhub.sim.dialect import DEFAULT, Dialect
from govhub.sim.geography import COUNTY_CODE6, COUNTY_NAME
from govhub.sim.names import COMPOUND_SURNAMES, NameMaker
from govhub.sim.quirks import QuirkRates, quirky_address, quirky_id, quirky_name, record_rng
from govhub.sim.world import BASE_END, TZ, Person, World

SEX = {"1": "M", "2": "F"}
SEX_UNKNOWN_RATE = 0.003  # clerks leave sex unrecorded now and then ("U")
# A patient without a follow-up for this long is reported as lost to follow-up (失访) until seen again.
LOST_AFTER = dt.timedelta(days=150)
# Timeline events besides "in_management" (registration), "followup" and "lapse": the terminal changes
# and the management_status each one leaves for good ("ended": the patient left SMD management).
TERMINAL = {"deceased": "deceased", "moved_out": "moved_out", "ended": "lost"}
# ICD-10 categories of the contract with rough shares among registered SMD patients; F7x is spread over
# the intellectual-disability categories F70-F72.
DIAGNOSES = [("F20", 62), ("F25", 5), ("F31", 14), ("F22", 4), ("F06", 5), ("F70", 4), ("F71", 4), ("F72", 2)]
# Underlying causes of death (ICD-10 as coded on 死亡医学证明) by age band, with rough county shares.
CAUSES_OLD = [("I63.9", 15), ("I21.9", 12), ("J44.9", 12), ("I61.9", 8), ("C34.9", 8), ("J18.9", 6), ("R54", 6),
              ("I25.1", 5), ("I50.9", 4), ("C16.9", 4), ("C22.0", 4), ("E11.9", 4), ("C15.9", 3), ("N18.9", 2),
              ("W19", 2)]
CAUSES_YOUNG = [("V89.2", 12), ("C34.9", 6), ("C22.0", 6), ("I21.9", 6), ("I61.9", 6), ("K74.6", 4), ("C16.9", 3),
                ("X70", 2), ("W74", 2), ("C50.9", 3), ("I63.9", 3), ("J18.9", 2)]
BIRTHS_PER_WOMAN_YEAR = 0.05  # women 20-40; about 6 births per 1,000 residents a year
HOSPITALS = [f"{COUNTY_NAME}人民医院", f"{COUNTY_NAME}妇幼保健院", f"{COUNTY_NAME}中医院"]


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """``day`` at ``hour`` o'clock plus ``minute`` minutes (which may run past the hour), in Asia/Shanghai."""
    return dt.datetime.combine(day, dt.time(hour), TZ) + dt.timedelta(minutes=minute)


def _sex(rng_value: float, sex: str, dialect: Dialect = DEFAULT) -> str:
    code = "U" if rng_value < SEX_UNKNOWN_RATE else SEX.get(sex, "U")
    # A dialect's rare lower-case code (m/f/u) reuses the same draw, so the default consumes nothing extra.
    if dialect.health_rare_rate and SEX_UNKNOWN_RATE <= rng_value < SEX_UNKNOWN_RATE + dialect.health_rare_rate:
        return code.lower()
    return code


def _name(rng, name: str, rates: QuirkRates, dialect: Dialect) -> str:
    return dialect.health_names.apply(rng, quirky_name(rng, name, rates))


def _pick(rng, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([c for c, _ in weighted], weights=[w for _, w in weighted])[0]


# ------------------------------------------------------------------------------------- death certificates
def death_cert_no(p: Person) -> str:
    return f"SW{COUNTY_CODE6}{p.death_at:%Y}{p.pid:08d}"


def death_cert_at(world: World, p: Person) -> dt.datetime:
    """When the certificate is entered: hours to three days after the death (police learn weeks later)."""
    rng = record_rng(world.seed, "health", "death_cert_at", p.pid)
    return (p.death_at + dt.timedelta(minutes=rng.randint(60, 72 * 60))).replace(second=0, microsecond=0)


def _death_cert(world: World, rates: QuirkRates, clock: dt.datetime, dialect: Dialect = DEFAULT) -> Rows:
    for p in world.persons:
        if p.death_at is None:
            continue
        issued = death_cert_at(world, p)
        if issued > clock:
            continue
        rng = record_rng(world.seed, "health", "death_cert", p.pid)
        age = (p.death_at.date() - p.birth).days / 365.25
        cause = _pick(rng, CAUSES_OLD if age >= 60 else CAUSES_YOUNG)
        if "smd_patient" in p.tags and rng.random() < 0.15:  # excess suicide among SMD patients
            cause = "X70"
        yield issued, (death_cert_no(p), quirky_id(rng, p.id18, rates), _name(rng, p.name, rates, dialect),
                       p.death_at.date(), cause, quirky_address(rng, p.home, rates, dialect.health_address), issued)


# ------------------------------------------------------------------------------------- SMD management
@dataclass(frozen=True)
class _Followup:
    followup_id: str
    day: dt.date
    kind: str
    risk_level: int
    entered_at: dt.datetime  # doctors enter a visit the same day or a few days later


@dataclass(frozen=True)
class _Patient:
    person: Person
    patient_id: str
    diagnosis: str
    registered_at: dt.datetime
    followups: list[_Followup]
    events: list[tuple[dt.datetime, str, dt.date | None]]  # (when, kind, follow-up date); kinds below


def patient_id(p: Person) -> str:
    return f"JS{COUNTY_CODE6}{p.pid:07d}"


_PATIENTS: list[tuple[World, list[_Patient]]] = []  # one-entry cache: both SMD tables need the timelines


def _patients(world: World) -> list[_Patient]:
    if _PATIENTS and _PATIENTS[0][0] is world:
        return _PATIENTS[0][1]
    by_pid: dict[int, list] = {}
    for f in world.followups:
        by_pid.setdefault(f.pid, []).append(f)
    out = []
    for p in world.persons:
        if "smd_patient" not in p.tags:
            continue
        pt = _timeline(world, p, by_pid.get(p.pid, []))
        if pt is not None:
            out.append(pt)
    _PATIENTS[:] = [(world, out)]
    return out


def _timeline(world: World, p: Person, world_followups: list) -> _Patient | None:
    """The patient's history in the health system; None when they never reach it (e.g. died first)."""
    rng = record_rng(world.seed, "health", "smd_timeline", p.pid)
    registered = _at(p.tags["smd_patient"], 8, rng.randrange(0, 540))
    diagnosis = _pick(rng, DIAGNOSES)
    # The terminal change, if any: the death certificate, a move out of the county, or the end of management.
    terminal: tuple[dt.datetime, str] | None = None
    stop_day: dt.date | None = None  # no follow-ups from this day on
    if p.death_at:
        terminal, stop_day = (death_cert_at(world, p), "deceased"), p.death_at.date()
    elif p.moved_out_at:
        moved = (p.moved_out_at + dt.timedelta(days=rng.randint(1, 10))).replace(microsecond=0)
        terminal, stop_day = (moved, "moved_out"), p.moved_out_at.date()
    elif "smd_patient" in p.tag_ends:
        # an end before the start (the world draws them independently) still ends management, a day later
        end = max(p.tag_ends["smd_patient"], p.tags["smd_patient"] + dt.timedelta(days=1))
        terminal, stop_day = (_at(end, 10), "ended"), end
    if terminal and terminal[0] <= registered:
        return None
    followups = []
    for f in world_followups:
        if stop_day and f.date >= stop_day:
            continue
        frng = record_rng(world.seed, "health", "smd_followup", f.followup_id)
        lag = 0 if frng.random() < 0.7 else frng.randint(1, 5)
        entered = _at(f.date + dt.timedelta(days=lag), frng.randint(8, 17), frng.randrange(60))
        if entered > registered:
            followups.append(_Followup(f.followup_id, f.date, f.kind, f.risk_level, entered))
    followups.sort(key=lambda f: (f.entered_at, f.followup_id))

    events: list[tuple[dt.datetime, str, dt.date | None]] = [(registered, "in_management", None)]
    # History before the simulated span is not modelled: the follow-up clock starts at the span's start.
    seen = max(registered.date(), world.start.date())
    for f in followups:
        lost = _at(seen + LOST_AFTER, 9)
        if lost < f.entered_at and (terminal is None or lost < terminal[0]):
            events.append((lost, "lapse", None))
        events.append((f.entered_at, "followup", f.day))
        seen = max(seen, f.day)
    lost = _at(seen + LOST_AFTER, 9)
    if terminal is None or lost < terminal[0]:
        events.append((lost, "lapse", None))
    if terminal:
        events.append((terminal[0], terminal[1], None))
    events.sort(key=lambda e: e[0])
    return _Patient(p, patient_id(p), diagnosis, registered, followups, events)


def _patient_state(pt: _Patient, clock: dt.datetime) -> tuple[str, dt.date | None, dt.datetime]:
    """(management_status, last_followup_date, updated_at) as of ``clock``."""
    status, last, updated, final = "in_management", None, pt.registered_at, False
    for when, kind, day in pt.events:
        if when > clock:
            break
        updated = when
        if kind == "followup":
            last = day if last is None else max(last, day)
            if not final:
                status = "in_management"  # seen again after a lapse
        elif kind == "lapse":
            if not final:
                status = "lost"
        elif kind in TERMINAL:
            status, final = TERMINAL[kind], True
    return status, last, updated


def _smd_patient(world: World, rates: QuirkRates, clock: dt.datetime, dialect: Dialect = DEFAULT) -> Rows:
    for pt in _patients(world):
        if pt.registered_at > clock:
            continue
        p = pt.person
        rng = record_rng(world.seed, "health", "smd_patient", p.pid)
        status, last, updated = _patient_state(pt, clock)
        yield updated, (pt.patient_id, quirky_id(rng, p.id18, rates), _name(rng, p.name, rates, dialect),
                        _sex(rng.random(), p.sex, dialect), p.birth, pt.diagnosis, p.smd_risk, status,
                        quirky_address(rng, p.home, rates, dialect.health_address), last, updated)


def _smd_followup(world: World, rates: QuirkRates, clock: dt.datetime, dialect: Dialect = DEFAULT) -> Rows:
    for pt in _patients(world):
        for f in pt.followups:
            if f.entered_at <= clock:
                yield f.entered_at, (f.followup_id, pt.patient_id, f.day, f.kind, f.risk_level, f.entered_at)


# ------------------------------------------------------------------------------------- birth certificates
@dataclass(frozen=True)
class _Birth:
    cert_no: str
    mother: Person | None
    child: Person | None  # a resident of the world born in the span, else a synthetic newborn
    born_at: dt.datetime
    issued_at: dt.datetime
    child_name: str
    sex: str
    place: str | None  # an institution; None for a home birth (the mother's address is written)


def _surname(name: str) -> str:
    return name[:2] if name[:2] in COMPOUND_SURNAMES else name[0]


_BIRTHS: list[tuple[World, list[_Birth]]] = []


def _births(world: World) -> list[_Birth]:
    """Births in the span: the world's own if it has any, else newborns of women aged 20-40.

    The world currently dates every resident before the span, so the synthetic branch is the usual one;
    newborns are not residents of the world (no truth links), only their mothers are.
    """
    if _BIRTHS and _BIRTHS[0][0] is world:
        return _BIRTHS[0][1]
    names = NameMaker()
    heads = {p.household: p for p in world.persons if p.relation == "01"}
    span_start, span_end = world.start, world.end
    births: list[_Birth] = []
    born_in_span = [p for p in world.persons if p.birth >= span_start.date()]
    for child in born_in_span:
        rng = record_rng(world.seed, "health", "birth", "child", child.pid)
        mothers = [m for m in world.persons if m.household == child.household and m.sex == "2"
                   and 18 <= (child.birth - m.birth).days / 365.25 <= 45]
        born = _at(child.birth, rng.randrange(24), rng.randrange(60))
        issued = born + dt.timedelta(days=rng.randint(1, 4), hours=rng.randint(0, 8))
        births.append(_Birth(f"Q{child.pid:09d}", mothers[0] if mothers else None, child, born, issued, child.name,
                             SEX[child.sex], rng.choice(HOSPITALS + [None])))
    if not born_in_span:
        span = span_end - span_start
        for m in world.persons:
            age = (BASE_END.date() - m.birth).days / 365.25
            if m.sex != "2" or not 20 <= age <= 40:
                continue
            rng = record_rng(world.seed, "health", "birth", "mother", m.pid)
            if rng.random() >= BIRTHS_PER_WOMAN_YEAR * span.days / 365:
                continue
            born = (span_start + span * rng.random()).replace(microsecond=0)
            gone = [t for t in (m.death_at, m.moved_out_at) if t is not None]
            if (gone and min(gone) <= born) or m.registered_at > born:
                continue  # she was not in the county to give birth here
            issued = (born + dt.timedelta(days=rng.randint(1, 4), hours=rng.randint(0, 8))).replace(second=0)
            boy = rng.random() < 0.51
            head = heads.get(m.household)
            father_surname = _surname(head.name) if head is not None and head.pid != m.pid and head.sex == "1" \
                else _surname(m.name)
            if m.ethnicity != "01" and rng.random() < 0.6:
                child_name = names.person_name(rng, m.ethnicity)[0]
            else:
                child_name = names.given_like(rng, father_surname)
            place = rng.choice(HOSPITALS) if rng.random() < 0.7 else (
                f"{m.home.township_name}中心卫生院" if rng.random() < 0.9 else None)
            births.append(_Birth(f"Q{m.pid:09d}", m, None, born, issued, child_name, "M" if boy else "F", place))
    births.sort(key=lambda b: b.cert_no)
    _BIRTHS[:] = [(world, births)]
    return births


def _birth_cert(world: World, rates: QuirkRates, clock: dt.datetime, dialect: Dialect = DEFAULT) -> Rows:
    for b in _births(world):
        if b.issued_at > clock:
            continue
        rng = record_rng(world.seed, "health", "birth_cert", b.cert_no)
        mother_id = quirky_id(rng, b.mother.id18, rates) if b.mother else None
        place = b.place
        if place is None:
            home = b.mother.home if b.mother else b.child.home
            place = quirky_address(rng, home, rates, dialect.health_address)
        sex = _sex(rng.random(), {"M": "1", "F": "2"}[b.sex], dialect)
        child_name = dialect.health_names.apply(rng, b.child_name)
        yield b.issued_at, (b.cert_no, mother_id, child_name, sex, b.born_at.date(), place, b.issued_at)


HEALTH_KEYS = {"patient_id", "followup_id", "cert_no"}


def _health_type(dialect: Dialect, column: str, sql_type: str) -> str:
    """MySQL-built systems differ here: numeric keys, naive local DATETIME, dates and codes kept as text."""
    if column in HEALTH_KEYS:
        return "bigint" if dialect.health_key_type == "bigint" else sql_type
    if column == "updated_at":
        return dialect.health_updated_type
    if column == "birth_date":
        return dialect.health_date_type
    if column == "risk_level":
        return dialect.health_risk_type
    return sql_type


HEALTH = SimSystem("health", "src_health", [
    SimTable("smd_patient", [("patient_id", "varchar(20)"), ("id_card", "varchar(40)"), ("name", "varchar(50)"),
                             ("sex", "char(1)"), ("birth_date", "date"), ("diagnosis_code", "varchar(10)"),
                             ("risk_level", "smallint"), ("management_status", "varchar(20)"),
                             ("address", "varchar(200)"), ("last_followup_date", "date"),
                             ("updated_at", "timestamptz")], "patient_id", _smd_patient, _health_type),
    SimTable("smd_followup", [("followup_id", "varchar(20)"), ("patient_id", "varchar(20)"),
                              ("followup_date", "date"), ("followup_type", "varchar(10)"),
                              ("risk_level", "smallint"), ("updated_at", "timestamptz")], "followup_id", _smd_followup, _health_type),
    SimTable("birth_cert", [("cert_no", "varchar(20)"), ("mother_id_card", "varchar(40)"),
                            ("child_name", "varchar(50)"), ("sex", "char(1)"), ("birth_date", "date"),
                            ("birth_address", "varchar(200)"), ("updated_at", "timestamptz")], "cert_no", _birth_cert, _health_type),
    SimTable("death_cert", [("cert_no", "varchar(30)"), ("id_card", "varchar(40)"), ("name", "varchar(50)"),
                            ("death_date", "date"), ("cause_icd10", "varchar(10)"), ("address", "varchar(200)"),
                            ("updated_at", "timestamptz")], "cert_no", _death_cert, _health_type),
])


def truth_links(world: World, dialect: Dialect = DEFAULT) -> Iterable[tuple[str, str, str, int]]:
    """(source, object, record id, true person id) for the health records that are about a resident; the
    record id as the hub reads it (the digits of a bigint key under such a dialect)."""
    key = dialect.health_key
    for pt in _patients(world):
        yield ("health", "smd_patient", key(pt.patient_id), pt.person.pid)
    for p in world.persons:
        if p.death_at is not None:
            yield ("health", "death_cert", key(death_cert_no(p)), p.pid)
    for b in _births(world):
        if b.child is not None:
            yield ("health", "birth_cert", key(b.cert_no), b.child.pid)


# Registration (runner imports this module lazily; a guard keeps a re-import from registering twice).
if all(s.source != HEALTH.source for s in runner.DB_SYSTEMS):
    runner.DB_SYSTEMS.append(HEALTH)
if all(getattr(f, "__module__", None) != __name__ for f in runner.TRUTH_LINKS):
    runner.TRUTH_LINKS.append(truth_links)
