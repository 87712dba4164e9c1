"""Per-feed quality gate: each department's contract as a GX suite, run as SQL inside PostgreSQL.

Suites live in ``expectations/suites/feeds.yml`` (reviewable config; its header documents which checks block
and which only warn). They validate the *new* rows of each feed — the raw rows of the batches that arrived
since the last successful publication — plus two per-feed checks from ``ops.batch``: volume against the
previous batches and freshness.

It runs *before* dbt builds. Decision per feed: ``failed`` (a blocking expectation failed), ``warn`` (only
warn-level ones failed) or ``passed``. A failed feed does not block the other departments: the gate records it
in ``ops.feed_gate`` and ``ops.validation_result`` (severity, feed, object, column, the observed rate in words —
never a value) and *holds* the new batches of each failing object in ``ops.batch_hold``. Staging reads around
held batches (dbt macros ``latest_version`` and ``civil_changes``), so the warehouse keeps those records as
they were before the bad batch while every other feed moves on; the publication names what is held. Raw keeps
the held rows untouched; ``hub release FEED`` (:func:`release`) takes them in on the next build — after the
department confirmed them, or once a corrected batch superseded them. (A row re-sent *unchanged* makes no new
raw version — raw dedupes on the row hash — so it stays held until released.) Only the published-mart suites
(:mod:`govhub.quality.gate`) block publication.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from govhub import db
from govhub.extract.registry import Feed, load_registry
from govhub.freshness import GRACE, last_arrivals
from govhub.freshness import check as check_freshness
from govhub.ops import ensure_ops, ensure_setup
from govhub.quality.gate import RESULT_FORMAT, SUITES_DIR, _redact, quote_ident, without_progress_bars
from govhub.quality.gate import raised as _raised
from govhub.settings import WAREHOUSE_DB

log = logging.getLogger(__name__)
FEEDS_SUITE = SUITES_DIR / "feeds.yml"
SCRATCH_PREFIX = "feed_gate_"  # + a digest of the run id: unlogged per-run copies of the new rows, dropped after
LOCAL_TZ = ZoneInfo("Asia/Shanghai")  # the contract: every naive timestamp is Asia/Shanghai
USABLE_ID = ["valid", "repaired"]  # util.hub_id_status: what staging can use (repaired = legacy 15, spaces, x ...)
# New batches: succeeded since the last successful publication and never judged by an earlier hold (a held or
# released batch was judged; it is not validated again)
# The batches a feed gate run checks: every loaded batch no run has checked yet, whenever it committed — an
# extract that commits while a build runs is checked by the next run, never skipped. The rule is ops.excluded_batch's
# (govhub.ops), the same one staging reads around until the check.
NEW_BATCHES = "select batch_id from ops.excluded_batch as b where why = 'not checked yet'"
# The checked batches a publication would newly carry: checked since the last successful publication, not held.
CHECKED_SINCE_PUBLICATION = """select c.batch_id from ops.batch_check as c
  where c.checked_at > coalesce((select max(published_at) from ops.publication where gate_success), '-infinity')
  and not exists (select from ops.held_batch as h where h.batch_id = c.batch_id)"""
PENDING = NEW_BATCHES + " and feed = {feed} and object = {obj}"


class FeedGateError(RuntimeError):
    """The feed gate itself failed (a scratch table gone, a query or GX error): the hub's error, not a department's.
    Nothing is held and no verdict is recorded; the run fails and says so."""


def scratch_schema(run_id: str) -> str:
    """The run's own scratch schema: concurrent or crashed runs never read each other's copies."""
    import hashlib

    return SCRATCH_PREFIX + hashlib.sha1(run_id.encode()).hexdigest()[:16]


def drop_stale_scratch(run_id: str) -> list[str]:
    """Drop the scratch schemas of other runs (crashed ones: a finished run drops its own). Only the holder of
    the warehouse build lock runs a feed gate, so while it holds it every other scratch schema is a leftover;
    without the lock (a direct call, a test) nothing is dropped. Returns the schemas dropped."""
    from govhub import build_lock

    if not build_lock.holds_lock(run_id):
        return []
    mine = scratch_schema(run_id)
    import psycopg

    with db.connect(autocommit=True) as conn:
        stale = [r[0] for r in conn.execute(
            "select nspname from pg_namespace where (starts_with(nspname, %s) or nspname = 'feed_gate') "
            "and nspname <> %s", (SCRATCH_PREFIX, mine))]
        for schema in stale:
            try:
                conn.execute(f"drop schema if exists {quote_ident(schema)} cascade")
            except psycopg.errors.InsufficientPrivilege:  # left by a version that ran the gate as the admin
                log.warning("feed gate %s: scratch schema %s is not the gate role's; drop it as the admin", run_id,
                            schema)
    if stale:
        log.warning("feed gate %s: dropped the scratch state of crashed runs: %s", run_id, ", ".join(stale))
    return stale


@dataclass
class FeedOutcome:
    feed: str
    object: str | None
    table: str
    expectation: str
    column: str | None
    blocking: bool
    success: bool
    observed: str

    @property
    def severity(self) -> str:
        return "blocking" if self.blocking else "warn"

    def line(self) -> str:
        where = f"feed {self.feed}" + (f", object {self.object}" if self.object else "")
        where += f", column {self.column}" if self.column else ""
        return f"[{self.severity}] {where}: {self.expectation}: {self.observed}"


@dataclass
class FeedVerdict:
    feed: str
    status: str  # passed / warn / failed
    batches: list[str] = field(default_factory=list)
    outcomes: list[FeedOutcome] = field(default_factory=list)
    held: list[str] = field(default_factory=list)  # the batches held out of the warehouse (ops.batch_hold)

    @property
    def failures(self) -> list[FeedOutcome]:
        return [o for o in self.outcomes if not o.success]


@dataclass
class FeedGateReport:
    run_id: str
    verdicts: dict[str, FeedVerdict]

    @property
    def failed(self) -> list[str]:
        return [f for f, v in self.verdicts.items() if v.status == "failed"]

    @property
    def warned(self) -> list[str]:
        return [f for f, v in self.verdicts.items() if v.status == "warn"]



def held_summary(conn: Any | None = None) -> list[dict[str, Any]]:
    """What is held now, per feed and object: batches, held since, the feed gate run, the reasons in words.
    The one reading of ops.held_batch behind the publication message, `hub status` and the scorecard."""
    query = """select feed, object, count(*) as batches, min(held_at) as held_since, max(run_id) as run_id,
                      string_agg(distinct reason, E'\n') as reason
               from ops.held_batch group by feed, object order by feed, object"""
    if conn is None:
        columns, rows = db.query(query)
    else:
        cur = conn.execute(query)
        columns, rows = [d.name for d in cur.description], cur.fetchall()
    return [dict(zip(columns, r, strict=True)) for r in rows]


def held_message() -> str | None:
    """What a publication carries while batches are held: which feeds and objects, since when, and why."""
    held = held_summary()
    if not held:
        return None
    feeds = sorted({h["feed"] for h in held})
    lines = [f"published without the held batches of {', '.join(feeds)} (a blocking feed-level check failed; "
             "the other feeds are unaffected; `hub release FEED` takes them in):"]
    for h in held:
        lines.append(f"  {h['feed']}.{h['object']}: {h['batches']} batch(es) held since "
                     f"{h['held_since']:%Y-%m-%d %H:%M %Z} (feed gate run {h['run_id']})")
        lines += ["    " + line for line in h["reason"].splitlines()]
    return "\n".join(lines)


def release(feed: str, batch_ids: list[str] | None = None, by: str | None = None,
            note: str | None = None) -> list[tuple[str, str]]:
    """Release a feed's held batches (all of them, or ``batch_ids``): the next build takes their rows in.
    Returns (batch_id, object) of what was released; raises ValueError when nothing matched."""
    import getpass

    with db.connect() as conn:
        ensure_ops(conn)
        rows = conn.execute(
            """update ops.batch_hold set released_at = now(), released_by = %s, release_note = %s
               where feed = %s and released_at is null and (%s::text[] is null or batch_id = any(%s::text[]))
               returning batch_id, object""",
            (by or getpass.getuser(), note, feed, batch_ids, batch_ids)).fetchall()
    if not rows:
        held = held_summary()
        raise ValueError(f"nothing to release for feed {feed}" + (f" (batches {batch_ids})" if batch_ids else "")
                         + "; held now: " + (", ".join(f"{h['feed']}.{h['object']} ({h['batches']})" for h in held)
                                             or "none"))
    log.info("released %d held batch(es) of %s: %s", len(rows), feed, ", ".join(r[0] for r in rows))
    return sorted(rows)


def load_feed_suites(path: Path = FEEDS_SUITE) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _day(spec: str, today: dt.date) -> str:
    """'YYYY-MM-DD', 'today' or 'today+N' / 'today-N' -> 'YYYYMMDD'."""
    spec = str(spec)
    if spec.startswith("today"):
        offset = int(spec[5:] or 0)
        return f"{today + dt.timedelta(days=offset):%Y%m%d}"
    return spec.replace("-", "")


def _date_key(col: str) -> str:
    """YYYYMMDD of a text date, read by the same rule as staging (util.hub_date: ISO, YYYY/M/D, YYYYMMDD,
    YYYY年M月D日, full-width digits, Excel serial days, timestamps); null when unparseable. One rule for both,
    so a department's date format the warehouse reads is never called invalid by the gate."""
    return f"to_char(util.hub_date({quote_ident(col)}), 'YYYYMMDD')"


def _present(col: str) -> str:
    return f"nullif(btrim({quote_ident(col)}), '')"


@dataclass
class _Planned:
    feed: str
    object: str | None
    asset: str  # key of the query asset
    expectation: Any
    words: dict[str, Any]


class _Plan:
    def __init__(self) -> None:
        self.queries: dict[str, str] = {}
        self.items: list[_Planned] = []
        self.tables: dict[str, str] = {}


def _merge(defaults: dict[str, Any], *specs: dict[str, Any] | None) -> dict[str, Any]:
    out = dict(defaults)
    for s in specs:
        out.update(s or {})
    return out


def plan(run_at: dt.datetime | None = None,
         suites: dict[str, Any] | None = None) -> tuple[_Plan, dict[str, dict[str, list[str]]]]:
    """Build the GX expectations and the SQL of each asset; returns the plan and the new batches per feed and
    object."""
    suites = suites or load_feed_suites()
    defaults = suites.get("defaults", {})
    registry = load_registry()
    today = (run_at or dt.datetime.now(dt.UTC)).astimezone(LOCAL_TZ).date()
    with db.connect() as conn:
        ensure_ops(conn)
        pending_rows = conn.execute(
            f"select feed, object, batch_id, received from ops.batch where batch_id in ({NEW_BATCHES})").fetchall()
        last_ok = last_arrivals(conn)
    pending: dict[str, dict[str, list[str]]] = {}
    received: dict[tuple[str, str], int] = {}
    for feed_name, obj, batch_id, rec in pending_rows:
        pending.setdefault(feed_name, {}).setdefault(obj, []).append(batch_id)
        received[(feed_name, obj)] = received.get((feed_name, obj), 0) + (rec or 0)
    p = _Plan()
    for feed_name, fspec in (suites.get("feeds") or {}).items():
        if feed_name not in registry:
            log.warning("feeds.yml: feed %s is not in sources.yml; skipped", feed_name)
            continue
        feed = registry[feed_name]
        _plan_freshness(p, feed, _merge(defaults.get("freshness", {}), fspec.get("freshness")), last_ok.get(feed_name),
                        run_at)
        for obj_name, ospec in (fspec.get("objects") or {}).items():
            if obj_name not in feed.objects:
                log.warning("feeds.yml: object %s.%s is not in sources.yml; skipped", feed_name, obj_name)
                continue
            if (feed_name, obj_name) not in received:
                continue  # no new batch of this object since the last publication
            _plan_volume(p, feed, obj_name, _merge(defaults.get("volume", {}), fspec.get("volume"), ospec.get("volume")),
                         received[(feed_name, obj_name)], [b for bs in pending.get(feed_name, {}).values() for b in bs])
            rows = _new_rows(feed, obj_name)
            if rows:
                _plan_rows(p, feed, obj_name, ospec or {}, defaults, today, rows)
    for n, item in enumerate(p.items):  # results are matched back to their plan item by this id
        item.expectation.meta["id"] = n
    return p, pending


def _plan_freshness(p: _Plan, feed: Feed, spec: dict[str, Any], last_arrival: dt.datetime | None,
                    run_at: dt.datetime | None) -> None:
    """Late by govhub.freshness (the registry's schedule): hours since the last batch <= hours from it to the
    next scheduled run plus the grace; feeds.yml says only whether that blocks."""
    import great_expectations as gx

    fresh = check_freshness(feed, last_arrival, run_at)
    limit = fresh.limit_hours if fresh.limit_hours is not None else 0.0
    key = f"{feed.name}.freshness"
    p.queries[key] = (f"select coalesce(extract(epoch from now() - max(finished_at)) / 3600.0, 1e9)::float8 "
                      f"as hours_since_last_batch from ops.batch where feed = {_lit(feed.name)} and status = 'succeeded'")
    p.tables[key] = "ops.batch"
    p.items.append(_Planned(feed.name, None, key, gx.expectations.ExpectColumnValuesToBeBetween(
        column="hours_since_last_batch", max_value=limit,
        meta={"name": f"freshness: no run of schedule {feed.schedule} missed (+{GRACE.seconds // 60} min grace)",
              "blocking": bool(spec.get("blocking"))}),
        {"kind": "freshness", "hours": fresh.age_hours, "limit": limit, "deadline": fresh.deadline}))


def _plan_volume(p: _Plan, feed: Feed, obj: str, spec: dict[str, Any], now_received: int, pending: list[str]) -> None:
    import great_expectations as gx

    with db.connect() as conn:
        usual, history = conn.execute(
            """select percentile_cont(0.5) within group (order by received), count(*) from (
                 select received from ops.batch as b where feed = %s and object = %s and status = 'succeeded'
                 and not (batch_id = any(%s)) and not exists (select from ops.held_batch as h where h.batch_id = b.batch_id)
                 order by started_at desc limit %s) as p""",
            (feed.name, obj, pending, int(spec["lookback"]))).fetchone()
    if history < int(spec["min_history"]) or not usual:
        return  # not enough history to know what is usual
    ratio = float(spec["min_ratio"])
    key = f"{feed.name}.{obj}.volume"
    p.queries[key] = ("select coalesce(sum(received), 0)::bigint as received from ops.batch where batch_id in ("
                      + PENDING.format(feed=_lit(feed.name), obj=_lit(obj)) + ")")
    p.tables[key] = "ops.batch"
    p.items.append(_Planned(feed.name, obj, key, gx.expectations.ExpectColumnValuesToBeBetween(
        column="received", min_value=ratio * float(usual), strict_min=True,
        meta={"name": f"volume above {ratio:.0%} of the usual batch", "blocking": bool(spec.get("blocking"))}),
        {"kind": "volume", "received": now_received, "usual": float(usual), "history": history, "ratio": ratio}))


def _new_rows(feed: Feed, obj: str) -> int:
    """New raw rows (source versions) of the object's pending batches."""
    table = feed.raw_table(feed.objects[obj])
    with db.connect() as conn:
        if conn.execute("select to_regclass(%s)", (f'raw."{table}"',)).fetchone()[0] is None:
            return 0
        return conn.execute(f"select count(*) from raw.{quote_ident(table)} where _batch_id in ("
                            + PENDING.format(feed=_lit(feed.name), obj=_lit(obj)) + ")").fetchone()[0]


def _plan_rows(p: _Plan, feed: Feed, obj: str, ospec: dict[str, Any], defaults: dict[str, Any], today: dt.date,
               rows: int) -> None:
    import great_expectations as gx

    # a rate over a handful of rows is noise: below min_rows_to_block new rows, rate checks only warn
    rates_may_block = rows >= int(defaults.get("min_rows_to_block", 50))
    fobj = feed.objects[obj]
    table = feed.raw_table(fobj)
    key = f"{feed.name}.{obj}.rows"
    derived: list[str] = []
    items: list[_Planned] = []

    def add(expectation_cls, column: str | None, name: str, blocking: bool, words: dict[str, Any], **kwargs) -> None:
        if column and not rates_may_block and blocking:
            blocking, name = False, f"{name} (warn only: {rows} new rows)"
        meta = {"name": name, "blocking": blocking}
        exp = expectation_cls(**({"column": column} if column else {}), **kwargs, meta=meta)
        items.append(_Planned(feed.name, obj, key, exp, words))

    expected_columns = [c.lower() for c in fobj.columns]
    add(gx.expectations.ExpectTableColumnsToMatchSet, None, "every contract column present", True,
        {"kind": "columns", "expected": expected_columns}, column_set=expected_columns, exact_match=False)
    for col, spec in (ospec.get("id_numbers") or {}).items():
        s = _merge(defaults.get("id_numbers", {}), spec)
        c = col.lower()
        derived.append(f"case when {_present(c)} is null then null else util.hub_id_status({quote_ident(c)}) end "
                       f"as {quote_ident(c + '__id_status')}")
        add(gx.expectations.ExpectColumnValuesToBeInSet, c + "__id_status",
            f"ID numbers valid or repairable >= {s['min_valid']:.0%}", bool(s["blocking"]),
            {"kind": "id_numbers", "source_column": col, "mostly": float(s["min_valid"])},
            value_set=USABLE_ID, mostly=float(s["min_valid"]))
    for col, spec in (ospec.get("not_null") or {}).items():
        s = _merge(defaults.get("not_null", {}), spec)
        c = col.lower()
        derived.append(f"case when {_present(c)} is null then null else 1 end as {quote_ident(c + '__present')}")
        add(gx.expectations.ExpectColumnValuesToNotBeNull, c + "__present", f"present in >= {s['mostly']:.0%} of rows",
            bool(s["blocking"]), {"kind": "not_null", "source_column": col, "mostly": float(s["mostly"])},
            mostly=float(s["mostly"]))
    for col, values in (ospec.get("codes") or {}).items():
        s = _merge(defaults.get("codes", {}), values if isinstance(values, dict) else {"values": values})
        add(gx.expectations.ExpectColumnValuesToBeInSet, col.lower(), "code within the contract's dictionary",
            bool(s["blocking"]), {"kind": "codes", "source_column": col, "mostly": float(s["mostly"])},
            value_set=[str(v) for v in s["values"]], mostly=float(s["mostly"]))
    for col, spec in (ospec.get("dates") or {}).items():
        s = _merge(defaults.get("dates", {}), spec)
        c = col.lower()
        lo, hi = _day(s["min"], today), _day(s["max"], today)
        derived.append(f"case when {_present(c)} is null then null when {_date_key(c)} between {_lit(lo)} and {_lit(hi)} "
                       f"then 'in_range' else 'out_of_range' end as {quote_ident(c + '__date')}")
        add(gx.expectations.ExpectColumnValuesToBeInSet, c + "__date", f"date in {s['min']}..{s['max']}",
            bool(s["blocking"]), {"kind": "dates", "source_column": col, "mostly": float(s["mostly"]),
                                  "range": f"{lo}..{hi}"},
            value_set=["in_range"], mostly=float(s["mostly"]))
    for col, regex in (ospec.get("formats") or {}).items():
        s = _merge(defaults.get("formats", {}), regex if isinstance(regex, dict) else {"regex": regex})
        add(gx.expectations.ExpectColumnValuesToMatchRegex, col.lower(), "value in the contract's format",
            bool(s["blocking"]), {"kind": "formats", "source_column": col, "mostly": float(s["mostly"])},
            regex=s["regex"], mostly=float(s["mostly"]))
    p.queries[key] = (f"select t.*{''.join(', ' + d for d in derived)} from raw.{quote_ident(table)} as t "
                      f"where t._batch_id in ({PENDING.format(feed=_lit(feed.name), obj=_lit(obj))})")
    p.tables[key] = f"raw.{table}"
    p.items += items


def _pct(n: int, d: int) -> str:
    return f"{100.0 * n / d:.1f}%" if d else "n/a"


def _words(item: _Planned, result: Any) -> str:
    """What was observed, in words and numbers; never a value of the data."""
    w = item.words
    res = result.result or {}
    if result.exception_info and result.exception_info.get("raised_exception"):
        return _redact("error: " + str(result.exception_info.get("exception_message"))[:300])
    kind = w["kind"]
    if kind == "freshness":
        hours = w["hours"]
        return ("no successful batch ever" if hours is None else f"last successful batch {hours:.1f} h ago") + \
            (f" (late after {w['limit']:g} h: {w['deadline']})" if w.get("deadline") else "")
    if kind == "volume":
        return (f"received {w['received']:,} rows in the new batch(es); usual {w['usual']:,.0f} "
                f"(median of the last {w['history']} batches); alarm at or below {w['ratio']:.0%} "
                f"= {w['ratio'] * w['usual']:,.0f}")
    if kind == "columns":
        observed = [str(c).strip('"') for c in (res.get("observed_value") or [])]
        missing = sorted(set(w["expected"]) - set(observed))
        return f"missing column(s) {missing}" if missing else f"all {len(w['expected'])} contract columns present"
    total = int(res.get("element_count") or 0)
    missing = int(res.get("missing_count") or 0)
    unexpected = int(res.get("unexpected_count") or 0)
    allowed = f"at most {100 * (1 - w['mostly']):.0f}% allowed" if w["mostly"] < 1 else "none allowed"
    if kind == "not_null":
        return f"{unexpected:,} of {total:,} rows without a value ({_pct(unexpected, total)}); {allowed}"
    given = total - missing
    what = {"id_numbers": "ID numbers invalid (not valid or repairable)",
            "codes": "values outside the dictionary",
            "dates": f"dates outside {w.get('range')} or unparseable",
            "formats": "values not in the expected format"}[kind]
    return f"{unexpected:,} of {given:,} {what} ({_pct(unexpected, given)}); {allowed}"


def run_feed_gate(run_id: str, suites: dict[str, Any] | None = None) -> FeedGateReport:
    """Validate every feed's new batches; record outcomes and verdicts; never raises for a failed feed.
    Runs as the gate's role (govhub.roles): it reads raw and ops and writes only its results and holds."""
    ensure_setup(db.GATE)
    with db.acting_as(db.GATE):
        return _run_feed_gate(run_id, suites)


def _run_feed_gate(run_id: str, suites: dict[str, Any] | None = None) -> FeedGateReport:
    import great_expectations as gx

    started = time.perf_counter()
    drop_stale_scratch(run_id)
    schema = scratch_schema(run_id)
    try:
        p, pending = plan(suites=suites)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # ephemeral: GX's runtime state (data source, assets, suites, results) lives in this process only,
            # and the feed gate renders no Data Docs, so concurrent runs share no GX state
            context = without_progress_bars(gx.get_context(mode="ephemeral"))
            url = db.role_address(db.GATE).url(WAREHOUSE_DB, driver="postgresql+psycopg")
            datasource = context.data_sources.add_or_update_sql(name="warehouse_feeds", connection_string=url)
        by_asset: dict[str, list[_Planned]] = {}
        for item in p.items:
            by_asset.setdefault(item.asset, []).append(item)
        try:
            scratch = _materialise(p, [k for k in by_asset if k.endswith(".rows")], schema)
            outcomes = _validate(context, datasource, p, by_asset, scratch)
        finally:
            with db.connect() as conn:
                conn.execute(f"drop schema if exists {schema} cascade")  # copies of raw values: never left behind
    except FeedGateError as exc:
        raise FeedGateError(_internal(run_id, str(exc))) from exc
    except Exception as exc:
        raise FeedGateError(_internal(run_id, f"{type(exc).__name__}: {exc}")) from exc
    verdicts: dict[str, FeedVerdict] = {}
    for name in (suites or load_feed_suites()).get("feeds", {}):
        mine = [o for o in outcomes if o.feed == name]
        status = ("failed" if any(o.blocking and not o.success for o in mine)
                  else "warn" if any(not o.success for o in mine) else "passed")
        by_object = pending.get(name, {})
        verdicts[name] = FeedVerdict(name, status, sorted(b for bs in by_object.values() for b in bs), mine)
        failed_objects = {o.object for o in mine if o.blocking and not o.success}
        # a failed object's new batches are held; a feed-level failure (no object) holds all of the feed's
        verdicts[name].held = sorted(b for obj, bs in by_object.items() for b in bs
                                     if obj in failed_objects or None in failed_objects)
    _record(run_id, outcomes, verdicts, sorted(b for objects in pending.values() for bs in objects.values() for b in bs))
    report = FeedGateReport(run_id, verdicts)
    for name in report.failed:
        log.warning("feed %s FAILED its blocking checks; %d batch(es) held out of the warehouse until "
                    "`hub release %s`:\n  %s", name, len(verdicts[name].held), name,
                    "\n  ".join(o.line() for o in verdicts[name].failures if o.blocking))
    log.info("feed gate %s: %d expectations over %d assets in %.1fs; failed feeds %s, warnings %s", run_id,
             len(outcomes), len(by_asset), time.perf_counter() - started, report.failed or "none",
             report.warned or "none")
    return report


def _internal(run_id: str, what: str) -> str:
    return (f"feed gate {run_id} failed inside the hub, not on a department's data: {_redact(what)[:1000]}. "
            "Nothing was held and no verdict recorded; fix the hub and run again")


def _materialise(p: _Plan, keys: list[str], schema: str) -> dict[str, str]:
    """New rows with their derived columns (ID status, date check ...) computed once, in an unlogged scratch
    table per object: every GX metric then reads a plain table instead of re-evaluating the derivations."""
    scratch: dict[str, str] = {}
    with db.connect() as conn:
        # serial on purpose: a county run once reported every ID 'invalid_date' under parallel plans (when
        # util.hub_id_birth_ok still used an exception block, which cannot run in a parallel worker); the
        # function is pure SQL now and the failure was not reproduced, but the scratch copy is cheap serially
        conn.execute("set local max_parallel_workers_per_gather = 0")
        conn.execute(f"drop schema if exists {schema} cascade")
        conn.execute(f"create schema {schema}")
        for n, key in enumerate(keys):
            table = f"{schema}.t{n}"
            conn.execute(f"create unlogged table {table} as {p.queries[key]}")
            scratch[key] = f"select * from {table}"
    return scratch


def _validate(context: Any, datasource: Any, p: _Plan, by_asset: dict[str, list[_Planned]],
              scratch: dict[str, str]) -> list[FeedOutcome]:
    import great_expectations as gx

    validations = []
    for key, items in by_asset.items():
        asset = datasource.add_query_asset(name=key, query=scratch.get(key, p.queries[key]))
        batch_def = asset.add_batch_definition_whole_table("all")
        suite = context.suites.add(gx.ExpectationSuite(name=f"feeds.{key}", expectations=[i.expectation for i in items]))
        validations.append(context.validation_definitions.add(
            gx.ValidationDefinition(name=f"feed_gate.{key}", data=batch_def, suite=suite)))
    outcomes: list[FeedOutcome] = []
    planned = sum(len(items) for items in by_asset.values())
    if validations:
        checkpoint = context.checkpoints.add(gx.Checkpoint(
            name="feed_gate", validation_definitions=validations, result_format=RESULT_FORMAT))
        result = checkpoint.run()
        for validation in result.run_results.values():
            key = validation.suite_name.removeprefix("feeds.")
            items = by_asset[key]
            results = [(r, next(i for i in items if i.expectation.meta["id"] == (r.expectation_config.meta or {})
                                .get("id"))) for r in validation.results]
            missing = _missing_columns(results)
            for r, item in results:
                meta = r.expectation_config.meta or {}
                # an expectation GX could not compute, or a copy without columns, is the gate's own failure:
                # never a verdict on the department (a vanished scratch table once read as "every column missing").
                # Only a check on a contract column the raw table lacks fails on the feed, as before.
                error = _raised(r)
                if error is not None and str(item.words.get("source_column", "")).lower() not in missing:
                    raise FeedGateError(f"{key}, {meta.get('name', '')}: {error}")
                outcomes.append(FeedOutcome(
                    feed=item.feed, object=item.object, table=p.tables[key], expectation=meta.get("name", ""),
                    column=item.words.get("source_column"), blocking=bool(meta.get("blocking")),
                    success=bool(r.success), observed=_words(item, r)))
    if len(outcomes) != planned:
        raise FeedGateError(f"GX returned {len(outcomes)} results for {planned} planned expectations")
    return outcomes


def _missing_columns(results: list[tuple[Any, _Planned]]) -> set[str]:
    """Contract columns the copy lacks (from the 'every contract column present' check); a copy with no columns at
    all is no department's doing: it raises FeedGateError."""
    for r, item in results:
        if item.words["kind"] != "columns" or _raised(r):
            continue
        observed = {str(c).strip('"') for c in ((r.result or {}).get("observed_value") or [])}
        if not observed:
            raise FeedGateError(f"no columns observed in the copy of {item.asset} (scratch table gone?)")
        return set(item.words["expected"]) - observed
    return set()


def _record(run_id: str, outcomes: list[FeedOutcome], verdicts: dict[str, FeedVerdict], checked: list[str]) -> None:
    """Outcomes, verdicts, holds, and every batch this run checked (``checked``: of every feed, with a suite or
    not), in one transaction: a batch is admitted to the warehouse exactly when its verdict is recorded."""
    # inserts, not COPY: the gate's role writes under the officers' row-level security, which COPY FROM refuses
    with db.connect() as conn, conn.cursor() as cur:
        cur.executemany("insert into ops.batch_check (batch_id, run_id) values (%s, %s) on conflict (batch_id) do nothing",
                        [(b, run_id) for b in checked])
        cur.executemany(
            """insert into ops.validation_result (run_id, suite, table_name, expectation, column_name, blocking,
                   success, observed, feed, object) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            [(run_id, f"feeds.{o.feed}" + (f".{o.object}" if o.object else ""), o.table, o.expectation, o.column,
              o.blocking, o.success, o.observed, o.feed, o.object) for o in outcomes])
        cur.executemany("insert into ops.feed_gate (run_id, feed, status, batches, message) values (%s, %s, %s, %s, %s)",
                        [(run_id, v.feed, v.status, v.batches, "\n".join(o.line() for o in v.failures) or None)
                         for v in verdicts.values()])
        for v in verdicts.values():
            if v.held:
                reason = "\n".join(o.line() for o in v.failures if o.blocking)
                conn.execute(
                    """insert into ops.batch_hold (batch_id, feed, object, run_id, reason)
                       select batch_id, feed, object, %s, %s from ops.batch where batch_id = any(%s)
                       on conflict (batch_id) do nothing""", (run_id, reason, v.held))
