"""Generate the simulated county and advance its clock (``hub simulate``)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from govhub import db
from govhub.settings import TRUTH_DB
from govhub.sim import dbsystems
from govhub.sim.dialect import Dialect
from govhub.sim.quirks import QuirkRates
from govhub.sim.world import SCALES, World, generate_world

log = logging.getLogger(__name__)

DB_SYSTEMS: list[dbsystems.SimSystem] = [dbsystems.POLICE, dbsystems.GRID]
# Writers of the file/API systems: (world, rates, since, clock, dialect) -> {source: {object: rows}}; registered
# by their modules.
OTHER_WRITERS: list[Callable[[World, QuirkRates, dt.datetime | None, dt.datetime, Dialect], dict]] = []
# Truth of person records: (world, dialect) -> (source, object, record id as the hub reads it, pid).
TRUTH_LINKS: list[Callable[[World, Dialect], object]] = [dbsystems.truth_links]
# Each module below registers its system on import (appends to the lists above).
SYSTEM_MODULES = ["govhub.sim.health", "govhub.sim.civil", "govhub.sim.petition", "govhub.sim.justice"]


def _register_systems() -> None:
    import importlib
    import importlib.util

    for name in SYSTEM_MODULES:
        if importlib.util.find_spec(name) is not None:  # a department not simulated yet is simply absent
            importlib.import_module(name)


@dataclass
class SimState:
    seed: int
    scale: str
    clock_days: int
    rates: dict
    # {"seed": N, "choices": Dialect fields} of a drawn dialect; None = the default reading (and every county
    # generated before dialects existed).
    dialect: dict | None = None

    def get_dialect(self) -> Dialect:
        return Dialect.from_json(self.dialect["choices"]) if self.dialect else Dialect.default()


def load_state() -> SimState | None:
    with db.connect(TRUTH_DB) as conn:
        exists = conn.execute("select to_regclass('sim_state')").fetchone()[0]
        if not exists:
            return None
        has_dialect = conn.execute("select count(*) from information_schema.columns where table_name = 'sim_state' "
                                   "and column_name = 'dialect'").fetchone()[0]
        row = conn.execute("select seed, scale, clock_days, rates" + (", dialect" if has_dialect else "")
                           + " from sim_state").fetchone()
        return SimState(*row) if row else None


def _save_state(state: SimState) -> None:
    with db.connect(TRUTH_DB) as conn:
        conn.execute("create table if not exists sim_state (seed bigint, scale text, clock_days int, rates jsonb)")
        conn.execute("alter table sim_state add column if not exists dialect jsonb")  # states from before dialects
        conn.execute("delete from sim_state")
        conn.execute("insert into sim_state values (%s, %s, %s, %s, %s)",
                     (state.seed, state.scale, state.clock_days, json.dumps(state.rates),
                      None if state.dialect is None else json.dumps(state.dialect, ensure_ascii=False)))


_WORLD_CACHE: dict[tuple[str, int], World] = {}


def world_for(state: SimState) -> World:
    key = (state.scale, state.seed)
    if key not in _WORLD_CACHE:
        _WORLD_CACHE.clear()
        _WORLD_CACHE[key] = generate_world(SCALES[state.scale], state.seed)
    return _WORLD_CACHE[key]


def generate(scale: str = "small", seed: int = 20261125, rates: dict | None = None, reset: bool = False,
             dialect_seed: int | None = None) -> dict:
    """Create every department system at clock day 0 (no-op when the same county already exists).

    ``dialect_seed`` draws how the departments read the contract's open choices (govhub.sim.dialect);
    None keeps the default reading. A different dialect is a different county: it replaces the old one."""
    quirks = QuirkRates.parse(rates)
    dialect = Dialect.default() if dialect_seed is None else Dialect.draw(dialect_seed)
    db.ensure_databases()
    state = load_state()
    if state and not reset and state.scale == scale and state.seed == seed and state.get_dialect() == dialect:
        return {"status": "exists", "clock_days": state.clock_days}
    if state:
        reset_sources()
    t0 = time.perf_counter()
    world = generate_world(SCALES[scale], seed)
    t_world = time.perf_counter() - t0
    stored = None if dialect_seed is None else {"seed": dialect_seed, "choices": dialect.to_json()}
    state = SimState(seed, scale, 0, asdict(quirks), stored)
    written = _write(world, quirks, dialect, None, world.clock(0))
    _write_truth(world, dialect)
    _save_state(state)
    out = {"status": "generated", "scale": scale, "persons": len(world.persons), "world_seconds": round(t_world, 2),
           "seconds": round(time.perf_counter() - t0, 2), "written": written}
    if dialect_seed is not None:
        out["dialect"] = {"seed": dialect_seed, "alternatives": dialect.alternatives()}
    return out


def advance(days: int) -> dict:
    """Write ``days`` more days of changes into every department system."""
    state = load_state()
    if state is None:
        raise RuntimeError("no simulated county yet: run `hub simulate --generate` (or `hub demo`) first")
    world = world_for(state)
    quirks = QuirkRates(**state.rates)
    since, clock = world.clock(state.clock_days), world.clock(state.clock_days + days)
    if clock > world.end:
        raise ValueError(f"the simulated future ends at {world.end:%Y-%m-%d}; cannot advance beyond it")
    written = _write(world, quirks, state.get_dialect(), since, clock)  # the county keeps its dialect
    state.clock_days += days
    _save_state(state)
    return {"status": "advanced", "clock": clock.isoformat(), "written": written}


def _write(world: World, quirks: QuirkRates, dialect: Dialect, since: dt.datetime | None,
           clock: dt.datetime) -> dict:
    _register_systems()
    written: dict[str, dict[str, int]] = {}
    for system in DB_SYSTEMS:
        with db.connect(system.database) as conn:
            written[system.source] = dbsystems.write_system(conn, system, world, quirks, since, clock, dialect)
    for writer in OTHER_WRITERS:
        written.update(writer(world, quirks, since, clock, dialect))
    return written


def reset_sources() -> None:
    """Drop every simulated department system and the truth (a new county replaces the old one)."""
    from psycopg import sql

    _register_systems()
    for system in DB_SYSTEMS:
        with db.connect(system.database) as conn:
            for t in system.tables:
                conn.execute(sql.SQL("drop table if exists {}").format(sql.Identifier(t.name)))
    with db.connect(TRUTH_DB) as conn:
        conn.execute("drop table if exists truth_person, truth_record, truth_event, sim_state")


def _write_truth(world: World, dialect: Dialect) -> None:
    """Ground truth lives in its own database; extract code never reads it. Record and building ids are
    written as the hub reads them from the department (a dialect may key rows by number)."""
    gkey = dialect.grid_key
    _register_systems()
    with db.connect(TRUTH_DB) as conn:
        conn.execute("""create table if not exists truth_person (pid int primary key, id18 text, name text, sex text,
                        birth date, registered bool, building_id text, grid_code text, village_code text)""")
        conn.execute("""create table if not exists truth_record (source text, object text, record_id text, pid int,
                        primary key (source, object, record_id))""")
        conn.execute("""create table if not exists truth_event (source text, object text, record_id text, grid_code text,
                        village_code text, building_id text, primary key (source, object, record_id))""")
        conn.execute("truncate truth_person, truth_record, truth_event")
        with conn.cursor().copy("copy truth_person from stdin") as copy:
            for p in world.persons:
                copy.write_row((p.pid, p.id18, p.name, p.sex, p.birth, p.registered, gkey(p.home.building_id),
                                p.home.grid_code, p.home.village_code))
        with conn.cursor().copy("copy truth_record from stdin") as copy:
            for links in TRUTH_LINKS:
                for row in links(world, dialect):
                    copy.write_row(row)
        with conn.cursor().copy("copy truth_event from stdin") as copy:
            for e in world.incidents:
                copy.write_row(("police", "JQ_JJXX", e.jjbh, e.building.grid_code, e.building.village_code,
                                gkey(e.building.building_id)))
            for g in world.grid_events:
                copy.write_row(("grid", "grid_event", gkey(g.event_id), g.building.grid_code, g.building.village_code,
                                gkey(g.building.building_id)))
