"""`hub`: the data engineer's command line for the governance data hub."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

from govhub.settings import hub_home


def _print(obj: object) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def _start_stack() -> list[str]:
    """PostgreSQL (embedded or HUB_DATABASE_URL), the simulated justice API and, on the embedded stack, the
    simulated departments' Airflow connections. Returns what it did, one line each."""
    from govhub import db
    from govhub.ops import ensure_ops

    address = db.server()
    db.ensure_databases()
    with db.connect() as conn:  # ops schema, the least-privilege roles and their grants (govhub.roles)
        ensure_ops(conn)
    where = "HUB_DATABASE_URL" if os.environ.get("HUB_DATABASE_URL") else f"embedded, data in {hub_home() / 'pgdata'}"
    said = [f"PostgreSQL ready ({where}): {address.display_url('warehouse')}"]  # never the password
    try:
        from govhub.sim import justice  # noqa: F401  (simulated justice API, when present)

        said.append(f"justice API: {justice.start_background(hub_home())}")
    except ImportError:
        pass
    if not os.environ.get("HUB_DATABASE_URL"):  # the embedded stack: its departments are the simulator's
        from govhub.extract.connections import define_simulator_connections

        written = define_simulator_connections()
        said.append(f"Airflow connections of the simulated departments: {', '.join(written) or 'none (all defined)'}")
    return said


def cmd_up(args: argparse.Namespace) -> int:
    for line in _start_stack():
        print(line)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Every Airflow component on the hub's stack, in the foreground until Ctrl-C or `hub down`."""
    from govhub import service

    for line in _start_stack():
        print(line, flush=True)
    if not os.environ.get("HUB_DATABASE_URL"):  # the embedded stack's departments are the simulator's
        from govhub.sim import runner

        if runner.load_state() is None:
            sim = runner.generate(args.scale)
            print(f"generated the simulated {args.scale} county ({sim['persons']:,} persons): the extracts have "
                  "departments to read", flush=True)
    svc = service.start(args.port, extract_every=args.extract_every, paused=args.paused)
    print(f"Airflow api-server, scheduler, dag-processor, triggerer starting (LocalExecutor); logs in "
          f"{hub_home() / 'logs' / 'service'}", flush=True)
    try:
        service.wait_healthy(svc, timeout=args.wait, on_change=lambda s: print(
            "  health: " + ", ".join(f"{k} {v}" for k, v in s.items()), flush=True))
    except (service.ServiceError, KeyboardInterrupt) as exc:
        service.stop(svc)
        raise service.ServiceError(f"{exc}; every component stopped") from exc
    users = ", ".join(service.users())
    print(f"\nThe hub is running: {svc.url}", flush=True)
    print(f"  log in as {users} (simple auth manager); the password(s) are in {service.passwords_file()} "
          "(generated on this machine, readable by you only)", flush=True)
    print(f"  data-quality scorecard: {svc.url}/hub-quality/ (also under 'govhub' in the UI's navigation)", flush=True)
    schedules = (f"every {args.extract_every} min (--extract-every)" if args.extract_every
                 else "the source registry's (sources.yml)")
    print(f"  extract schedules: {schedules}; `hub simulate --live` keeps the county moving", flush=True)
    print("  Ctrl-C or `hub down` stops it", flush=True)
    print(f"hub serve: {service.run_until_stopped(svc)}", flush=True)
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from govhub import embedded_pg, service

    stopped = service.stop()
    if stopped:
        print(f"Airflow service stopped: {', '.join(stopped)}")
    try:
        from govhub.sim import justice

        justice.stop_background(hub_home())
    except ImportError:
        pass
    print("embedded PostgreSQL stopped" if embedded_pg.stop() else "embedded PostgreSQL was not running")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from govhub.sim import runner

    if args.live:
        return _simulate_live(args.speed)
    if args.days:
        if args.dialect is not None:  # the dialect is drawn once, with the county; advancing keeps it
            raise SystemExit("--dialect applies when generating a county, not with --days")
        _print(runner.advance(args.days))
    else:
        rates = json.loads(args.rates) if args.rates else None
        _print(runner.generate(args.scale, args.seed, rates, reset=args.reset, dialect_seed=args.dialect))
    return 0


def _simulate_live(speed: float) -> int:
    """Advance the simulated county one day at a time, a simulated day every 86,400 / speed real seconds.

    Each step writes a whole simulated day into every department (registrations, incidents, follow-ups, the
    day's civil drop and petition export, justice changes), so the next scheduled extract of each feed finds it."""
    from govhub.sim import runner
    from govhub.sim.world import FUTURE_DAYS

    if speed <= 0:
        raise SystemExit("--speed must be positive (simulated seconds per real second)")
    state = runner.load_state()
    if state is None:
        raise SystemExit("no simulated county yet: `hub serve` or `hub demo` generates one "
                         "(or `hub simulate --scale small`)")
    interval = 86400 / speed
    left = FUTURE_DAYS - state.clock_days
    print(f"the county moves: one simulated day every {interval:.0f} s (speed {speed:g}); its simulated future "
          f"has {left} more days (about {left * interval / 60:.0f} min at this speed); Ctrl-C stops", flush=True)
    try:
        while True:
            time.sleep(interval)
            started = time.perf_counter()
            result = runner.advance(1)
            rows = sum(n for counts in result["written"].values() for n in counts.values()
                       if isinstance(n, int))
            print(f"{time.strftime('%H:%M:%S')} simulated clock {result['clock'][:16]}: {rows:,} new or changed "
                  f"source records across {len(result['written'])} departments "
                  f"({time.perf_counter() - started:.1f} s)", flush=True)
    except KeyboardInterrupt:
        print("stopped; the county keeps its clock (`hub simulate --days N` moves it on)")
        return 0
    except ValueError as exc:  # the simulated future has an end
        print(f"stopped: {exc}")
        return 0


def cmd_run(args: argparse.Namespace) -> int:
    from govhub import build_lock
    from govhub.console import PipelineView, internals_to_log, log_file
    from govhub.orchestrate import DagRunFailed, run_pipeline

    log = log_file("run")
    started = time.perf_counter()
    with internals_to_log(log, args.verbose) as out:
        if not args.verbose:
            out.print(f"Airflow, dbt and GX output: {log}  (-v shows it here)", highlight=False)
        holder = build_lock.holder()
        if holder:
            out.print(f"one warehouse build at a time: the build lock is held by {holder.describe()}; this run's "
                      "extracts go ahead, its build waits for the lock", highlight=False)
        try:
            with PipelineView(out, live=False if args.verbose else None) as view:
                run_pipeline(full_refresh=args.full_refresh, feeds=args.feed, strict=args.strict, view=view)
        except DagRunFailed:
            out.print(f"pipeline pass FAILED after {time.perf_counter() - started:.0f} s (above: what, why, fix; "
                      f"the whole story: {log})", style="bold red", highlight=False)
            print_attention(out)
            return 1
        out.print(f"pipeline pass done in {time.perf_counter() - started:.0f} s", highlight=False)
        print_attention(out)
    return 0


def print_attention(out) -> None:
    """What the last pass held, refused or read with a warning: one line per kind, `hub status` lists them."""
    from govhub.console import clip
    from govhub.quality.surprises import collect

    found = collect()
    kinds = [
        ("not loaded (last good data published)", "failing", lambda f, r: f"{f}.{r['object']}: {r['message'] or ''}"),
        ("held out of the warehouse (`hub release FEED`)", "held", lambda f, r: f"{f}.{r.get('object', '')}"),
        ("deliveries refused", "rejected", lambda f, r: f"{f} {r['drop_name']}: {r['reason']}"),
        ("schema drift", "drift", lambda f, r: f"{f}.{r['object']}.{r['column_name']} ({r['severity']})"),
        ("codes outside the contract (read as unknown)", "unknown_codes",
         lambda f, r: f"{f}.{r['column_name']}={r['raw_value']}"),
        ("impossible values read as empty", "invalid_values", lambda f, r: f"{f}.{r['field']} ×{r['records']}"),
        ("warehouse tests the departments' data tripped", "build_warnings", lambda f, r: f"{f}: {r['test']}"),
    ]
    lines = []
    for label, key, describe in kinds:
        items = [describe(f, r) for f, k in found.items() for r in k.get(key, [])]
        if items:
            lines.append(clip(f"  {label}: {len(items)} — " + "; ".join(items[:3]), max(60, out.width - 1)))
    if lines:
        out.print("Needs attention (`hub status` lists every item):", style="bold", highlight=False)
        for line in lines:
            out.print(line, highlight=False)


def _print_surprises() -> None:
    """What the last pass held, refused or read with a warning — and how to release it."""
    from govhub import db
    from govhub.quality.surprises import collect

    found = collect()
    if not found:
        return
    failing = [(f, r["object"], f"{r['since']:%Y-%m-%d %H:%M}", (r["message"] or "")[:160])
               for f, k in found.items() for r in k.get("failing", [])]
    rejected = [(f, r["drop_name"], r["reason"][:160]) for f, k in found.items() for r in k.get("rejected", [])]
    drift = [(f, r["object"], r["column_name"], r["severity"], r["actual"], r["detail"][:120])
             for f, k in found.items() for r in k.get("drift", [])]
    unknown = [(f, r["object"], r["column_name"], r["raw_value"], r["records"])
               for f, k in found.items() for r in k.get("unknown_codes", [])]
    invalid = [(f, r["object"], r["field"], r["records"]) for f, k in found.items() for r in k.get("invalid_values", [])]
    warned = [(f or "?", r["test"], r["observed"][:120]) for f, k in found.items() for r in k.get("build_warnings", [])]
    if failing:
        print("Not loaded (their last extract failed; the last good data is published; fix and `hub run` again):")
        print(db.format_table(["feed", "object", "since", "why / fix"], failing))
    if rejected:
        print("Deliveries refused (re-deliver with a corrected manifest under the same name):")
        print(db.format_table(["feed", "delivery", "why"], rejected))
    if drift:
        print("Schema drift (warning = read without loss; blocking = that object is not loaded):")
        print(db.format_table(["feed", "object", "column", "severity", "source type", "detail"], drift))
    if unknown:
        print("Codes outside the contract's lists (read as 'unknown'):")
        print(db.format_table(["feed", "object", "column", "value", "records"], unknown[:30]))
    if invalid:
        print("Impossible values read as empty (year 0, a date after its extraction, coordinates outside the county):")
        print(db.format_table(["feed", "object", "field", "records"], invalid[:30]))
    if warned:
        print("Warehouse tests the departments' data tripped (warnings):")
        print(db.format_table(["feed", "test", "observed"], warned[:30]))


def cmd_release(args: argparse.Namespace) -> int:
    from govhub.quality.feed_gate import release

    released = release(args.feed, batch_ids=args.batch, by=args.by, note=args.note)
    for batch_id, obj in released:
        print(f"released {args.feed}.{obj} batch {batch_id}")
    print(f"{len(released)} batch(es) of {args.feed} released: the next `hub run` builds them into the warehouse")
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    from govhub.pipeline import extract

    _print(extract(args.feed, interval=(args.start, args.end)))
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    from govhub import db

    columns, rows = db.query(args.query, database=args.database)
    print(db.format_table(columns, rows) if columns else "ok")
    return 0


def status_rows() -> dict[str, object]:
    from govhub import db
    from govhub.ops import ensure_setup

    ensure_setup(db.READER)
    with db.acting_as(db.READER):  # `hub status` reads ops bookkeeping as the reader role, never as the admin
        return _status_rows()


def _status_rows() -> dict[str, object]:
    from govhub import db

    _, feeds = db.query(
        """select distinct on (feed, object) feed, object, status, finished_at, received, loaded, quarantined, message
           from ops.batch order by feed, object, started_at desc""")
    _, publication = db.query(
        "select version, published_at, gate_success, message from ops.publication order by version desc limit 1")
    from govhub.quality.feed_gate import held_summary

    held = [(h["feed"], h["object"], h["batches"], h["held_since"], h["run_id"]) for h in held_summary()]
    _, gate = db.query(
        """select count(*) filter (where not success and blocking), count(*) filter (where not success and not blocking),
                  count(*) from ops.validation_result where run_id = (select run_id from ops.validation_result
                  order by validated_at desc limit 1)""")
    from govhub.build_lock import holder

    return {"feeds": feeds, "publication": publication, "gate": gate, "held": held, "build_lock": holder()}


def print_service_status() -> None:
    """One line: is `hub serve` up, and each Airflow component's health as its api-server reports it."""
    from govhub import service

    svc = service.running()
    if svc is None:
        print("Airflow service: not running (`hub serve` starts it)")
        return
    health = service.health(svc.port)
    if health is None:
        print(f"Airflow service: started ({svc.url}) but its api-server does not answer yet; logs in "
              f"{Path(svc.logs['api-server']).parent}")
        return
    up = all(v == "healthy" for v in health.values())
    print(f"Airflow service: {'up' if up else 'DEGRADED'} at {svc.url} — "
          + ", ".join(f"{k} {v}" for k, v in health.items()))


def cmd_status(args: argparse.Namespace) -> int:
    from govhub import db

    print_service_status()
    s = status_rows()
    print("Last batch per feed object:")
    print(db.format_table(["feed", "object", "status", "finished_at", "received", "loaded", "quarantined", "message"],
                          s["feeds"]))
    if s["held"]:
        print("Held out of the warehouse (failed a blocking feed check; `hub release FEED` takes them in):")
        print(db.format_table(["feed", "object", "batches", "held since", "feed gate run"], s["held"]))
    if s["gate"] and s["gate"][0][2]:
        blocking, warn, total = s["gate"][0]
        print(f"Last gate: {total} expectations, {blocking} blocking failures, {warn} warnings")
    if s["build_lock"]:
        print(f"Warehouse build running (one at a time; others wait): {s['build_lock'].describe()}")
    if s["publication"]:
        v, at, ok, msg = s["publication"][0]
        print(f"Last publication attempt: version {v} at {at}: {'published' if ok else 'BLOCKED'}"
              + (f" — {msg}" if msg and not ok else ""))
    else:
        print("Nothing published yet.")
    with db.acting_as(db.READER):
        _print_surprises()
    return 0


def _rates(text: str | None) -> dict[str, float] | None:
    """'other_valid=0.03,transposed=0.01' -> {'other_valid': 0.03, 'transposed': 0.01}"""
    if not text:
        return None
    return {k.strip(): float(v) for k, v in (part.split("=", 1) for part in text.split(",") if part.strip())}


def cmd_evaluate(args: argparse.Namespace) -> int:
    from govhub.evaluate import evaluate, holdout

    inject = _rates(args.inject_defects)
    if args.holdout_seeds:
        seeds = []
        for part in args.holdout_seeds.split(","):
            seed, _, dialect = part.strip().partition(":")
            seeds.append((int(seed), int(dialect) if dialect else None))
        report = holdout(seeds, scale=args.scale, inject=inject)
    else:
        report = evaluate(inject=inject, seed=args.inject_seed, baseline=not args.no_baseline)
    if args.out:  # the pipeline's logs share stdout with the report
        Path(args.out).write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    _print(report)
    from govhub.evaluate import address_style_lines

    # the per-address-style table, readable (the same numbers are in the JSON above, key "addresses")
    counties = report.values() if args.holdout_seeds else [report]
    for label, county in zip(report if args.holdout_seeds else ["this county"], counties, strict=True):
        lines = address_style_lines(county.get("addresses") or {})
        if lines:
            print(f"\naddresses of {label} by style (share with the true building / grid / any grid):")
            print("\n".join(lines))
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    """dbt docs generate against the warehouse; print where the static site is and how to serve it."""
    from govhub.transform import run_dbt, target_dir

    run_dbt(["docs", "generate"])
    index = target_dir() / "index.html"
    print(f"dbt docs: {index}")
    print(f"serve it with: python -m http.server 8081 --directory {index.parent}  (then open http://127.0.0.1:8081)")
    return 0 if index.exists() else 1


def cmd_report(args: argparse.Namespace) -> int:
    from govhub.quality.scorecard import PLUGIN_URL_PREFIX, build_scorecard, data_docs_dir

    started = time.perf_counter()
    path = build_scorecard()
    print(f"scorecard: {path} (built in {time.perf_counter() - started:.1f}s)")
    print(f"in the Airflow UI: {PLUGIN_URL_PREFIX}/ (plugin hub_quality; Data Docs at {PLUGIN_URL_PREFIX}/data-docs/)")
    if (data_docs_dir() / "index.html").exists():
        print(f"GX Data Docs: {data_docs_dir() / 'index.html'}")
    if args.open:
        import webbrowser

        webbrowser.open(path.as_uri())
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from govhub.console import PipelineView, internals_to_log, log_file
    from govhub.orchestrate import DagRunFailed, run_pipeline
    from govhub.sim import runner

    started = time.perf_counter()
    log = log_file("demo")
    with internals_to_log(log, args.verbose) as out:
        out.print(f"hub demo: a simulated {args.scale} county through Airflow -> dbt -> GX -> published", style="bold",
                  highlight=False)
        if not args.verbose:
            out.print(f"Airflow, dbt and GX output: {log}  (-v shows it here)", highlight=False)
        for line in _start_stack():
            out.print(line, highlight=False)
        sim = runner.generate(args.scale, args.seed)
        if sim["status"] == "exists":
            sim = runner.advance(1)  # a second demo run: one more simulated day, loaded incrementally
            out.print("county exists: advanced its clock one day (only new and changed rows are read)", highlight=False)
        else:
            out.print(f"generated the {args.scale} county: {sim['persons']:,} persons in {sim['seconds']} s",
                      highlight=False)
        try:
            with PipelineView(out, live=False if args.verbose else None) as view:
                run_pipeline(view=view)
        except DagRunFailed:
            out.print(f"demo FAILED after {time.perf_counter() - started:.0f} s (above: what, why, fix; the whole "
                      f"story: {log})", style="bold red", highlight=False)
            return 1
        print_summary(out, started)
    return 0


def print_summary(out, started: float) -> None:
    """The closing lines of `hub demo`: the published version, the gate, what needs attention, what next."""
    from govhub import db

    s = status_rows()
    if s["publication"]:
        version, _, ok, _ = s["publication"][0]
        _, tables = db.query("""select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
                                where n.nspname = 'published' and c.relkind = 'r' order by 1""")
        counts = [f"{t} {db.query(f'select count(*) from published.{chr(34)}{t}{chr(34)}')[1][0][0]:,}"
                  for (t,) in tables]
        out.print(f"published version {version}: " + " · ".join(counts), highlight=False)
    if s["gate"] and s["gate"][0][2]:
        blocking, warn, total = s["gate"][0]
        out.print(f"quality gate: {total} expectations, {blocking} blocking failure(s), {warn} warning(s); "
                  "scorecard: `hub report`", highlight=False)
    print_attention(out)
    out.print(f"Demo finished in {time.perf_counter() - started:.0f} s. Next: `.venv/bin/hub status`, "
              "`.venv/bin/hub sql \"select * from published.fct_event limit 5\"`, `.venv/bin/hub evaluate`.",
              highlight=False)


def cmd_bench(args: argparse.Namespace) -> int:
    from govhub.bench import format_results, run_bench

    if not args.verbose:  # as `hub run`: the bench prints its own progress; Airflow's info lines (a line per
        # batch, GX's registrations) would bury it. Read when Airflow is first imported, so set before.
        os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
        # and dbt's line per node (hundreds a pass) stays in $HUB_HOME/dbt/logs/dbt.log, not on the console
        os.environ.setdefault("DBT_LOG_LEVEL", "warn")
        os.environ.setdefault("DBT_LOG_LEVEL_FILE", "debug")  # (the file follows the console level unless set)
    results = run_bench(args.scale, rows=args.rows, generate_only=tuple(args.generate or ()), build=not args.no_build,
                        progress=lambda line: print(line, flush=True), reuse=args.reuse)
    print()
    print(format_results(results))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hub", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="start the embedded stack, simulate a county, run the whole pipeline")
    p.add_argument("--scale", default="small")
    p.add_argument("--seed", type=int, default=20261125)
    p.set_defaults(func=cmd_demo)
    sub.add_parser("up", help="start the embedded PostgreSQL (and simulated APIs); leave them running").set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop the Airflow service (if running) and the embedded stack").set_defaults(
        func=cmd_down)
    p = sub.add_parser("serve", help="run every Airflow component (UI, scheduler, dag-processor, triggerer) on the "
                       "hub's stack until Ctrl-C or `hub down`")
    p.add_argument("--port", type=int, default=8080, help="UI and API port on 127.0.0.1 (default 8080)")
    p.add_argument("--extract-every", type=int, metavar="MINUTES",
                   help="demo: run every extract every MINUTES minutes instead of its registry schedule "
                        "(sets HUB_EXTRACT_EVERY_MINUTES for the scheduler)")
    p.add_argument("--scale", default="small", choices=["tiny", "small", "county", "city"],
                   help="county generated when the embedded stack has none yet")
    p.add_argument("--paused", action="store_true",
                   help="DAGs new to the metadata database start paused (unpause in the UI what should run)")
    p.add_argument("--wait", type=float, default=300, help="seconds to wait for every component to be healthy")
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("run", help="one pipeline pass: extract DAGs, then the warehouse build")
    p.add_argument("--full-refresh", action="store_true", help="rebuild the warehouse from raw")
    p.add_argument("--feed", action="append", help="only these feeds' extracts (repeatable)")
    p.add_argument("--strict", action="store_true",
                   help="exit non-zero when any extract failed, even though the healthy feeds were published")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("backfill", help="re-read one interval of a sql feed: (--from, --to] in the feed's update-column format")
    p.add_argument("feed")
    p.add_argument("--from", dest="start", required=True)
    p.add_argument("--to", dest="end", required=True)
    p.set_defaults(func=cmd_backfill)
    p = sub.add_parser("release", help="take a feed's held batches (failed feed checks) into the next build")
    p.add_argument("feed")
    p.add_argument("--batch", action="append", help="only this batch id (repeatable); default: all held batches")
    p.add_argument("--by", help="who releases (default: the OS user)")
    p.add_argument("--note", help="why, e.g. 'department confirmed the IDs are right'")
    p.set_defaults(func=cmd_release)
    p = sub.add_parser("simulate", help="generate the simulated county, or advance its clock with --days N")
    p.add_argument("--scale", default="small", choices=["tiny", "small", "county", "city"])
    p.add_argument("--seed", type=int, default=20261125)
    p.add_argument("--days", type=int, default=0)
    p.add_argument("--live", action="store_true",
                   help="keep advancing the clock one day at a time until Ctrl-C (beside `hub serve`)")
    p.add_argument("--speed", type=float, default=1440,
                   help="with --live: simulated seconds per real second (default 1440: a day per minute)")
    p.add_argument("--rates", help='quirk rate overrides as JSON, e.g. \'{"id_legacy15": 0.1}\'')
    p.add_argument("--reset", action="store_true", help="replace an existing county")
    p.add_argument("--dialect", type=int, default=None, metavar="SEED",
                   help="draw the departments' readings of the contract's open choices (types, formats, layouts) "
                        "with this seed; without it the default reading")
    p.set_defaults(func=cmd_simulate)
    p = sub.add_parser("sql", help="run SQL against the warehouse and print a table")
    p.add_argument("query")
    p.add_argument("--database", default="warehouse")
    p.set_defaults(func=cmd_sql)
    sub.add_parser("status", help="last batch per feed, gate result, published version").set_defaults(func=cmd_status)
    p = sub.add_parser("evaluate", help="linkage (hub vs a plain Splink baseline) and grid assignment against the "
                       "simulator's truth, as JSON")
    p.add_argument("--inject-defects", metavar="KIND=RATE,...",
                   help="add ID defects to a copy of the records first (missing, wrong_check, transposed, substituted, "
                        "legacy15, lower_x, fullwidth, spaces, other_valid = someone else's valid number)")
    p.add_argument("--inject-seed", type=int, default=1)
    p.add_argument("--no-baseline", action="store_true", help="skip the baseline and the linkage re-run")
    p.add_argument("--holdout-seeds", metavar="SEED[:DIALECT],...",
                   help="generate each county (replacing this HUB_HOME's), run the pipeline, evaluate; e.g. 21:21,22:22")
    p.add_argument("--scale", default="small", choices=["tiny", "small", "county", "city"],
                   help="scale of the --holdout-seeds counties")
    p.add_argument("--out", metavar="FILE", help="also write the JSON report to FILE")
    p.set_defaults(func=cmd_evaluate)
    sub.add_parser("docs", help="generate the dbt docs site (models, columns, tests, lineage)").set_defaults(
        func=cmd_docs)
    p = sub.add_parser("report", help="(re)build the per-department data-quality scorecard and print where it is")
    p.add_argument("--open", action="store_true", help="also open it in a browser")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("bench", help="full and daily pass per stage (time, memory), loader vs bare COPY, gate vs dbt")
    p.add_argument("--scale", default="small", choices=["tiny", "small", "county", "city"],
                   help="county generated, run through a full and a daily pass (REPLACES the simulated county and the "
                        "warehouse of HUB_HOME: give the bench its own HUB_HOME)")
    p.add_argument("--rows", type=int, default=200_000,
                   help="rows for the raw load comparison (default 200,000: RK_CZRK rows topped up with synthetic ones)")
    p.add_argument("--generate", action="append", choices=["tiny", "small", "county", "city"],
                   help="then also generate this scale and run its full and daily pass (repeatable), e.g. --generate city")
    p.add_argument("--no-build", action="store_true", help="generation and raw load only: no pipeline passes")
    p.add_argument("--reuse", action="store_true",
                   help="run the passes on the county this HUB_HOME already generated at --scale (no generation: "
                        "after a pass stopped by the hub's own fault, a city's 7 minutes of generation are kept)")
    p.set_defaults(func=cmd_bench)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except Exception as exc:  # one clear line for the user; the traceback with -v
        if args.verbose:
            raise
        print(f"hub {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
