"""`hub bench`: the performance numbers the issues ask for, measured in one run.

a) raw load rows/s: the real loader path (``load_batch``: validation, row hash, COPY into a temp table,
   insert into raw, batch bookkeeping, commit) against ``pandas.DataFrame.to_sql`` (SQLAlchemy engine,
   ``method=None`` and ``method='multi'``) on the *same* rows into scratch tables, same run;
b) simulator generation time (world build + writing every department system) per scale;
c) dbt build time against GX gate time on the generated county (extract first).

Results are printed as a table and written to ``$HUB_HOME/bench/results.json``. Scratch tables live in the
``bench`` schema / ``raw.bench__*`` and are dropped afterwards; nothing the pipeline reads is touched except
what a normal pipeline pass on the generated county writes.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import platform
import random
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from govhub import db
from govhub.settings import WAREHOUSE_DB, hub_home

log = logging.getLogger(__name__)
BENCH_FEED = "bench"  # scratch feed name: raw.bench__rk_czrk, ops.batch rows removed afterwards
Progress = Callable[[str], None]
MULTI_MAX_ROWS = 200_000
WAREHOUSE_SCHEMAS = ("raw", "ops", "staging", "intermediate", "audit", "published", "linkage", "util", "reference", "wh")


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
                        progress: Progress | None = None) -> dict[str, Any]:
    """Load ``rows`` through load_batch (COPY) and through DataFrame.to_sql; both timed end to end incl. commit."""
    import pandas as pd
    import psycopg
    from sqlalchemy import create_engine

    from govhub.extract.loader import as_text, load_batch, new_batch_id
    from govhub.ops import ensure_ops

    police, obj = _police_rk_czrk()
    scratch = replace(police, name=BENCH_FEED)
    raw_table = scratch.raw_table(obj)
    n = len(rows)
    conninfo = db.server().conninfo(WAREHOUSE_DB)
    with psycopg.connect(conninfo) as conn:
        ensure_ops(conn)
        conn.execute("create schema if not exists bench")
        conn.execute(f'drop table if exists raw."{raw_table}"')
        conn.execute("delete from ops.batch where feed = %s", (BENCH_FEED,))
    results: dict[str, Any] = {"rows": n}
    try:
        _say(progress, f"raw load: COPY via load_batch, {n} rows ...")
        batch_id = new_batch_id(BENCH_FEED, obj.name)
        started = time.perf_counter()
        with psycopg.connect(conninfo) as conn, conn.transaction():
            res = load_batch(conn, scratch, obj, iter(rows), batch_id=batch_id)
        copy_seconds = time.perf_counter() - started
        with psycopg.connect(conninfo) as conn:
            copied = conn.execute(f'select count(*) from raw."{raw_table}"').fetchone()[0]
        results["copy"] = {"method": "load_batch (COPY)", "seconds": round(copy_seconds, 3), "loaded": copied,
                           "batch_loaded": res.loaded, "rows_per_s": round(n / copy_seconds) if copy_seconds else None}

        # the bare COPY of the same values (no validation, row hash, lineage or dedup): the loader's overhead
        _say(progress, f"raw load: bare psycopg COPY, {n} rows ...")
        cols = [c.lower() for c in obj.columns]
        started = time.perf_counter()
        with psycopg.connect(conninfo) as conn, conn.transaction():
            conn.execute("create table bench.copy_plain ({})".format(", ".join(f'"{c}" text' for c in cols)))
            with conn.cursor().copy("copy bench.copy_plain from stdin") as copy:
                for r in rows:
                    copy.write_row([as_text(r.get(c)) for c in obj.columns])
        seconds = time.perf_counter() - started
        with psycopg.connect(conninfo) as conn:
            loaded = conn.execute("select count(*) from bench.copy_plain").fetchone()[0]
        results["copy_plain"] = {"method": "bare COPY (no loader)", "seconds": round(seconds, 3), "loaded": loaded,
                                 "rows_per_s": round(n / seconds) if seconds else None}

        # the same rows, the same column names as raw (lower case); the DataFrame is built outside the timing
        frame = pd.DataFrame([{c.lower(): r.get(c) for c in obj.columns} for r in rows],
                             columns=[c.lower() for c in obj.columns])
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
        with psycopg.connect(conninfo) as conn:
            conn.execute(f'drop table if exists raw."{raw_table}"')
            conn.execute("drop schema if exists bench cascade")
            conn.execute("delete from ops.batch where feed = %s", (BENCH_FEED,))
    copy_rps = results["copy"]["rows_per_s"] or 0
    for key in [k for k in results if k.startswith("to_sql_")]:
        base = results[key]["rows_per_s"]
        results[key]["copy_ratio"] = round(copy_rps / base, 2) if base else None
    results["ratio"] = results.get("to_sql_default", {}).get("copy_ratio")
    return results


# --- b) simulator generation ---------------------------------------------------------------------------------

def generation(scale: str, progress: Progress | None = None, seed: int = 20261125) -> dict[str, Any]:
    from govhub.sim import runner

    _say(progress, f"generating the {scale} county (world build + writing every department system) ...")
    started = time.perf_counter()
    out = runner.generate(scale, seed, reset=True)
    seconds = time.perf_counter() - started
    rows = sum(sum(v.values()) if isinstance(v, dict) else 0 for v in (out.get("written") or {}).values())
    _say(progress, f"  {scale}: {out.get('persons')} persons, {seconds:.1f}s")
    return {"scale": scale, "persons": out.get("persons"), "world_seconds": out.get("world_seconds"),
            "seconds": round(seconds, 2), "source_rows_written": rows}


# --- c) extract, dbt build, gate ------------------------------------------------------------------------------

def build_and_gate(scale: str, progress: Progress | None = None) -> dict[str, Any]:
    """Extract every feed, then time dbt build (full refresh), linkage and the GX gate separately."""
    from govhub import linkage, transform
    from govhub.extract.registry import load_registry
    from govhub.pipeline import extract
    from govhub.quality import gate

    out: dict[str, Any] = {"scale": scale}
    # a fresh warehouse: the county was just regenerated, old watermarks and raw rows belong to another one
    _say(progress, "dropping the warehouse schemas of this HUB_HOME (raw, ops, staging ... published) ...")
    with db.connect() as conn:
        for schema in WAREHOUSE_SCHEMAS:
            conn.execute(f"drop schema if exists {schema} cascade")
    started = time.perf_counter()
    received = 0
    for name in load_registry():
        _say(progress, f"extract {name} ...")
        received += sum(r["received"] for r in extract(name))
    out["extract_seconds"] = round(time.perf_counter() - started, 2)
    out["extract_rows"] = received
    _say(progress, f"dbt build --full-refresh ({scale}) ...")
    t0 = time.perf_counter()
    from govhub.pipeline import LINKAGE_INPUTS

    nodes = transform.build(full_refresh=True, select=LINKAGE_INPUTS)
    t1 = time.perf_counter()
    linkage.link_probabilistically()
    t2 = time.perf_counter()
    nodes += transform.build(full_refresh=True, exclude=LINKAGE_INPUTS)
    t3 = time.perf_counter()
    out["dbt_nodes"] = len(nodes)
    out["dbt_seconds"] = round((t1 - t0) + (t3 - t2), 2)
    out["linkage_seconds"] = round(t2 - t1, 2)
    t0 = time.perf_counter()
    import great_expectations  # noqa: F401  (a task process pays this once; reported apart from the gate)

    out["gx_import_seconds"] = round(time.perf_counter() - t0, 2)
    _say(progress, f"GX gate ({scale}) ...")
    t0 = time.perf_counter()
    try:
        outcomes = gate.run_gate(f"bench-{scale}-{dt.datetime.now():%Y%m%dT%H%M%S}")
        out["gate_expectations"], out["gate_passed"] = len(outcomes), True
    except gate.GateFailed as exc:
        out["gate_passed"], out["gate_message"] = False, str(exc)[:500]
    out["gate_seconds"] = round(time.perf_counter() - t0, 2)
    _say(progress, f"per-feed GX suites ({scale}) ...")
    from govhub.quality import feed_gate

    t0 = time.perf_counter()
    report = feed_gate.run_feed_gate(f"bench-feeds-{scale}-{dt.datetime.now():%Y%m%dT%H%M%S}")
    out["feed_gate_seconds"] = round(time.perf_counter() - t0, 2)
    out["feed_gate_failed"] = report.failed
    out["gate_to_dbt_ratio"] = round(out["gate_seconds"] / out["dbt_seconds"], 3) if out["dbt_seconds"] else None
    return out


# --- the command ---------------------------------------------------------------------------------------------

def run_bench(scale: str = "small", rows: int | None = None, generate_only: tuple[str, ...] = (),
              build: bool = True, progress: Progress | None = None) -> dict[str, Any]:
    """Time the generation of each ``generate_only`` scale, then generate ``scale`` (timed), extract it, time
    dbt build against the gate on it, and compare the raw load methods on its RK_CZRK rows."""
    from govhub.sim import justice

    db.ensure_databases()
    justice.start_background(hub_home())
    if not os.environ.get("HUB_DATABASE_URL"):  # as `hub up`: the simulated departments' Airflow connections
        from govhub.extract.connections import define_simulator_connections

        define_simulator_connections()
    results: dict[str, Any] = {"measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                               "machine": {"cpus": _cpus(), "python": platform.python_version(),
                                           "load_average_at_start": [round(x, 2) for x in os.getloadavg()]},
                               "generation": [], "build": []}
    for s in generate_only:  # first: the county of `scale` must be the one left in the sources
        if s != scale:
            results["generation"].append(generation(s, progress))
    results["generation"].append(generation(scale, progress))
    if build:
        results["build"].append(build_and_gate(scale, progress))
    sample, origin = police_rows(rows)
    # method='multi' runs at ~2,000 rows/s: only "if cheap" (it would take minutes on a county's residents)
    methods = (None, "multi") if len(sample) <= MULTI_MAX_ROWS else (None,)
    results["raw_load"] = {"source": origin, **raw_load_comparison(sample, methods=methods, progress=progress)}
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    path = hub_home() / "bench" / "results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    results["path"] = str(path)
    return results


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 0)


def format_results(results: dict[str, Any]) -> str:
    lines = []
    raw = results.get("raw_load")
    if raw:
        lines.append(f"Raw load, {raw['rows']} rows — {raw['source']}")
        lines.append(f"  {'method':<28} {'seconds':>9} {'rows/s':>10} {'loaded':>8} {'COPY ×':>7}")
        for key in ("copy", "copy_plain", "to_sql_default", "to_sql_multi"):
            if key in raw:
                r = raw[key]
                ratio = r.get("copy_ratio")
                lines.append(f"  {r['method']:<28} {r['seconds']:>9.2f} {r['rows_per_s'] or 0:>10,} {r['loaded']:>8} "
                             f"{'' if ratio is None else f'{ratio:.1f}':>7}")
        lines.append(f"  ratio COPY / to_sql(default) = {raw.get('ratio')}× (target ≥ 10×)")
    if results.get("generation"):
        lines.append("Simulator generation (world + department systems)")
        for g in results["generation"]:
            lines.append(f"  {g['scale']:<8} {g['persons']:>9,} persons  world {g['world_seconds']:>7.1f}s  "
                         f"total {g['seconds']:>7.1f}s  ({g['source_rows_written']:,} source rows)")
    if results.get("build"):
        lines.append("Warehouse build vs gate")
        for b in results["build"]:
            lines.append(f"  {b['scale']:<8} extract {b['extract_seconds']:>6.1f}s ({b['extract_rows']:,} rows)  "
                         f"dbt {b['dbt_seconds']:>6.1f}s ({b['dbt_nodes']} nodes)  linkage {b['linkage_seconds']:>5.1f}s  "
                         f"gate {b['gate_seconds']:>5.1f}s ({'passed' if b['gate_passed'] else 'FAILED'})  "
                         f"gate/dbt = {b['gate_to_dbt_ratio']} (target ≤ 0.2)")
            if b.get("gx_import_seconds"):
                lines.append(f"  {'':<8} (import of great_expectations before the gate: {b['gx_import_seconds']:.1f}s, "
                             "not counted)")
            if "feed_gate_seconds" in b:
                lines.append(f"  {'':<8} per-feed suites {b['feed_gate_seconds']:.1f}s "
                             f"(feed/dbt = {b['feed_gate_seconds'] / b['dbt_seconds']:.2f}; "
                             f"failed feeds: {', '.join(b['feed_gate_failed']) or 'none'})")
    machine = results.get("machine", {})
    if machine:
        lines.append(f"{machine.get('cpus')} CPUs; load average at start {machine.get('load_average_at_start')}, "
                     f"at end {machine.get('load_average_at_end')} (other users share this machine)")
    if results.get("path"):
        lines.append(f"written to {results['path']}")
    return "\n".join(lines)
