"""One hidden county: people, their households and buildings, and what happens to them over time.

Department writers only *serialise* this world (as of the simulation clock) with their own conventions
and quirks; cross-department stories (a neighbour dispute that becomes a 110 call, a mediation and a
petition) are decided here, once.

The world is generated for the history *and* a future horizon, so advancing the clock only reveals
what was already decided: the same seed gives the same county whatever the order of runs.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from govhub.sim.geography import COUNTY_CODE6, Building, Geography, build_geography
from govhub.sim.idnumbers import OUTSIDE_REGIONS, make_id
from govhub.sim.names import NameMaker

TZ = dt.timezone(dt.timedelta(hours=8))  # Asia/Shanghai, no DST
BASE_END = dt.datetime(2026, 10, 31, 23, 0, tzinfo=TZ)  # end of the generated history (clock 0)
FUTURE_DAYS = 120  # how far `hub simulate --days N` can advance


@dataclass(frozen=True)
class Scale:
    name: str
    residents: int
    history_days: int


SCALES = {
    "tiny": Scale("tiny", 3000, 120),
    "small": Scale("small", 20000, 365),
    "county": Scale("county", 350000, 730),
    "city": Scale("city", 3500000, 730),
}

SPECIAL_RATES = {  # share of residents; realistic orders of magnitude for a Chinese county
    "community_correction": 0.0012,
    "released_prisoner": 0.002,
    "smd_patient": 0.0045,
    "drug_rehab": 0.0008,
    "key_person": 0.0010,
    "subsistence_allowance": 0.03,
    "extreme_poverty": 0.005,
    "disabled": 0.05,
    "left_behind": 0.02,
}


@dataclass
class Person:
    pid: int
    id18: str
    name: str
    sex: str  # "1" male, "2" female (GB/T 2261.1)
    birth: dt.date
    ethnicity: str
    home: Building
    household: str
    relation: str  # YHZGX code
    registered: bool  # 户籍 in the county (else floating population)
    registered_at: dt.datetime
    moved_out_at: dt.datetime | None = None
    death_at: dt.datetime | None = None
    tags: dict[str, dt.date] = field(default_factory=dict)  # special population -> start date
    tag_ends: dict[str, dt.date] = field(default_factory=dict)
    smd_risk: int = 0


@dataclass
class Incident:  # 110 call
    jjbh: str
    at: dt.datetime
    category: str
    building: Building
    has_coords: bool
    caller: int | None
    involved: list[int]
    outcome: str
    closed_at: dt.datetime | None
    dispute: int | None = None


@dataclass
class GridEvent:
    event_id: str
    grid_code: str
    reporter: str
    category: str
    description: str
    at: dt.datetime
    building: Building
    escalations: list[tuple[dt.datetime, str]]  # (when, level) after the first report at 网格
    closed_at: dt.datetime | None
    assigned_dept: str | None
    dispute: int | None = None


@dataclass
class Mediation:
    case_id: str
    accepted_at: dt.datetime
    dispute_type: str
    parties: list[int]
    building: Building
    committee: str
    outcome: str
    closed_at: dt.datetime | None
    dispute: int | None = None


@dataclass
class Petition:
    petition_id: str
    channel: str
    petitioner: int
    headcount: int
    received_at: dt.datetime
    category: str
    target_dept: str
    is_first: bool
    escalation: str
    updates: list[tuple[dt.datetime, str]]  # status history after 受理
    closed_at: dt.datetime | None
    one_time_resolved: bool
    satisfaction: str
    building: Building
    dispute: int | None = None


@dataclass
class Followup:
    followup_id: str
    pid: int
    date: dt.date
    kind: str
    risk_level: int


@dataclass
class World:
    seed: int
    scale: Scale
    geo: Geography
    persons: list[Person]
    incidents: list[Incident]
    grid_events: list[GridEvent]
    mediations: list[Mediation]
    petitions: list[Petition]
    followups: list[Followup]
    start: dt.datetime
    end: dt.datetime  # BASE_END + FUTURE_DAYS

    def clock(self, days: int) -> dt.datetime:
        return BASE_END + dt.timedelta(days=days)


def _random_time(rng: random.Random, start: dt.datetime, end: dt.datetime, seasonal: bool = True) -> dt.datetime:
    """A time in [start, end); disputes and incidents peak in summer and around the Spring Festival."""
    span = (end - start).total_seconds()
    while True:
        t = start + dt.timedelta(seconds=rng.random() * span)
        month = t.month
        weight = 1.0 + (0.3 if month in (6, 7, 8) else 0) + (0.25 if month in (1, 2) else 0)
        if not seasonal or rng.random() < weight / 1.3:
            hour = rng.choices(range(24), weights=[1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 8, 8, 7, 7, 8, 8, 8, 8, 8, 7, 6, 4, 3, 2])[0]
            return t.replace(hour=hour, minute=rng.randrange(60), second=rng.randrange(60), microsecond=0)


def generate_world(scale: Scale, seed: int = 20261125) -> World:
    rng = random.Random(seed)
    names = NameMaker()
    geo = build_geography(rng, scale.residents, names)
    start = BASE_END - dt.timedelta(days=scale.history_days)
    end = BASE_END + dt.timedelta(days=FUTURE_DAYS)

    persons: list[Person] = []
    seqs: dict[tuple[str, dt.date], int] = {}
    used_ids: set[str] = set()
    residential = [b for b in geo.buildings if b.building_type == "住宅"] or geo.buildings
    hh = 0
    while len(persons) < scale.residents:
        hh += 1
        home = rng.choice(residential)
        registered = rng.random() < 0.87
        region = COUNTY_CODE6 if registered else rng.choice(OUTSIDE_REGIONS)
        ethnicity = "01" if rng.random() < 0.97 else rng.choice(["02", "03", "04", "05", "11"])
        size = 1 if not registered else rng.choices([1, 2, 3, 4, 5], weights=[15, 30, 25, 20, 10])[0]
        head_name, _ = names.person_name(rng, ethnicity)
        surname = head_name[:2] if head_name[:2] in ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙") else head_name[0]
        head_birth = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(365 * 62))
        for m in range(size):
            if m == 0:
                name, birth, rel = head_name, head_birth, "01"
            elif m == 1:
                name, _ = names.person_name(rng, ethnicity)
                birth, rel = head_birth + dt.timedelta(days=rng.randint(-1500, 1500)), "10"
            else:
                # children share the surname; twins share the birth date now and then
                name = names.given_like(rng, surname) if ethnicity == "01" else names.person_name(rng, ethnicity)[0]
                birth = head_birth + dt.timedelta(days=rng.randint(20 * 365, 35 * 365))
                if m == 3 and rng.random() < 0.05:
                    birth = persons[-1].birth
                rel = "20"
            pid = len(persons) + 1
            latest = (start - dt.timedelta(days=1)).date()
            if birth > latest:
                # a child "born" after the simulated history starts is spread over the preceding 18 years
                # (deterministically, without drawing from rng), not piled onto one day: a pile of thousands of
                # births on one date would exhaust its 500 sequence numbers per sex
                birth = latest - dt.timedelta(days=(pid * 7919) % (18 * 365))
            male = rng.random() < 0.51
            key = (region, birth)
            seqs[key] = seqs.get(key, rng.randrange(0, 500) * 2) + 2
            id18 = make_id(region, birth, seqs[key], male)
            while id18 in used_ids:  # ID numbers are unique by issuance: never reuse one
                seqs[key] += 2
                id18 = make_id(region, birth, seqs[key], male)
            used_ids.add(id18)
            persons.append(Person(
                pid=pid, id18=id18, name=name, sex="1" if male else "2",
                birth=birth, ethnicity=ethnicity, home=home, household=f"{COUNTY_CODE6}{hh:09d}", relation=rel,
                registered=registered,
                registered_at=start - dt.timedelta(days=rng.randrange(30, 3000)) if rng.random() < 0.95
                else _random_time(rng, start, end, seasonal=False),
            ))
    # Deaths and moves during the simulated span.
    for p in persons:
        age = (BASE_END.date() - p.birth).days / 365.25
        if rng.random() < (0.002 + max(0.0, age - 60) * 0.002) * (end - start).days / 365:
            p.death_at = _random_time(rng, start, end, seasonal=False)
        elif p.registered and rng.random() < 0.004:
            p.moved_out_at = _random_time(rng, start, end, seasonal=False)

    # Special populations.
    adults = [p for p in persons if (BASE_END.date() - p.birth).days > 18 * 365]
    for tag, rate in SPECIAL_RATES.items():
        pool = persons if tag in ("disabled", "subsistence_allowance", "left_behind") else adults
        for p in rng.sample(pool, max(1, round(rate * len(persons)))):
            p.tags[tag] = (start - dt.timedelta(days=rng.randrange(0, 1500))).date() if rng.random() < 0.8 \
                else _random_time(rng, start, end, seasonal=False).date()
            if rng.random() < 0.08:
                p.tag_ends[tag] = _random_time(rng, start, end, seasonal=False).date()
    for p in persons:
        if "smd_patient" in p.tags:
            p.smd_risk = rng.choices(range(6), weights=[20, 30, 25, 15, 7, 3])[0]
            if rng.random() < 0.3:  # mental disorders overlap with disability and allowance
                p.tags.setdefault("disabled", p.tags["smd_patient"])

    per_year = (end - start).days / 365 * len(persons) / 10_000
    by_building: dict[str, list[Person]] = {}
    for p in persons:
        by_building.setdefault(p.home.building_id, []).append(p)
    staff_by_grid: dict[str, list[str]] = {}
    for s in geo.staff:
        staff_by_grid.setdefault(s.grid_code, []).append(s.staff_id)

    incidents: list[Incident] = []
    grid_events: list[GridEvent] = []
    mediations: list[Mediation] = []
    petitions: list[Petition] = []
    jq_categories = ["0101", "0102", "0103", "0104", "0105", "0201", "0202", "0203", "0204", "0301", "0401",
                     "0501", "0502", "0503", "0601", "0999"]
    jq_weights = [14, 10, 1, 4, 0.05, 2, 1, 1, 6, 12, 2, 8, 8, 5, 20, 6]

    def closing(at: dt.datetime, mean_hours: float, p_open: float = 0.03) -> dt.datetime | None:
        if rng.random() < p_open:
            return None
        return at + dt.timedelta(hours=rng.expovariate(1 / mean_hours) + 0.2)

    def people_at(b: Building, k: int) -> list[int]:
        local = by_building.get(b.building_id) or rng.sample(persons, 1)
        return [rng.choice(local).pid for _ in range(k)]

    # 110 incidents (~600 per 10k residents per year).
    for i in range(round(600 * per_year)):
        b = rng.choice(geo.buildings)
        cat = rng.choices(jq_categories, weights=jq_weights)[0]
        at = _random_time(rng, start, end)
        involved = people_at(b, rng.choice([0, 1, 1, 2])) if cat[:2] in ("01", "02", "05") else []
        incidents.append(Incident(
            jjbh=f"J{COUNTY_CODE6}{at:%Y%m%d}{i:06d}", at=at, category=cat, building=b,
            has_coords=rng.random() < 0.85, caller=people_at(b, 1)[0] if rng.random() < 0.7 else None,
            involved=involved, outcome=rng.choices("12349", weights=[60, 10, 15, 10, 5])[0],
            closed_at=closing(at, 6)))

    # Grid patrol events with escalation (~900 per 10k per year).
    gcat = ["A01", "A02", "A03", "A04", "A05", "A06", "A07", "A08", "A99"]
    levels = ["村社区", "乡镇街道", "部门"]
    for i in range(round(900 * per_year)):
        b = rng.choice(geo.buildings)
        at = _random_time(rng, start, end)
        n_up = rng.choices([0, 1, 2, 3], weights=[70, 18, 8, 4])[0]
        esc, t = [], at
        for lv in levels[:n_up]:
            t = t + dt.timedelta(hours=rng.uniform(2, 72))
            esc.append((t, lv))
        closed = closing(t, 48, 0.05)
        grid_events.append(GridEvent(
            event_id=f"GE{i + 1:08d}", grid_code=b.grid_code,
            reporter=rng.choice(staff_by_grid.get(b.grid_code, ["S00001"])),
            category=rng.choices(gcat, weights=[18, 10, 8, 6, 20, 12, 4, 15, 7])[0], description="网格巡查发现",
            at=at, building=b, escalations=esc, closed_at=closed,
            assigned_dept=rng.choice(["公安", "司法", "民政", "住建", "应急", "卫健"]) if n_up == 3 else None))

    committees = {}
    def committee(b: Building) -> str:
        return committees.setdefault(b.village_code, f"{b.village_name}人民调解委员会")

    def petition_for(pid: int, at: dt.datetime, b: Building, dispute: int | None, first: bool, k: int) -> Petition:
        recv = at
        closed = closing(recv, 24 * 20, 0.1)
        status_hist = [(recv + dt.timedelta(days=rng.uniform(1, 5)), "办理中")]
        if closed:
            status_hist.append((closed, "办结"))
        return Petition(
            petition_id=f"XF{COUNTY_CODE6}{recv:%Y}{k:06d}", channel=rng.choice(["来信", "来访", "网上", "电话"]),
            petitioner=pid, headcount=rng.choices([1, 2, 3, 6, 12], weights=[80, 8, 5, 5, 2])[0],
            received_at=recv, category=rng.choice(["征地拆迁", "劳动社保", "涉法涉诉", "城乡建设", "农村农业", "民政", "卫生健康", "其他"]),
            target_dept=rng.choice(["县住建局", "县人社局", "县民政局", "县公安局", "县自然资源局"]),
            is_first=first, escalation=rng.choices(["本级", "越级", "赴省", "进京"], weights=[90, 6, 3, 1])[0],
            updates=status_hist, closed_at=closed, one_time_resolved=bool(closed) and rng.random() < 0.8,
            satisfaction=rng.choice(["满意", "基本满意", "不满意", "未评价"]) if closed else "未评价", building=b,
            dispute=dispute)

    # Disputes: the cross-department story. Each may surface as a grid event, a 110 call, a mediation, petitions.
    dispute_types = {"neighbor": ("A01", "0502"), "marriage_family": ("A01", "0501"), "land": ("A01", "0503"),
                     "labor": ("A08", "0503"), "property": ("A01", "0503"), "contract": ("A08", "0503"), "other": ("A01", "0999")}
    pk = 0
    for d in range(round(120 * per_year)):
        b = rng.choice(residential)
        at = _random_time(rng, start, end)
        dtype = rng.choices(list(dispute_types), weights=[35, 25, 15, 8, 7, 5, 5])[0]
        parties = list(dict.fromkeys(people_at(b, 2)))
        gcode, jcode = dispute_types[dtype]
        if rng.random() < 0.6:
            grid_events.append(GridEvent(
                event_id=f"GE{len(grid_events) + 1:08d}", grid_code=b.grid_code,
                reporter=rng.choice(staff_by_grid.get(b.grid_code, ["S00001"])), category=gcode,
                description="矛盾纠纷排查", at=at, building=b, escalations=[], closed_at=closing(at, 72, 0.15),
                assigned_dept=None, dispute=d))
        if rng.random() < 0.4:
            t = at + dt.timedelta(hours=rng.uniform(1, 200))
            incidents.append(Incident(
                jjbh=f"J{COUNTY_CODE6}{t:%Y%m%d}D{d:05d}", at=t, category=jcode, building=b, has_coords=rng.random() < 0.85,
                caller=parties[0], involved=parties, outcome="3", closed_at=closing(t, 4), dispute=d))
        t = at + dt.timedelta(days=rng.uniform(0.5, 10))
        outcome = rng.choices(["success", "failed", "transferred", "ongoing"], weights=[75, 10, 5, 10])[0]
        mediations.append(Mediation(
            case_id=f"TJ{t:%Y}{d:06d}", accepted_at=t, dispute_type=dtype,
            parties=parties if rng.random() < 0.95 else [], building=b, committee=committee(b), outcome=outcome,
            closed_at=None if outcome == "ongoing" else t + dt.timedelta(days=rng.uniform(1, 30)), dispute=d))
        if outcome in ("failed", "ongoing") and rng.random() < 0.6:
            for n in range(rng.choice([1, 2, 3])):
                pk += 1
                petitions.append(petition_for(parties[0], t + dt.timedelta(days=10 + 25 * n), b, d, n == 0, pk))
    # Petitions unrelated to disputes (~40 per 10k per year).
    for _ in range(round(40 * per_year)):
        pk += 1
        p = rng.choice(persons)
        petitions.append(petition_for(p.pid, _random_time(rng, start, end), p.home, None, rng.random() < 0.85, pk))

    # Severe mental disorder follow-ups: every ~30-90 days; high-risk ones sometimes lapse.
    followups: list[Followup] = []
    for p in persons:
        if "smd_patient" not in p.tags:
            continue
        lapse_after = _random_time(rng, start, end).date() if rng.random() < 0.15 else None
        d0 = max(p.tags["smd_patient"], start.date())
        day = d0 + dt.timedelta(days=rng.randrange(0, 30))
        while day < end.date():
            if lapse_after and day > lapse_after:
                break
            if p.death_at and day >= p.death_at.date():
                break
            followups.append(Followup(f"F{len(followups) + 1:08d}", p.pid, day,
                                      rng.choice(["home", "home", "phone", "clinic"]), p.smd_risk))
            day += dt.timedelta(days=rng.randint(20, 90) if p.smd_risk < 3 else rng.randint(10, 35))

    incidents.sort(key=lambda x: (x.at, x.jjbh))
    return World(seed, scale, geo, persons, incidents, grid_events, mediations, petitions, followups, start, end)
