"""`hub bench`: the performance numbers issue 16 asks for, baseline and subject measured in one run.

a) a full pipeline pass and a daily pass (the simulator advanced one day, then the same pass again) per scale:
   wall time, CPU time and peak memory (resident set) of every stage — extract, per-feed suites, dbt before
   linkage, linkage, dbt after linkage, publication gate, publish — through the pipeline's own functions
   (what the Airflow tasks call; the DAG runner's own overhead is not counted);
b) raw load rows/s: the real loader (``load_batch`` with the feed's own validator) against a bare psycopg COPY
   of the same rows into an unindexed table, and pandas ``to_sql``, on the same rows in the same run;
c) simulator generation time per scale (the stage ``generate``).

Results are printed as a table and written to ``$HUB_HOME/bench/results.json``; the flat keys
``<scale>_full_seconds``, ``<scale>_daily_seconds``, ``<scale>_daily_over_full``,
``<scale>_linkage_records_per_second``, ``<scale>_gate_over_dbt`` exist for every scale run, the same without the
prefix for ``--scale``, and ``loader_over_bare_copy``. Scratch tables live in the ``bench`` schema /
``raw.bench__*`` and are dropped afterwards; the county and warehouse of ``HUB_HOME`` are replaced.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import platform
import random
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from govhub import db
from govhub.settings import WAREHOUSE_DB, hub_home

log = logging.getLogger(__name__)
BENCH_FEED = "bench"  # scratch feed name: raw.bench__rk_czrk, ops.batch rows removed afterwards
Progress = Callable[[str], None]
MULTI_MAX_ROWS = 200_000
DEFAULT_ROWS = 200_000  # the raw load comparison's size in issue 16


def _say(progress: Progress | None, message: str) -> None:
    (progress or log.info)(f"[{dt.datetime.now():%H:%M:%S}] {message}")


# --- a) raw load: COPY via load_batch vs pandas.DataFrame.to_sql ---------------------------------------------

def _police_rk_czrk():
    from govhub.extract.registry import feed

    police = feed("police")
    return police, police.objects["RK_CZRK"]


def synthetic_rows(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """Rows with the real RK_CZRK column layout (text values shaped like the police export)."""
    rnd = random.Random(seed)
    _, obj = _police_rk_czrk()
    rows = []
    for i in range(n):
        birth = dt.date(1940, 1, 1) + dt.timedelta(days=rnd.randrange(30000))
        rows.append({
            "RYBH": f"R{i:011d}", "GMSFHM": f"341123{birth:%Y%m%d}{rnd.randrange(1000):03d}{rnd.choice('0123456789X')}",
            "XM": rnd.choice("王李张刘陈杨黄赵") + rnd.choice("伟芳娜敏静丽强磊军洋"), "XB": rnd.choice("12"),
            "CSRQ": f"{birth:%Y%m%d}", "MZ": "01", "HH": f"H{i // 3:09d}", "YHZGX": rnd.choice(["01", "10", "20"]),
            "HJDZ_XZQH": f"341123{rnd.randrange(100, 119)}{rnd.randrange(200, 260):03d}",
            "HJDZ": f"开通镇红旗村{rnd.randrange(1, 12)}组{rnd.randrange(1, 80)}号", "XZZ": None, "RYZT": "0",
            "GXSJ": f"2026{rnd.randrange(1, 12):02d}{rnd.randrange(1, 28):02d}120000"})
    assert set(rows[0]) == set(obj.columns) if rows else True
    return rows


def police_rows(n: int | None) -> tuple[list[dict[str, Any]], str]:
    """Up to ``n`` RK_CZRK rows from the simulated police database; topped up with synthetic rows."""
    from govhub.extract import sql_connector
    from govhub.extract.connections import sql_connect

    police, obj = _police_rk_czrk()
    rows: list[dict[str, Any]] = []
    try:
        with sql_connect(police) as source:
            exists = source.execute("select to_regclass('\"RK_CZRK\"')").fetchone()[0]
            if exists:
                for row in sql_connector.read_rows(source, police, obj, None, None):
                    rows.append(row)
                    if n is not None and len(rows) >= n:
                        break
    except Exception as exc:  # no simulated police database: synthetic rows only
        log.info("no police source rows (%s); using synthetic rows", exc)
    origin = f"police RK_CZRK ({len(rows)} rows)"
    if n is not None and len(rows) < n:
        extra = synthetic_rows(n - len(rows))
        for i, r in enumerate(extra):
            r["RYBH"] = f"S{i:011d}"
        rows += extra
        origin += f" + {len(extra)} synthetic rows" if len(rows) > len(extra) else ""
        if len(extra) == len(rows):
            origin = f"synthetic rows with the RK_CZRK layout ({len(rows)} rows)"
    return rows, origin


def raw_load_comparison(rows: list[dict[str, Any]], methods: tuple[str | None, ...] = (None, "multi"),
                        progress: Progress | None = None, rounds: int = 2) -> dict[str, Any]:
    """Load ``rows`` through load_batch (COPY, with RK_CZRK's own validator as the sql extract runs it), through
    a bare COPY of the same values and through DataFrame.to_sql; each timed end to end incl. commit.

    The loader and the bare COPY alternate ``rounds`` times and each keeps its best round: on a shared machine
    another user's burst then hits neither side alone."""
    import pandas as pd
    import psycopg
    from sqlalchemy import create_engine

    from govhub.extract import sql_connector
    from govhub.extract.loader import as_text, load_batch, new_batch_id
    from govhub.ops import ensure_ops

    police, obj = _police_rk_czrk()
    scratch = replace(police, name=BENCH_FEED)
    raw_table = scratch.raw_table(obj)
    validate = sql_connector.validator(obj)
    n = len(rows)
    conninfo = db.server().conninfo(WAREHOUSE_DB)
    cols = [c.lower() for c in obj.columns]

    def clean() -> None:
        with psycopg.connect(conninfo) as conn:
            conn.execute(f'drop table if exists raw."{raw_table}"')
            conn.execute("drop schema if exists bench cascade")
            conn.execute("delete from ops.batch where feed = %s", (BENCH_FEED,))

    def loader_round() -> dict[str, Any]:
        clean()
        started = time.perf_counter()
        with psycopg.connect(conninfo) as conn, conn.transaction():
            res = load_batch(conn, scratch, obj, iter(rows), batch_id=new_batch_id(BENCH_FEED, obj.name),
                             validate=validate)
        seconds = time.perf_counter() - started
        with psycopg.connect(conninfo) as conn:
            copied = conn.execute(f'select count(*) from raw."{raw_table}"').fetchone()[0]
        return {"method": "load_batch (COPY)", "seconds": round(seconds, 3), "loaded": copied,
                "batch_loaded": res.loaded, "rows_per_s": round(n / seconds) if seconds else None}

    def bare_round() -> dict[str, Any]:
        # the same values into an unindexed table: no validation, key, row hash, lineage, dedup or bookkeeping
        clean()
        started = time.perf_counter()
        with psycopg.connect(conninfo) as conn, conn.transaction():
            conn.execute("create schema bench")
            conn.execute("create table bench.copy_plain ({})".format(", ".join(f'"{c}" text' for c in cols)))
            with conn.cursor().copy("copy bench.copy_plain from stdin") as copy:
                for r in rows:
                    copy.write_row([as_text(r.get(c)) for c in obj.columns])
        seconds = time.perf_counter() - started
        with psycopg.connect(conninfo) as conn:
            loaded = conn.execute("select count(*) from bench.copy_plain").fetchone()[0]
        return {"method": "bare COPY (no loader)", "seconds": round(seconds, 3), "loaded": loaded,
                "rows_per_s": round(n / seconds) if seconds else None}

    with psycopg.connect(conninfo) as conn:
        ensure_ops(conn)
    results: dict[str, Any] = {"rows": n, "rounds": rounds}
    try:
        for i in range(rounds):
            _say(progress, f"raw load round {i + 1}/{rounds}: bare psycopg COPY, then load_batch, {n} rows ...")
            for key, fn in (("copy_plain", bare_round), ("copy", loader_round)):
                r = fn()
                r["all_seconds"] = [*results.get(key, {}).get("all_seconds", []), r["seconds"]]
                if key not in results or r["seconds"] < results[key]["seconds"]:
                    results[key] = r
                else:
                    results[key]["all_seconds"] = r["all_seconds"]
        clean()
        with psycopg.connect(conninfo) as conn:
            conn.execute("create schema bench")
        # the same rows, the same column names as raw (lower case); the DataFrame is built outside the timing
        frame = pd.DataFrame([{c.lower(): r.get(c) for c in obj.columns} for r in rows], columns=cols)
        engine = create_engine(db.server().url(WAREHOUSE_DB, driver="postgresql+psycopg"))
        try:
            for method in methods:
                label = f"to_sql(method={method!r})"
                table = f"to_sql_{method or 'default'}"
                _say(progress, f"raw load: pandas {label}, {n} rows ...")
                started = time.perf_counter()
                frame.to_sql(table, engine, schema="bench", if_exists="replace", index=False, method=method,
                             chunksize=1000 if method == "multi" else None)
                seconds = time.perf_counter() - started
                with engine.connect() as c:
                    from sqlalchemy import text

                    loaded = c.execute(text(f'select count(*) from bench."{table}"')).scalar_one()
                results[f"to_sql_{method or 'default'}"] = {
                    "method": label, "seconds": round(seconds, 3), "loaded": loaded,
                    "rows_per_s": round(n / seconds) if seconds else None}
        finally:
            engine.dispose()
    finally:
        clean()
    copy_rps = results["copy"]["rows_per_s"] or 0
    for key in [k for k in results if k.startswith("to_sql_")]:
        base = results[key]["rows_per_s"]
        results[key]["copy_ratio"] = round(copy_rps / base, 2) if base else None
    results["ratio"] = results.get("to_sql_default", {}).get("copy_ratio")
    bare = results["copy_plain"]["rows_per_s"]
    results["loader_over_bare_copy"] = round(copy_rps / bare, 3) if bare else None
    return results


# --- per-stage wall time, CPU time and peak memory ----------------------------------------------------------

def _rss_peak_reset() -> bool:
    """Reset this process's peak resident set (Linux: ``5`` into /proc/self/clear_refs); False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _rss_peak_mb() -> float:
    """Peak resident set since the last reset (VmHWM), else since the process started (ru_maxrss)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class StageMeter:
    """Wall time, CPU time (this process and its waited-for children) and peak memory per named stage.

    dbt, DuckDB (linkage) and GX run inside this process, so its peak resident set is the stages' memory;
    PostgreSQL's own processes are not counted (its shared buffers are fixed by its configuration)."""

    def __init__(self) -> None:
        self.stages: dict[str, dict[str, Any]] = {}
        self._open: list[dict[str, Any]] = []
        self.resettable = _rss_peak_reset()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if self._open:  # the enclosing stage keeps the larger of its own peak so far and this one's
            self._open[-1]["peak"] = max(self._open[-1]["peak"], _rss_peak_mb())
        _rss_peak_reset()
        frame = {"peak": 0.0}
        self._open.append(frame)
        cpu0, started = os.times(), time.perf_counter()
        try:
            yield
        finally:
            seconds = time.perf_counter() - started
            cpu1 = os.times()
            self._open.pop()
            peak = max(frame["peak"], _rss_peak_mb())
            if self._open:
                self._open[-1]["peak"] = max(self._open[-1]["peak"], peak)
            entry = self.stages.setdefault(name, {"seconds": 0.0, "cpu_seconds": 0.0, "peak_rss_mb": 0.0, "calls": 0})
            entry["seconds"] = round(entry["seconds"] + seconds, 2)
            entry["cpu_seconds"] = round(entry["cpu_seconds"] + sum(cpu1[:4]) - sum(cpu0[:4]), 2)
            entry["peak_rss_mb"] = max(entry["peak_rss_mb"], peak)
            entry["calls"] += 1

    def seconds(self, *names: str) -> float:
        return round(sum(self.stages.get(n, {}).get("seconds", 0.0) for n in names), 2)


@contextmanager
def _timed_calls(meter: StageMeter, nodes: list[Any] | None = None) -> Iterator[None]:
    """Time the pipeline's own steps from inside: dbt (``transform.build``, split at the linkage step),
    ``linkage.link_probabilistically`` and the publication gate ``gate.run_gate``. The pipeline code runs
    unchanged; the attributes are restored afterwards. dbt's per-node results are appended to ``nodes``."""
    from govhub import linkage, transform
    from govhub.quality import gate

    originals = {(transform, "build"): transform.build, (linkage, "link_probabilistically"): linkage.link_probabilistically,
                 (gate, "run_gate"): gate.run_gate}
    state = {"linked": False}

    def dbt_build(*args: Any, **kwargs: Any) -> Any:
        with meter.stage("dbt_after_linkage" if state["linked"] else "dbt_before_linkage"):
            built = originals[(transform, "build")](*args, **kwargs)
        if nodes is not None:
            nodes.extend(built)
        return built

    def link(*args: Any, **kwargs: Any) -> Any:
        with meter.stage("linkage"):
            try:
                return originals[(linkage, "link_probabilistically")](*args, **kwargs)
            finally:
                state["linked"] = True

    def run_gate(*args: Any, **kwargs: Any) -> Any:
        with meter.stage("gate"):
            return originals[(gate, "run_gate")](*args, **kwargs)

    transform.build, linkage.link_probabilistically, gate.run_gate = dbt_build, link, run_gate
    try:
        yield
    finally:
        for (module, attr), fn in originals.items():
            setattr(module, attr, fn)


# --- a) full and daily passes ----------------------------------------------------------------------------------

def generation(scale: str, meter: StageMeter, progress: Progress | None = None, seed: int = 20261125) -> dict[str, Any]:
    from govhub.sim import runner

    _say(progress, f"generating the {scale} county (world build + writing every department system) ...")
    with meter.stage("generate"):
        out = runner.generate(scale, seed, reset=True)
    rows = sum(sum(v.values()) if isinstance(v, dict) else 0 for v in (out.get("written") or {}).values())
    _say(progress, f"  {scale}: {out.get('persons')} persons, {meter.seconds('generate'):.1f}s")
    return {"scale": scale, "seed": seed, "persons": out.get("persons"), "world_seconds": out.get("world_seconds"),
            "seconds": meter.seconds("generate"), "source_rows_written": rows}


PASS_STAGES = ("extract", "feed_gate", "build", "gate_and_publish")


def pipeline_pass(kind: str, scale: str, progress: Progress | None = None) -> dict[str, Any]:
    """One pass as the DAGs run it: extract every feed, per-feed suites, build (dbt, linkage, dbt), publication
    gate and publish. ``kind`` ``full`` rebuilds from raw (``--full-refresh``); ``daily`` is incremental."""
    from govhub import pipeline
    from govhub.extract.registry import load_registry
    from govhub.quality import gate

    meter = StageMeter()
    run_id = f"bench-{scale}-{kind}-{dt.datetime.now():%Y%m%dT%H%M%S}"
    out: dict[str, Any] = {"kind": kind, "run_id": run_id, "extract_rows": 0, "new_versions": 0}
    dbt_nodes: list[Any] = []
    with _timed_calls(meter, dbt_nodes):
        with meter.stage("extract"):
            for name in load_registry():
                _say(progress, f"{kind} pass: extract {name} ...")
                for r in pipeline.extract(name):
                    out["extract_rows"] += r["received"]
                    out["new_versions"] += r["inserted"]
        _say(progress, f"{kind} pass: per-feed suites ...")
        with meter.stage("feed_gate"):
            out["feed_gate"] = pipeline.gate_feeds(run_id)
        _say(progress, f"{kind} pass: build (dbt, linkage, dbt){' --full-refresh' if kind == 'full' else ''} ...")
        with meter.stage("build"):
            built = pipeline.build(full_refresh=kind == "full", run_id=run_id)
        out["dbt_nodes"] = built.get("nodes")
        _say(progress, f"{kind} pass: publication gate and publish ...")
        with meter.stage("gate_and_publish"):
            try:
                out["published_version"] = pipeline.gate_and_publish(run_id)
                out["gate_passed"] = True
            except (gate.GateFailed, gate.GateError, pipeline.BuildFailed) as exc:
                out["gate_passed"], out["gate_message"] = False, str(exc)[:500]
    out["stages"] = meter.stages
    out["dbt_slowest_nodes"] = slowest_nodes(dbt_nodes)
    out["seconds"] = meter.seconds(*PASS_STAGES)
    out["dbt_seconds"] = meter.seconds("dbt_before_linkage", "dbt_after_linkage")
    out["linkage_seconds"] = meter.seconds("linkage")
    out["gate_seconds"] = meter.seconds("gate")
    out["peak_rss_mb"] = max((s["peak_rss_mb"] for s in meter.stages.values()), default=None)
    out["peak_rss_is_per_stage"] = meter.resettable
    with db.connect() as conn:
        out["person_records"] = conn.execute(
            "select case when to_regclass('intermediate.int_person_records__unioned') is not null then "
            "(select count(*) from intermediate.int_person_records__unioned) end").fetchone()[0]
    return out


def slowest_nodes(nodes: list[Any], top: int = 15) -> dict[str, Any]:
    """Where a pass's dbt time went: the ``top`` slowest nodes and the total per resource type (model, test,
    unit_test, seed) — what to make incremental next, read off the run rather than guessed."""
    by_type: dict[str, dict[str, float]] = {}
    for n in nodes:
        kind = n.node.split(".", 1)[0]
        entry = by_type.setdefault(kind, {"nodes": 0, "seconds": 0.0})
        entry["nodes"] += 1
        entry["seconds"] = round(entry["seconds"] + n.seconds, 2)
    ranked = sorted(nodes, key=lambda n: n.seconds, reverse=True)[:top]
    return {"by_type": by_type, "slowest": [{"node": n.node, "seconds": round(n.seconds, 2)} for n in ranked]}


def _ratio(a: float | None, b: float | None, digits: int = 3) -> float | None:
    return round(a / b, digits) if a is not None and b else None


def reused_generation(scale: str) -> dict[str, Any]:
    """The county this HUB_HOME's simulator already holds (``hub bench --reuse``), when it is ``scale``."""
    from govhub.sim import runner

    state = runner.load_state()
    if state is None or state.scale != scale:
        raise RuntimeError(f"hub bench --reuse: this HUB_HOME holds {'no county' if state is None else state.scale!r}, "
                           f"not {scale!r}. Fix: run the bench without --reuse (it generates the county)")
    with db.connect(runner.TRUTH_DB) as conn:
        persons = conn.execute("select count(*) from truth_person").fetchone()[0] \
            if conn.execute("select to_regclass('truth_person')").fetchone()[0] else None
    return {"scale": scale, "seed": state.seed, "persons": persons, "reused": True, "simulated_days": state.clock_days,
            "seconds": None, "world_seconds": None, "source_rows_written": None, "peak_rss_mb": None}


def scale_passes(scale: str, progress: Progress | None = None, build: bool = True,
                 reuse: bool = False) -> dict[str, Any]:
    """Generate ``scale`` on an empty warehouse (``reuse``: take the county already generated, e.g. after a
    pass that failed for the hub's fault), run a full pass, advance the simulator one day, run a daily pass."""
    from govhub.sim import runner

    meter = StageMeter()
    if reuse:
        out: dict[str, Any] = {"scale": scale, "generation": reused_generation(scale)}
    else:
        out = {"scale": scale, "generation": generation(scale, meter, progress)}
        out["generation"]["peak_rss_mb"] = meter.stages["generate"]["peak_rss_mb"]
    if not build:
        return out
    _say(progress, "emptying the warehouse of this HUB_HOME (a full pass starts from the departments' systems) ...")
    db.drop_warehouse_schemas()
    out["full"] = pipeline_pass("full", scale, progress)
    _say(progress, f"full pass {out['full']['seconds']:.1f}s; the simulator advances one day ...")
    with meter.stage("simulate_day"):
        runner.advance(1)
    out["simulate_day"] = meter.stages["simulate_day"]
    out["daily"] = pipeline_pass("daily", scale, progress)
    full, daily = out["full"], out["daily"]
    out["full_seconds"], out["daily_seconds"] = full["seconds"], daily["seconds"]
    out["daily_over_full"] = _ratio(daily["seconds"], full["seconds"])
    records = full.get("person_records")
    out["person_records"] = records
    out["linkage_records_per_second"] = round(records / full["linkage_seconds"]) if records and full["linkage_seconds"] else None
    out["gate_over_dbt"] = _ratio(full["gate_seconds"], full["dbt_seconds"])
    out["daily_gate_over_dbt"] = _ratio(daily["gate_seconds"], daily["dbt_seconds"])
    out["peak_rss_mb"] = max(full["peak_rss_mb"] or 0, daily["peak_rss_mb"] or 0,
                             out["generation"]["peak_rss_mb"] or 0)
    return out


# --- the command ---------------------------------------------------------------------------------------------

FLAT_MEASURES = ("full_seconds", "daily_seconds", "daily_over_full", "linkage_records_per_second", "gate_over_dbt")


def run_bench(scale: str = "small", rows: int | None = DEFAULT_ROWS, generate_only: tuple[str, ...] = (),
              build: bool = True, progress: Progress | None = None, reuse: bool = False) -> dict[str, Any]:
    """Full and daily pass on ``scale``, the raw load comparison on its RK_CZRK rows, then full and daily pass
    on each further ``generate_only`` scale (e.g. city); writes ``$HUB_HOME/bench/results.json``."""
    from govhub.sim import justice

    db.ensure_databases()
    justice.start_background(hub_home())
    if not os.environ.get("HUB_DATABASE_URL"):  # as `hub up`: the simulated departments' Airflow connections
        from govhub.extract.connections import define_simulator_connections

        define_simulator_connections()
    results: dict[str, Any] = {"measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "scale": scale,
                               "machine": {"cpus": _cpus(), "python": platform.python_version(),
                                           "memory_mb": _memory_mb(),
                                           "load_average_at_start": [round(x, 2) for x in os.getloadavg()]},
                               "scales": {}}

    def record(s: str, out: dict[str, Any]) -> None:
        results["scales"][s] = out
        for key in FLAT_MEASURES:
            if key in out:
                results[f"{s}_{key}"] = out[key]
                if s == scale:
                    results[key] = out[key]
        _write(results)

    record(scale, scale_passes(scale, progress, build, reuse=reuse))
    sample, origin = police_rows(rows)
    # method='multi' runs at ~2,000 rows/s: only "if cheap" (it would take minutes on a county's residents)
    methods = (None, "multi") if len(sample) <= MULTI_MAX_ROWS // 4 else (None,)
    results["raw_load"] = {"source": origin, **raw_load_comparison(sample, methods=methods, progress=progress)}
    results["loader_over_bare_copy"] = results["raw_load"]["loader_over_bare_copy"]
    _write(results)
    for extra in generate_only:
        if extra != scale:
            record(extra, scale_passes(extra, progress, build))
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["path"] = str(_write(results))
    return results


def _write(results: dict[str, Any]):
    """Written after every scale, so a long run that is stopped keeps what it measured."""
    path = hub_home() / "bench" / "results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    return path


def _memory_mb() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20)
    except (ValueError, OSError, AttributeError):
        return None


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 0)


def format_results(results: dict[str, Any]) -> str:
    lines = []
    for scale, out in results.get("scales", {}).items():
        g = out["generation"]
        if g.get("reused"):
            lines.append(f"{scale}: {g['persons'] or 0:,} persons (seed {g['seed']}), generated before (--reuse), "
                         f"{g['simulated_days']} simulated days")
        else:
            lines.append(f"{scale}: {g['persons']:,} persons (seed {g['seed']}), generated in {g['seconds']:.1f}s "
                         f"({g['source_rows_written']:,} source rows, peak {g['peak_rss_mb']:.0f} MB)")
        for kind in ("full", "daily"):
            p = out.get(kind)
            if not p:
                continue
            lines.append(f"  {kind} pass {p['seconds']:.1f}s ({p['extract_rows']:,} rows received, "
                         f"{p['new_versions']:,} new versions; gate {'passed' if p.get('gate_passed') else 'FAILED'})")
            for name, st in p["stages"].items():
                lines.append(f"    {name:<20} {st['seconds']:>8.1f}s  cpu {st['cpu_seconds']:>8.1f}s  "
                             f"peak {st['peak_rss_mb']:>7.0f} MB")
        if "daily_over_full" in out:
            lines.append(f"  daily/full = {out['daily_over_full']} (target ≤ 0.1 at county); linkage "
                         f"{out['linkage_records_per_second']} records/s over {out['person_records']} person records "
                         f"(target ≥ 10,000 at county); gate/dbt = {out['gate_over_dbt']} (target ≤ 0.2)")
    raw = results.get("raw_load")
    if raw:
        lines.append(f"Raw load, {raw['rows']} rows — {raw['source']} (best of {raw.get('rounds', 1)} rounds)")
        lines.append(f"  {'method':<28} {'seconds':>9} {'rows/s':>10} {'loaded':>8} {'COPY ×':>7}")
        for key in ("copy", "copy_plain", "to_sql_default", "to_sql_multi"):
            if key in raw:
                r = raw[key]
                ratio = r.get("copy_ratio")
                lines.append(f"  {r['method']:<28} {r['seconds']:>9.2f} {r['rows_per_s'] or 0:>10,} {r['loaded']:>8} "
                             f"{'' if ratio is None else f'{ratio:.1f}':>7}")
        lines.append(f"  loader / bare COPY = {raw.get('loader_over_bare_copy')} (target ≥ 0.8); "
                     f"loader / to_sql(default) = {raw.get('ratio')}")
    machine = results.get("machine", {})
    if machine:
        lines.append(f"{machine.get('cpus')} CPUs, {machine.get('memory_mb')} MB; load average at start "
                     f"{machine.get('load_average_at_start')}, at end {machine.get('load_average_at_end')} "
                     "(other users share this machine)")
    if results.get("path"):
        lines.append(f"written to {results['path']}")
    return "\n".join(lines)
