"""The publication gate: GX checkpoints over the `audit` schema, run as SQL inside PostgreSQL.

Suites come from ``expectations/suites/*.yml`` (reviewable config). Results land in
``ops.validation_result``; a failed *blocking* expectation raises ``GateFailed`` naming the suite, table,
expectation and observed value — which fails the Airflow task, so `published` is never swapped.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from govhub import db
from govhub.settings import REPO_ROOT, WAREHOUSE_DB, hub_home

log = logging.getLogger(__name__)
SUITES_DIR = REPO_ROOT / "expectations" / "suites"


def gx_root() -> Path:
    """GX's file context (data source, validation results, Data Docs): state of this hub, so under HUB_HOME; the
    suites it runs stay reviewable config in the checkout (SUITES_DIR)."""
    return hub_home() / "gx"


# A clear resident ID number anywhere in a published text column is a privacy breach.
# 18-character form with a plausible birth date, not glued to other letters/digits (so hashes and the
# 15-digit grid codes do not trip it). Legacy 15-digit IDs never reach `published`: staging expands them.
ID_NUMBER_REGEX = (r"(^|[^0-9A-Za-z])[1-9][0-9]{5}(18|19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])"
                   r"[0-9]{3}[0-9Xx]($|[^0-9A-Za-z])")
# Results carry counts, never values: Data Docs must not render ID numbers, names or diagnoses.
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 0, "include_unexpected_rows": False}
KEEP_RUNS = 30  # validation results (and Data Docs pages) kept per suite, as the scorecard's 30-batch trend
GATE_URL_ENV = "HUB_GX_GATE_URL"  # the environment variable GX's stored data source refers to
# The gate reads PostgreSQL through GX's generic SQL data source on purpose (add_postgres refuses a socket-only
# URL, see _run_gate); GX says so on every run ("a more specific PostgresDatasource may be more appropriate"),
# three lines in the middle of a pass's console for nothing anyone should act on.
warnings.filterwarnings("ignore", message="You are using a generic SQLDatasource")


class GateFailed(RuntimeError):
    """A blocking expectation failed; ``failed`` holds those outcomes (table, expectation, observed)."""

    def __init__(self, message: str, failed: list[ExpectationOutcome] | None = None):
        super().__init__(message)
        self.failed = failed or []


class GateError(RuntimeError):
    """The gate itself failed (a query or GX error, a table it cannot read): the hub's error, never a verdict on a
    department's data — no feed is held for it and `published` is left unchanged."""


def raised(result: Any) -> str | None:
    """The exception GX caught while computing an expectation (its metrics), if any. GX reports it either as one
    dict or as a dict per failed metric."""
    info = getattr(result, "exception_info", None) or {}
    infos = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    for i in infos:
        if i.get("raised_exception"):
            return str(i.get("exception_message") or "an exception without a message")
    return None


@dataclass
class ExpectationOutcome:
    suite: str
    table: str
    expectation: str
    column: str | None
    blocking: bool
    success: bool
    observed: str
    scanned_columns: list[str] | None = None
    error: str | None = None  # GX could not compute it: the gate's own failure


def load_suites(directory: Path = SUITES_DIR) -> dict[str, dict[str, Any]]:
    tables: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.yml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        if "tables" not in spec:  # feeds.yml: the per-feed suites of govhub.quality.feed_gate
            continue
        for table, tspec in spec["tables"].items():
            tables[table] = {**tspec, "suite": f"{path.stem}.{table}"}
    return tables


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _text_columns(schema: str, table: str) -> list[str]:
    _, rows = db.query(
        """select column_name from information_schema.columns where table_schema = %s and table_name = %s
           and data_type in ('text', 'character varying', 'character')""", (schema, table))
    return [r[0] for r in rows]


def _published_count(table: str) -> int | None:
    _, rows = db.query("select to_regclass(%s) is not null", (f"published.{table}",))
    if not rows[0][0]:
        return None
    return db.query(f'select count(*) from published."{table}"')[1][0][0]


def build_expectations(table: str, spec: dict[str, Any], schema: str) -> list[Any]:
    import great_expectations as gx

    expectations = []
    for e in spec.get("expectations", []):
        meta = {"blocking": bool(e.get("blocking", True))}
        if "sql" in e:
            query = e["unexpected_rows_query"]
            expectations.append(gx.expectations.UnexpectedRowsExpectation(
                unexpected_rows_query=query, description=e.get("description", e["sql"]), meta={**meta, "name": e["sql"]}))
            continue
        kwargs = {k: v for k, v in e.items() if k not in ("type", "blocking")}
        expectations.append(getattr(gx.expectations, _camel(e["type"]))(**kwargs, meta=meta))
    volume = spec.get("volume")
    if volume:
        previous = _published_count(table)
        if previous:  # a drop to a fraction of the usual volume is an alarm, not a success
            expectations.append(gx.expectations.ExpectTableRowCountToBeBetween(
                min_value=int(previous * volume["min_ratio_of_published"]),
                meta={"blocking": True, "name": f"volume >= {volume['min_ratio_of_published']:.0%} of published ({previous})"}))
    columns = [c for c in _text_columns(schema, table) if c not in ("id_hash",)]
    if columns:
        # one scan of the table for every text column (one expectation per column cost a GX metric graph and
        # queries each); the unexpected "rows" are column names, never values, so nothing sensitive is rendered
        regex = ID_NUMBER_REGEX.replace("{", "{{").replace("}", "}}")  # GX str.format()s the query for {batch}
        hits = ", ".join(f"case when {quote_ident(c)} ~ '{regex}' then '{c}' end" for c in columns)
        matches = " or ".join(f"{quote_ident(c)} ~ '{regex}'" for c in columns)
        expectations.append(gx.expectations.UnexpectedRowsExpectation(
            unexpected_rows_query=f"select array_to_string(array[{hits}], ',') as columns_with_id_numbers "
                                  f"from {{batch}} where {matches}",
            description=f"no clear ID numbers in the text columns {', '.join(columns)}",
            meta={"blocking": True, "name": "no clear ID numbers", "scanned_columns": columns}))
    return expectations


def quote_ident(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def id_number_columns(schema: str, table: str, columns: list[str]) -> dict[str, int]:
    """Rows with a clear ID number per text column (to name the columns when the scan fails)."""
    counts = ", ".join(f"count(*) filter (where {quote_ident(c)} ~ %(regex)s)" for c in columns)
    row = db.query(f"select {counts} from {quote_ident(schema)}.{quote_ident(table)}", {"regex": ID_NUMBER_REGEX})[1][0]
    return {c: n for c, n in zip(columns, row, strict=True) if n}


def without_progress_bars(context: Any) -> Any:
    """GX draws a "Calculating Metrics" bar per expectation on stderr: hundreds of lines in a task log or the
    console of `hub run`/`hub bench`, where the hub reports progress itself. Both keys: GX's validator reads
    ``metric_calculations`` after ``globally``, so ``globally`` alone is overridden by the default."""
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context


def _context():
    import great_expectations as gx

    gx_root().mkdir(parents=True, exist_ok=True)
    return without_progress_bars(gx.get_context(mode="file", project_root_dir=str(gx_root())))


def run_gate(run_id: str, schema: str = "audit", tables: list[str] | None = None) -> list[ExpectationOutcome]:
    """Validate every suite's table in ``schema``; record outcomes; raise GateFailed on a blocking failure and
    GateError when the gate itself fails (then nothing is recorded as a verdict)."""
    from govhub.ops import ensure_setup

    try:
        ensure_setup(db.GATE)
        with db.acting_as(db.GATE):  # least privilege: reads what it checks, writes only its results
            return _run_gate(run_id, schema, tables)
    except (GateFailed, GateError):
        raise
    except Exception as exc:
        raise GateError(_internal(run_id, f"{type(exc).__name__}: {exc}")) from exc


def _internal(run_id: str, what: str) -> str:
    return (f"quality gate {run_id} failed inside the hub, not on a department's data: {_redact(what)[:1000]}. "
            "`published` left unchanged and no feed held; fix the hub and run again")


def _run_gate(run_id: str, schema: str, tables: list[str] | None) -> list[ExpectationOutcome]:
    import great_expectations as gx

    started = time.perf_counter()
    suites = load_suites()
    if tables:
        suites = {t: s for t, s in suites.items() if t in tables}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        context = _context()
    # GX rejects socket-only URLs in add_postgres; add_sql with the libpq host parameter works. GX logs in as the
    # gate's role. The file context stores the data source in expectations/gx/great_expectations.yml: it holds
    # only a reference, ${HUB_GX_GATE_URL}, that GX substitutes from this process's environment (it used to
    # store the whole URL, password included).
    os.environ[GATE_URL_ENV] = db.role_address(db.GATE).url(WAREHOUSE_DB, driver="postgresql+psycopg")
    datasource = context.data_sources.add_or_update_sql(name="warehouse", connection_string=f"${{{GATE_URL_ENV}}}")
    validations = []
    for table, spec in suites.items():
        asset_name = f"{schema}.{table}"
        try:
            asset = datasource.get_asset(asset_name)
        except LookupError:
            asset = datasource.add_table_asset(name=asset_name, table_name=table, schema_name=schema)
        try:
            batch_def = asset.get_batch_definition("whole_table")
        except (KeyError, LookupError, ValueError):
            batch_def = asset.add_batch_definition_whole_table("whole_table")
        suite = gx.ExpectationSuite(name=spec["suite"], expectations=build_expectations(table, spec, schema))
        suite = context.suites.add_or_update(suite)
        validations.append(context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=f"gate.{table}", data=batch_def, suite=suite)))
    # No UpdateDataDocsAction: it rebuilds the whole site once per validation definition (11 times a run), each
    # time re-reading every stored result; the docs are built once below, for this run's results only.
    checkpoint = context.checkpoints.add_or_update(gx.Checkpoint(
        name="publication_gate", validation_definitions=validations, result_format=RESULT_FORMAT))
    result = checkpoint.run()
    outcomes = _outcomes(result, suites)
    errors = [o for o in outcomes if o.error]
    if errors:
        raise GateError(_internal(run_id, "; ".join(f"{o.suite}, {o.expectation}: {o.error}" for o in errors[:5])))
    for o in outcomes:  # name the columns (and row counts) of a failed ID-number scan; values stay unread
        if o.expectation == "no clear ID numbers" and not o.success and o.scanned_columns:
            found = id_number_columns(schema, o.table, o.scanned_columns)
            o.column = ",".join(found) or None
            o.observed = "rows with a clear ID number: " + ", ".join(f"{c} {n}" for c, n in found.items())
    _record(run_id, outcomes)
    failed = [o for o in outcomes if o.blocking and not o.success]
    decided = time.perf_counter()
    update_data_docs(context, list(result.run_results))
    log.info("gate %s: %d expectations, %d failed (%d blocking) in %.1fs (+ %.1fs data docs)", run_id, len(outcomes),
             sum(not o.success for o in outcomes), len(failed), decided - started, time.perf_counter() - decided)
    if failed:
        lines = [f"suite {o.suite}, table {schema}.{o.table}, expectation {o.expectation}"
                 + (f" on column {o.column}" if o.column else "") + f": observed {o.observed}" for o in failed]
        raise GateFailed("quality gate failed, `published` left unchanged:\n  " + "\n  ".join(lines), failed)
    return outcomes


def update_data_docs(context: Any, result_identifiers: list[Any], keep: int = KEEP_RUNS) -> None:
    """Render this run's validation results and the index, after pruning results (and their pages) beyond the
    last ``keep`` runs of each suite: the index reads every stored result, so without retention the docs get
    slower with every run. Never raises: the docs are a report, the gate's verdict stands without them."""
    try:
        prune_validation_results(keep)
        context.build_data_docs(resource_identifiers=result_identifiers)
    except Exception:
        log.exception("GX Data Docs could not be updated (the gate result stands)")


def prune_validation_results(keep: int = KEEP_RUNS, root: Path | None = None) -> int:
    """Delete stored validation results of a suite older than its last ``keep`` runs, with their Data Docs pages.
    Layout of GX's filesystem stores: validations/<suite path>/<run name>/<run time>/<batch>.json. Returns how
    many runs were removed."""
    import shutil

    root = root or gx_root() / "gx" / "uncommitted"
    removed = 0
    for run_name_dir in (root / "validations").glob("**/__none__"):
        runs = sorted(d for d in run_name_dir.iterdir() if d.is_dir())
        for old in runs[:-keep] if keep else runs:
            relative = old.relative_to(root / "validations")
            shutil.rmtree(old, ignore_errors=True)
            shutil.rmtree(root / "data_docs" / "local_site" / "validations" / relative, ignore_errors=True)
            removed += 1
    return removed


def _outcomes(result: Any, suites: dict[str, dict[str, Any]]) -> list[ExpectationOutcome]:
    by_suite = {s["suite"]: t for t, s in suites.items()}
    outcomes = []
    for validation in result.run_results.values():
        suite_name = validation.suite_name
        for r in validation.results:
            cfg = r.expectation_config
            meta = cfg.meta or {}
            res = r.result or {}
            observed = res.get("observed_value")
            if observed is None and "unexpected_count" in res:
                observed = f"{res.get('unexpected_count')} unexpected ({res.get('unexpected_percent') or 0:.2f}%)"
            error = raised(r)
            if observed is None and error:
                observed = "error: " + error[:300]
            outcomes.append(ExpectationOutcome(
                suite=suite_name, table=by_suite.get(suite_name, suite_name), expectation=meta.get("name", cfg.type),
                column=cfg.kwargs.get("column"), blocking=bool(meta.get("blocking", True)), success=bool(r.success),
                scanned_columns=meta.get("scanned_columns"), error=error,
                observed=_redact(json.dumps(observed, default=str, ensure_ascii=False) if observed is not None else "n/a")))
    return outcomes


def _redact(text: str) -> str:
    return re.sub(ID_NUMBER_REGEX, "[ID]", text)


def _record(run_id: str, outcomes: list[ExpectationOutcome]) -> None:
    # inserts, not COPY: the gate's role writes under the officers' row-level security, which COPY FROM refuses
    with db.connect() as conn, conn.cursor() as cur:
        cur.executemany(
            """insert into ops.validation_result (run_id, suite, table_name, expectation, column_name, blocking,
                   success, observed) values (%s, %s, %s, %s, %s, %s, %s, %s)""",
            [(run_id, o.suite, o.table, o.expectation, o.column, o.blocking, o.success, o.observed) for o in outcomes])
