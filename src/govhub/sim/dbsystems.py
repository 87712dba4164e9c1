"""Department systems that are relational databases: police (公安), grid platform (综治) and health (卫健).

Each system is a list of tables; each table yields its rows *as of the simulation clock* together with the
row's update time. Generation inserts every row; advancing the clock upserts the rows whose update time
falls in the new interval — exactly what a department's own system would have done day by day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import psycopg
from psycopg import sql

from govhub.sim.dialect import DEFAULT, Dialect, numeric_key
from govhub.sim.quirks import QuirkRates, quirky_address, quirky_id, quirky_name, record_rng
from govhub.sim.world import TZ, World

Row = tuple  # values in column order
Rows = Iterator[tuple[dt.datetime, Row]]
# A table's SQL type of a column under a dialect: (dialect, column, the default type) -> type.
Retype = Callable[[Dialect, str, str], str]


@dataclass(frozen=True)
class SimTable:
    name: str
    columns: list[tuple[str, str]]  # (column, SQL type) in source naming
    pk: str
    rows: Callable[..., Rows]  # (world, rates, clock, dialect=DEFAULT) -> rows with the default types' values
    retype: Retype | None = None  # the system's open type choices (None: the types above under every dialect)

    def columns_for(self, dialect: Dialect = DEFAULT) -> list[tuple[str, str]]:
        if self.retype is None:
            return self.columns
        return [(c, self.retype(dialect, c, t)) for c, t in self.columns]

    def ddl(self, dialect: Dialect = DEFAULT) -> sql.Composed:
        cols = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t))
                                  for c, t in self.columns_for(dialect))
        return sql.SQL("create table if not exists {} ({}, primary key ({}))").format(
            sql.Identifier(self.name), cols, sql.Identifier(self.pk))


@dataclass(frozen=True)
class SimSystem:
    source: str
    database: str
    tables: list[SimTable]


def ts14(t: dt.datetime) -> str:
    return t.strftime("%Y%m%d%H%M%S")


def _convert(default_type: str, final_type: str) -> Callable[[object], object] | None:
    """How a value made for ``default_type`` is stored in ``final_type`` (None: as it is)."""
    if final_type == default_type:
        return None
    if final_type == "bigint":
        return lambda v: None if v is None else numeric_key(str(v))
    if final_type == "timestamp":  # a naive column holds Asia/Shanghai wall time (the contract's naive zone)
        return lambda v: v.astimezone(TZ).replace(tzinfo=None) if isinstance(v, dt.datetime) else v
    if final_type == "text" or final_type.startswith(("varchar", "char")):
        return lambda v: v.isoformat() if isinstance(v, dt.date) else (None if v is None else str(v))
    return None  # numeric(10,6), integer: PostgreSQL converts the default type's text form


def write_system(conn: psycopg.Connection, system: SimSystem, world: World, rates: QuirkRates,
                 since: dt.datetime | None, clock: dt.datetime, dialect: Dialect = DEFAULT) -> dict[str, int]:
    """Create tables if needed and upsert rows updated in (since, clock]; returns rows written per table."""
    written = {}
    with conn.transaction():
        for table in system.tables:
            conn.execute(table.ddl(dialect))
            cols = [c for c, _ in table.columns]
            rows = [r for t, r in table.rows(world, rates, clock, dialect) if since is None or t > since]
            converters = [(i, f) for i, ((_, t0), (_, t1)) in enumerate(zip(table.columns, table.columns_for(dialect),
                                                                           strict=True))
                          if (f := _convert(t0, t1)) is not None]
            if converters:
                rows = [tuple(next((f(v) for j, f in converters if j == i), v) for i, v in enumerate(r)) for r in rows]
            tmp = sql.Identifier(f"tmp_{table.name.lower()}")
            conn.execute(sql.SQL("create temp table {} (like {}) on commit drop").format(tmp, sql.Identifier(table.name)))
            with conn.cursor().copy(sql.SQL("copy {} ({}) from stdin").format(
                    tmp, sql.SQL(", ").join(map(sql.Identifier, cols)))) as copy:
                for r in rows:
                    copy.write_row(r)
            updates = sql.SQL(", ").join(
                sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c)) for c in cols if c != table.pk)
            conn.execute(sql.SQL("insert into {} select * from {} on conflict ({}) do update set {}").format(
                sql.Identifier(table.name), tmp, sql.Identifier(table.pk), updates))
            written[table.name] = len(rows)
    return written


# --------------------------------------------------------------------------------------------- police
def _czrk(world: World, rates: QuirkRates, clock: dt.datetime, dialect: Dialect = DEFAULT) -> Rows:
    for p in world.persons:
        if not p.registered or p.registered_at > clock:
            continue
        rng = record_rng(world.seed, "police", "RK_CZRK", p.pid)
        status, updated = "0", p.registered_at
        if p.death_at and p.death_at <= clock:
            status, updated = "1", p.death_at + dt.timedelta(days=rng.randint(1, 20))
            if updated > clock:
                status, updated = "0", p.registered_at
        elif p.moved_out_at and p.moved_out_at <= clock:
            status, updated = "2", p.moved_out_at
        sex = p.sex if rng.random() > 0.002 else rng.choice(["0", "9"])
        style = dialect.police_address
        yield updated, (
            f"R{p.pid:09d}", quirky_id(rng, p.id18, rates), _name(rng, p.name, rates, dialect), sex,
            p.birth.strftime("%Y%m%d"), p.ethnicity, p.household, p.relation, p.home.village_code,
            quirky_address(rng, p.home, rates, style), quirky_address(rng, p.home, rates, style), status, ts14(updated))


def _ldrk(world: World, rates: QuirkRates, clock: dt.datetime, dialect: Dialect = DEFAULT) -> Rows:
    for p in world.persons:
        if p.registered or p.registered_at > clock:
            continue
        rng = record_rng(world.seed, "police", "RK_LDRK", p.pid)
        reg = p.registered_at
        yield reg, (
            f"L{p.pid:09d}", quirky_id(rng, p.id18, rates), _name(rng, p.name, rates, dialect), p.sex,
            p.birth.strftime("%Y%m%d"), f"{p.id18[:6]}某地", quirky_address(rng, p.home, rates, dialect.police_address),
            reg.strftime("%Y%m%d"), (reg + dt.timedelta(days=365)).strftime("%Y%m%d"), ts14(reg))


def _jjxx(world: World, rates: QuirkRates, clock: dt.datetime, dialect: Dialect = DEFAULT) -> Rows:
    ids = {p.pid: p.id18 for p in world.persons}
    for inc in world.incidents:
        if inc.at > clock:
            continue
        rng = record_rng(world.seed, "police", "JQ_JJXX", inc.jjbh)
        closed = inc.closed_at is not None and inc.closed_at <= clock
        updated = inc.closed_at if closed else inc.at
        if inc.has_coords:
            jd = f"{inc.building.lon + rng.uniform(-1e-4, 1e-4):.6f}"
            wd = f"{inc.building.lat + rng.uniform(-1e-4, 1e-4):.6f}"
        else:
            jd = wd = rng.choice([None, "0"])
        caller = quirky_id(rng, ids[inc.caller], rates) if inc.caller else None
        involved = ",".join(i for i in (quirky_id(rng, ids[x], rates) for x in inc.involved) if i) or None
        outcome = inc.outcome
        if dialect.police_rare_rate and rng.random() < dialect.police_rare_rate:
            outcome = "5"  # a local outcome code the department added to the national list
        yield updated, (inc.jjbh, ts14(inc.at), inc.category,
                        quirky_address(rng, inc.building, rates, dialect.police_address), jd, wd,
                        caller, involved, outcome, "1" if closed else "0", ts14(updated))


def _name(rng, name: str, rates: QuirkRates, dialect: Dialect) -> str:
    return dialect.police_names.apply(rng, quirky_name(rng, name, rates))


ZDRY_CATEGORY = {"key_person": "01", "drug_rehab": "02", "smd_patient": "04"}


def _zdry(world: World, rates: QuirkRates, clock: dt.datetime, dialect: Dialect = DEFAULT) -> Rows:
    for p in world.persons:
        for tag, code in ZDRY_CATEGORY.items():
            start = p.tags.get(tag)
            if start is None or (tag == "smd_patient" and p.smd_risk < 3):
                continue
            listed = dt.datetime.combine(start, dt.time(9), world.start.tzinfo)
            if listed > clock:
                continue
            rng = record_rng(world.seed, "police", "ZDRY", p.pid, tag)
            end = p.tag_ends.get(tag)
            delisted = end if end and dt.datetime.combine(end, dt.time(9), world.start.tzinfo) <= clock else None
            updated = dt.datetime.combine(delisted, dt.time(9), world.start.tzinfo) if delisted else listed
            yield updated, (f"Z{p.pid:09d}{code}", quirky_id(rng, p.id18, rates), _name(rng, p.name, rates, dialect),
                            code, start.strftime("%Y%m%d"), delisted.strftime("%Y%m%d") if delisted else None, ts14(updated))


def _police_type(dialect: Dialect, column: str, sql_type: str) -> str:
    """Police columns are all text-like (the contract: text timestamps and dates): char(n) for codes, varchar(n)
    elsewhere; another system may declare every column varchar(n) (Oracle VARCHAR2) or text."""
    if dialect.police_types == "varchar":
        return sql_type.replace("char(", "varchar(") if sql_type.startswith("char(") else sql_type
    return "text" if dialect.police_types == "text" else sql_type


POLICE = SimSystem("police", "src_police", [
    SimTable("RK_CZRK", [("RYBH", "varchar(20)"), ("GMSFHM", "varchar(40)"), ("XM", "varchar(50)"), ("XB", "char(1)"),
                         ("CSRQ", "char(8)"), ("MZ", "char(2)"), ("HH", "varchar(20)"), ("YHZGX", "char(2)"),
                         ("HJDZ_XZQH", "char(12)"), ("HJDZ", "varchar(200)"), ("XZZ", "varchar(200)"),
                         ("RYZT", "char(1)"), ("GXSJ", "char(14)")], "RYBH", _czrk, _police_type),
    SimTable("RK_LDRK", [("DJBH", "varchar(20)"), ("GMSFHM", "varchar(40)"), ("XM", "varchar(50)"), ("XB", "char(1)"),
                         ("CSRQ", "char(8)"), ("HJDZ", "varchar(200)"), ("ZZDZ", "varchar(200)"), ("DJRQ", "char(8)"),
                         ("YXQZ", "char(8)"), ("GXSJ", "char(14)")], "DJBH", _ldrk, _police_type),
    SimTable("JQ_JJXX", [("JJBH", "varchar(30)"), ("BJSJ", "char(14)"), ("JQLB", "char(4)"), ("FADZ", "varchar(200)"),
                         ("JD", "varchar(20)"), ("WD", "varchar(20)"), ("BJRSFZH", "varchar(40)"),
                         ("SARYSFZH", "varchar(400)"), ("CJJG", "char(1)"), ("JQZT", "char(1)"), ("GXSJ", "char(14)")],
             "JJBH", _jjxx, _police_type),
    SimTable("ZDRY", [("ZDRYBH", "varchar(20)"), ("GMSFHM", "varchar(40)"), ("XM", "varchar(50)"), ("ZDRYLB", "char(2)"),
                      ("LGSJ", "char(8)"), ("CGSJ", "char(8)"), ("GXSJ", "char(14)")], "ZDRYBH", _zdry, _police_type),
])


# ----------------------------------------------------------------------------------------------- grid
def _fixed(world: World) -> dt.datetime:
    return world.start - dt.timedelta(days=30)


def _divisions(world: World, rates: QuirkRates, clock: dt.datetime, dialect: Dialect = DEFAULT) -> Rows:
    for d in world.geo.divisions:
        yield _fixed(world), (d.code, d.name, d.level, d.kind, d.parent_code, _fixed(world))


def _grids(world: World, rates: QuirkRates, clock: dt.datetime, dialect: Dialect = DEFAULT) -> Rows:
    for g in world.geo.grids:
        yield _fixed(world), (g.grid_code, g.grid_name, g.village_code, g.grid_type, g.geojson(),
                              _fixed(world) - dt.timedelta(days=400), None, _fixed(world))


def _staff(world: World, rates: QuirkRates, clock: dt.datetime, dialect: Dialect = DEFAULT) -> Rows:
    for s in world.geo.staff:
        yield _fixed(world), (s.staff_id, s.name, s.role, s.phone, s.grid_code, True, _fixed(world))


def _buildings(world: World, rates: QuirkRates, clock: dt.datetime, dialect: Dialect = DEFAULT) -> Rows:
    for b in world.geo.buildings:
        yield _fixed(world), (b.building_id, b.std_address, b.lon, b.lat, b.grid_code, b.building_type, _fixed(world))


LEVEL_ORDER = ["网格", "村社区", "乡镇街道", "部门"]


def _grid_events(world: World, rates: QuirkRates, clock: dt.datetime, dialect: Dialect = DEFAULT) -> Rows:
    for e in world.grid_events:
        if e.at > clock:
            continue
        rng = record_rng(world.seed, "grid", "grid_event", e.event_id)
        status, level, updated = "上报", "网格", e.at
        accepted = e.at + dt.timedelta(minutes=30 + rng.randrange(240))
        if accepted <= clock:
            status, updated = "受理", accepted
        for when, lv in e.escalations:
            if when <= clock:
                status, level, updated = "流转", lv, max(updated, when)
        closed = e.closed_at is not None and e.closed_at <= clock
        if closed:
            status, updated = "办结", max(updated, e.closed_at)
        lon = lat = None
        if rng.random() > rates.coords_missing:
            lon, lat = round(e.building.lon + rng.uniform(-1e-4, 1e-4), 6), round(e.building.lat + rng.uniform(-1e-4, 1e-4), 6)
        if closed and dialect.grid_rare_rate and rng.random() < dialect.grid_rare_rate:
            status = "已办结"  # a clerk's (or an upgrade's) wording of 办结
        yield updated, (e.event_id, e.grid_code, e.reporter, e.category, e.description, e.at, lon, lat, status, level,
                        e.assigned_dept if level == "部门" else None, e.closed_at if closed else None, updated)


GRID_KEYS = {"building_id", "staff_id", "reporter_staff_id", "event_id"}
GRID_TIMES = {"reported_at", "closed_at", "created_at", "retired_at"}  # updated_at: timestamptz by contract


def _grid_type(dialect: Dialect, column: str, sql_type: str) -> str:
    if column in ("lon", "lat"):
        return dialect.grid_coord_type
    if column == "level":
        return dialect.grid_level_type
    if column in GRID_KEYS:
        return dialect.grid_key_type
    if column in GRID_TIMES:
        return dialect.grid_time_type
    return sql_type


GRID = SimSystem("grid", "src_grid", [
    SimTable("admin_division", [("code", "char(12)"), ("name", "text"), ("level", "smallint"), ("kind", "text"),
                                ("parent_code", "char(12)"), ("updated_at", "timestamptz")], "code", _divisions, _grid_type),
    SimTable("grid", [("grid_code", "char(15)"), ("grid_name", "text"), ("village_code", "char(12)"), ("grid_type", "text"),
                      ("boundary", "text"), ("created_at", "timestamptz"), ("retired_at", "timestamptz"),
                      ("updated_at", "timestamptz")], "grid_code", _grids, _grid_type),
    SimTable("grid_staff", [("staff_id", "text"), ("name", "text"), ("role", "text"), ("phone", "text"),
                            ("grid_code", "char(15)"), ("active", "boolean"), ("updated_at", "timestamptz")], "staff_id", _staff, _grid_type),
    SimTable("building", [("building_id", "text"), ("std_address", "text"), ("lon", "double precision"),
                          ("lat", "double precision"), ("grid_code", "char(15)"), ("building_type", "text"),
                          ("updated_at", "timestamptz")], "building_id", _buildings, _grid_type),
    SimTable("grid_event", [("event_id", "text"), ("grid_code", "char(15)"), ("reporter_staff_id", "text"),
                            ("category_code", "text"), ("description", "text"), ("reported_at", "timestamptz"),
                            ("lon", "double precision"), ("lat", "double precision"), ("status", "text"),
                            ("escalation_level", "text"), ("assigned_dept", "text"), ("closed_at", "timestamptz"),
                            ("updated_at", "timestamptz")], "event_id", _grid_events, _grid_type),
])


def truth_links(world: World, dialect: Dialect = DEFAULT) -> Iterable[tuple[str, str, str, int]]:
    """(source, object, source record id, true person id) for the person records of the database systems."""
    for p in world.persons:
        yield ("police", "RK_CZRK" if p.registered else "RK_LDRK", f"{'R' if p.registered else 'L'}{p.pid:09d}", p.pid)
        for tag, code in ZDRY_CATEGORY.items():
            if tag in p.tags and not (tag == "smd_patient" and p.smd_risk < 3):
                yield ("police", "ZDRY", f"Z{p.pid:09d}{code}", p.pid)
