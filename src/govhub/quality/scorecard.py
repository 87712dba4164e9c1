"""Per-department data-quality scorecard for the department data officers.

One static HTML page (plus the same numbers as JSON) under ``$HUB_HOME/reports/``, rebuilt at the end of
every warehouse build and by ``hub report``; the Airflow plugin ``plugins/hub_quality_plugin.py`` serves it.

Dimensions, per feed of the registry (one feed = one department):

* timeliness   – last successful arrival vs the feed's cron schedule in ``sources.yml``;
* completeness – share of non-empty cells in the raw layer, and for person records the share with a usable
  ID number (``id_status`` valid/repaired) and the fill rate of name, sex, birth date and address;
* validity     – quarantined / received over all batches, and the share of unusable ID numbers;
* uniqueness   – person records of one department object that resolve to the same resident;
* consistency  – only the hub can measure it: of the persons this department shares with another one
  (same ``resident_key`` in ``linkage.resident_xref``), the share whose birth date, sex or grid of residence
  differs from the other departments' value;
* quarantine reasons in plain words with masked examples, and the trend over the last 30 batches.

Every number is computed by SQL inside PostgreSQL (aggregates only come back); Python only masks the few
example records and renders. The warehouse tables a dimension needs may not exist yet (first run, a
department without staging models): that dimension is then reported as "n/a", never as an error.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from govhub import db
from govhub.extract.registry import Feed, load_registry
from govhub.ops import ensure_ops
from govhub.roles import OFFICER, OFFICIAL
from govhub.settings import hub_home

log = logging.getLogger(__name__)
LOCAL_TZ = ZoneInfo("Asia/Shanghai")  # schedules in sources.yml are county-local cron expressions
TREND_BATCHES = 30
TOP_REASONS = 5
EXAMPLES_PER_REASON = 2
PLUGIN_URL_PREFIX = "/hub-quality"

# ---------------------------------------------------------------------------------------------- masking
# Examples must help a data officer find the record in their own system without disclosing the person:
# ID numbers keep region prefix and tail (3411**********123X), names keep family name and last character.
_ID_KEYS = re.compile(r"(身份证|sfz|sfhm|idnumber|id_card|idcard|gmsfhm|bjrsfzh|sarysfzh|partyidnumbers)", re.I)
_NAME_KEYS = re.compile(r"(^xm$|name$|姓名)", re.I)
_PHONE_KEYS = re.compile(r"(phone|tel|电话|手机)", re.I)
_ADDRESS_KEYS = re.compile(r"(address|addr|地址|住址|^hjdz$|^xzz$|^zzdz$|^fadz$|location)", re.I)
_BIRTH_KEYS = re.compile(r"(出生|csrq|birth)", re.I)  # a full birth date + village re-identifies: year only
_SENSITIVE_KEYS = re.compile(r"(diagnosis|icd|cause|残疾类别|description)", re.I)
# 15 to 18 ID-like characters, optionally with single spaces (departments send "3411 2319..."), full-width too.
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z０-９])[0-9０-９](?:\s?[0-9０-９]){13,16}\s?[0-9０-９XxＸｘ](?![0-9A-Za-z０-９])")
_CJK_NAME = re.compile(r"^[\u4e00-\u9fff·]{2,6}$")


def mask_id(value: str) -> str:
    """``341123199001011234`` -> ``3411**********1234`` (length kept, so legacy 15-digit ones stay visible)."""
    compact = re.sub(r"\s", "", value)
    if len(compact) <= 8:
        return "*" * len(compact)
    return compact[:4] + "*" * (len(compact) - 8) + compact[-4:]


def mask_name(value: str) -> str:
    """Same rule as the SQL function util.hub_mask_name: 张三 -> 张*, 张三明 -> 张*明, 欧阳明华 -> 欧**华."""
    value = value.strip()
    if not value:
        return value
    if len(value) == 1:
        return "*"
    if len(value) == 2:
        return value[0] + "*"
    return value[0] + "*" * (len(value) - 2) + value[-1]


def mask_text(value: str) -> str:
    """Mask every ID-number-like run inside free text (reasons, addresses, remarks)."""
    return _ID_IN_TEXT.sub(lambda m: mask_id(m.group(0)), value)


def mask_value(key: str, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        return [mask_value(key, v) for v in value]
    if isinstance(value, dict):
        return mask_record(value)
    text = str(value)
    if _ID_KEYS.search(key):
        return ", ".join(mask_id(part) for part in re.split(r"[,，;；]", text) if part.strip()) if text.strip() else text
    if _NAME_KEYS.search(key):
        return mask_name(text)
    if _PHONE_KEYS.search(key):
        return text[:3] + "****" + text[-4:] if len(text) >= 8 else "*" * len(text)
    if _SENSITIVE_KEYS.search(key):
        return "***" if text else text
    if _BIRTH_KEYS.search(key):
        year = re.match(r"\s*(\d{4})", text)
        return f"{year.group(1)}-**-**" if year else ("*" * len(text))
    if _ADDRESS_KEYS.search(key):
        return mask_text(text[:6]) + ("…" if len(text) > 6 else "")
    return mask_text(text)


def mask_record(record: dict[str, Any]) -> dict[str, Any]:
    return {str(k): mask_value(str(k), v) for k, v in record.items()}


# ------------------------------------------------------------------------------------------ computation
def report_dir() -> Path:
    return hub_home() / "reports"


def report_path() -> Path:
    return report_dir() / "scorecard.html"


def data_docs_dir() -> Path:
    """Where the gate's GX checkpoint (UpdateDataDocsAction, file context in ``gate.gx_root()``) writes Data Docs."""
    from govhub.quality.gate import gx_root

    return gx_root() / "gx" / "uncommitted" / "data_docs" / "local_site"


def _exists(conn: psycopg.Connection, relation: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (relation,)).fetchone()[0]


def _rows(conn: psycopg.Connection, query: str | sql.Composable, params: Any = None) -> list[dict[str, Any]]:
    cur = conn.execute(query, params)
    names = [d.name for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _ratio(num: Any, den: Any) -> float | None:
    return None if not den else float(num or 0) / float(den)


def timeliness(feed: Feed, last_arrival: dt.datetime | None, now: dt.datetime) -> dict[str, Any]:
    """On time or late by the one definition of freshness (govhub.freshness: the registry's schedule)."""
    from govhub.freshness import check

    return check(feed, last_arrival, now).as_dict()


def _batch_stats(conn: psycopg.Connection) -> dict[str, dict[str, Any]]:
    rows = _rows(conn, """
        select feed, max(finished_at) filter (where status = 'succeeded') as last_arrival,
               coalesce(sum(received) filter (where status = 'succeeded'), 0) as received,
               coalesce(sum(quarantined) filter (where status = 'succeeded'), 0) as quarantined,
               count(*) filter (where status = 'failed') as failed_batches,
               count(*) as batches
        from ops.batch group by feed""")
    return {r["feed"]: r for r in rows}


def _raw_completeness(conn: psycopg.Connection, feed: Feed) -> dict[str, Any] | None:
    """Share of non-empty cells over the registry columns of every raw table of the feed (one SQL per table)."""
    filled = cells = 0
    per_object = {}
    for obj in feed.objects.values():
        table = f"raw.{feed.raw_table(obj)}"
        if not _exists(conn, table):
            continue
        columns = [c.lower() for c in obj.columns]
        expr = sql.SQL(" + ").join(
            sql.SQL("(nullif(btrim({}::text), '') is not null)::int").format(sql.Identifier(c)) for c in columns)
        n, f = conn.execute(sql.SQL("select count(*), coalesce(sum({}), 0) from {}").format(
            expr, sql.Identifier("raw", feed.raw_table(obj)))).fetchone()
        per_object[obj.name] = _ratio(f, n * len(columns))
        filled += f
        cells += n * len(columns)
    if not cells:
        return None
    return {"filled_share": _ratio(filled, cells), "per_object": per_object}


def _person_metrics(conn: psycopg.Connection) -> dict[str, dict[str, Any]]:
    """Completeness, ID validity and uniqueness of person records, per source (= feed), in one query."""
    if not (_exists(conn, "intermediate.int_person_records__unioned") and _exists(conn, "linkage.resident_xref")):
        return {}
    rows = _rows(conn, """
        with r as (
            select p.source, p.source_object, p.id_status, p.person_name, p.sex, p.birth_date, p.address,
                   x.resident_key
            from intermediate.int_person_records__unioned p
            left join linkage.resident_xref x
              on x.source = p.source and x.source_object = p.source_object and x.source_record_id = p.source_record_id
        ),
        per_object as (
            select source, source_object, count(*) as records,
                   count(*) - count(distinct resident_key) as duplicate_records
            from r group by 1, 2
        ),
        per_source as (
            select source, count(*) as records,
                   avg((id_status in ('valid', 'repaired'))::int) as usable_id_share,
                   avg((id_status = 'repaired')::int) as repaired_id_share,
                   avg((id_status in ('invalid_check', 'invalid_date', 'malformed'))::int) as invalid_id_share,
                   avg((id_status = 'missing')::int) as missing_id_share,
                   avg((nullif(person_name, '') is not null)::int) as name_filled,
                   avg((sex in ('M', 'F'))::int) as sex_filled,
                   avg((birth_date is not null)::int) as birth_date_filled,
                   avg((nullif(address, '') is not null)::int) as address_filled
            from r group by 1
        )
        select s.*, d.duplicate_records, d.object_records
        from per_source s
        join (select source, sum(duplicate_records) as duplicate_records, sum(records) as object_records
              from per_object group by 1) d using (source)""")
    out = {}
    for r in rows:
        r["duplicate_share"] = _ratio(r.pop("duplicate_records"), r.pop("object_records"))
        out[r["source"]] = {k: float(v) if isinstance(v, Decimal) else v for k, v in r.items()}
    return out


def _consistency(conn: psycopg.Connection) -> dict[str, dict[str, Any]]:
    """For persons known to this department and at least one other: share whose value differs.

    A person disagrees on an attribute when some value this department holds differs from some value another
    department holds for the same resident_key; persons where either side is unknown are not compared.
    Sex 'U' is unknown. Grid of residence: the grid the record's address matched in the building registry.
    """
    needed = ("intermediate.int_person_records__unioned", "linkage.resident_xref")
    if not all(_exists(conn, t) for t in needed):
        return {}
    has_grid = _exists(conn, "intermediate.int_addresses__matched")
    grid_expr = "a.grid_code" if has_grid else "null::text"
    grid_join = "left join intermediate.int_addresses__matched a on a.address = p.address" if has_grid else ""
    rows = _rows(conn, f"""
        with rec as (
            select distinct x.resident_key, p.source, p.birth_date, nullif(p.sex, 'U') as sex, {grid_expr} as grid_code
            from intermediate.int_person_records__unioned p
            join linkage.resident_xref x
              on x.source = p.source and x.source_object = p.source_object and x.source_record_id = p.source_record_id
            {grid_join}
        ),
        pairs as (
            select a.source, a.resident_key,
                   bool_or(a.birth_date is not null and b.birth_date is not null) as bd_compared,
                   coalesce(bool_or(a.birth_date <> b.birth_date), false) as bd_differs,
                   bool_or(a.sex is not null and b.sex is not null) as sex_compared,
                   coalesce(bool_or(a.sex <> b.sex), false) as sex_differs,
                   bool_or(a.grid_code is not null and b.grid_code is not null) as grid_compared,
                   coalesce(bool_or(a.grid_code <> b.grid_code), false) as grid_differs
            from rec a join rec b on b.resident_key = a.resident_key and b.source <> a.source
            group by 1, 2
        )
        select source, count(*) as shared_persons,
               count(*) filter (where bd_compared) as birth_date_compared,
               count(*) filter (where bd_compared and bd_differs) as birth_date_differs,
               count(*) filter (where sex_compared) as sex_compared,
               count(*) filter (where sex_compared and sex_differs) as sex_differs,
               count(*) filter (where grid_compared) as grid_compared,
               count(*) filter (where grid_compared and grid_differs) as grid_differs
        from pairs group by 1""")
    out = {}
    for r in rows:
        r["birth_date_disagree"] = _ratio(r["birth_date_differs"], r["birth_date_compared"])
        r["sex_disagree"] = _ratio(r["sex_differs"], r["sex_compared"])
        r["grid_disagree"] = _ratio(r["grid_differs"], r["grid_compared"])
        out[r["source"]] = r
    return out


def _quarantine_reasons(conn: psycopg.Connection) -> dict[str, list[dict[str, Any]]]:
    """Top reasons per feed; quoted values inside a reason are folded so that one kind of problem is one row."""
    rows = _rows(conn, """
        with reasons as (
            select q.feed, q.object, q.record, q.quarantined_at, q.batch_id, q.record_no,
                   regexp_replace(reason, '''[^'']*''', '…', 'g') as reason
            from ops.quarantine q cross join lateral unnest(q.reasons) as reason
        ),
        ranked as (
            select feed, reason, count(*) as records, count(distinct object) as objects,
                   (array_agg(object order by quarantined_at desc, batch_id, record_no))[1] as object,
                   (array_agg(record order by quarantined_at desc, batch_id, record_no))[1:%s] as examples,
                   row_number() over (partition by feed order by count(*) desc, reason) as rn
            from reasons group by feed, reason
        )
        select feed, reason, records, object, examples from ranked where rn <= %s order by feed, rn""",
                 (EXAMPLES_PER_REASON, TOP_REASONS))
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        examples = [mask_record(e if isinstance(e, dict) else json.loads(e)) for e in (r["examples"] or [])]
        out.setdefault(r["feed"], []).append({
            "reason": mask_text(r["reason"]), "records": r["records"], "object": r["object"], "examples": examples})
    return out


def _trend(conn: psycopg.Connection) -> dict[str, list[dict[str, Any]]]:
    rows = _rows(conn, """
        select feed, object, batch_id, started_at, status, received, loaded, quarantined, drop_name
        from (select b.*, row_number() over (partition by feed order by started_at desc, batch_id desc) as rn
              from ops.batch b) t
        where rn <= %s order by feed, started_at, batch_id""", (TREND_BATCHES,))
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        r["quarantine_share"] = _ratio(r["quarantined"], r["received"])
        r["started_at"] = r["started_at"].astimezone(LOCAL_TZ).isoformat(timespec="seconds")
        out.setdefault(r["feed"], []).append(r)
    return out


TREND_DAYS = 30


def _daily(conn: psycopg.Connection, registry: dict[str, Feed], now: dt.datetime) -> dict[str, list[dict[str, Any]]]:
    """Per feed and local day of the last TREND_DAYS: on time at the day's end (govhub.freshness), the share of
    raw cells filled in that day's batches, and quarantined / received of that day's batches (SQL aggregates)."""
    import bisect

    from govhub.freshness import check

    today = now.astimezone(LOCAL_TZ).date()
    days = [today - dt.timedelta(days=n) for n in range(TREND_DAYS - 1, -1, -1)]
    since = dt.datetime.combine(days[0], dt.time(), LOCAL_TZ)
    volume = {(r["feed"], r["day"]): r for r in _rows(conn, """
        select feed, (started_at at time zone 'Asia/Shanghai')::date as day, sum(received) as received,
               sum(quarantined) as quarantined from ops.batch where status = 'succeeded' and started_at >= %s
        group by 1, 2""", (since,))}
    arrivals: dict[str, list[dt.datetime]] = {}
    for feed, finished in conn.execute("select feed, finished_at from ops.batch where status = 'succeeded' "
                                       "and finished_at is not null order by finished_at").fetchall():
        arrivals.setdefault(feed, []).append(finished)
    out: dict[str, list[dict[str, Any]]] = {}
    for name, feed in registry.items():
        filled: dict[dt.date, list[int]] = {}
        for obj in feed.objects.values():
            if not _exists(conn, f"raw.{feed.raw_table(obj)}"):
                continue
            expr = sql.SQL(" + ").join(sql.SQL("(nullif(btrim(r.{}::text), '') is not null)::int").format(
                sql.Identifier(c.lower())) for c in obj.columns)
            for day, n, f in conn.execute(sql.SQL(
                    """select (b.started_at at time zone 'Asia/Shanghai')::date, count(*), coalesce(sum({}), 0)
                       from {} as r join ops.batch as b on b.batch_id = r._batch_id where b.started_at >= %s
                       group by 1""").format(expr, sql.Identifier("raw", feed.raw_table(obj))), (since,)).fetchall():
                acc = filled.setdefault(day, [0, 0])
                acc[0] += f
                acc[1] += n * len(obj.columns)
        series = []
        times = arrivals.get(name, [])
        for day in days:
            end = min(now, dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), LOCAL_TZ))
            i = bisect.bisect_right(times, end)
            v = volume.get((name, day), {})
            f, cells = filled.get(day, (0, 0))
            series.append({"day": day.isoformat(), "on_time": check(feed, times[i - 1] if i else None, end).on_time,
                           "completeness": _ratio(f, cells),
                           "quarantine_share": _ratio(v.get("quarantined"), v.get("received"))})
        out[name] = series
    return out


def _chart(series: list[dict[str, Any]]) -> str:
    """A small inline SVG of one department's 30 days: completeness (blue line), quarantine rate (red line),
    and under them one square per day, green when the feed was on time at the day's end, red when late."""
    w, h, step = 300, 80, 10
    def line(key: str) -> str:
        points = [f"{5 + i * step},{h - 20 - round(50 * s[key])}" for i, s in enumerate(series) if s[key] is not None]
        return " ".join(points)
    squares = "".join(f'<rect x="{1 + i * step}" y="{h - 12}" width="8" height="8" fill="{"#17683a" if s["on_time"] else "#b3261e"}">'
                      f'<title>{s["day"]}: {"on time" if s["on_time"] else "late"}</title></rect>' for i, s in enumerate(series))
    return (f'<svg class="trend" role="img" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
            f'aria-label="last {len(series)} days: completeness, quarantine rate, timeliness">'
            f'<line x1="0" x2="{w}" y1="{h - 70}" y2="{h - 70}" stroke="#ccd"/><line x1="0" x2="{w}" y1="{h - 20}" '
            f'y2="{h - 20}" stroke="#ccd"/>'
            f'<polyline class="completeness" fill="none" stroke="#5b7db1" stroke-width="2" points="{line("completeness")}"/>'
            f'<polyline class="quarantine" fill="none" stroke="#b3261e" stroke-width="2" points="{line("quarantine_share")}"/>'
            f'{squares}</svg>')


def _held(conn: psycopg.Connection) -> dict[str, list[dict[str, Any]]]:
    """Batches held out of the warehouse by the feed gate, per feed and object, with the reasons in words."""
    from govhub.quality.feed_gate import held_summary

    out: dict[str, list[dict[str, Any]]] = {}
    for h in held_summary(conn):
        h["held_since"] = h["held_since"].astimezone(LOCAL_TZ).isoformat(timespec="seconds")
        h["reason"] = mask_text(h["reason"])  # words and counts only, masked anyway
        out.setdefault(h["feed"], []).append(h)
    return out


def _surprises(conn: psycopg.Connection) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """What each department sent that the hub worked around (govhub.quality.surprises), masked for display."""
    from govhub.quality.surprises import collect

    out = collect(conn)
    for kinds in out.values():
        for rows in kinds.values():
            for r in rows:
                for key, value in list(r.items()):
                    if isinstance(value, dt.datetime):
                        r[key] = value.astimezone(LOCAL_TZ).isoformat(timespec="seconds")
                    elif isinstance(value, str) and key in ("message", "reason", "detail", "observed", "raw_value"):
                        r[key] = mask_text(value)
    return out


def _gate_summary(conn: psycopg.Connection) -> dict[str, Any]:
    gate = _rows(conn, """
        select run_id, max(validated_at) as validated_at, count(*) as expectations,
               count(*) filter (where not success and blocking) as blocking_failures,
               count(*) filter (where not success and not blocking) as warnings
        from ops.validation_result
        where run_id = (select run_id from ops.validation_result order by validated_at desc limit 1)
        group by run_id""")
    publication = _rows(conn, """
        select version, published_at, run_id, gate_success, left(message, 1500) as message
        from ops.publication order by version desc limit 1""")
    out = {"gate": gate[0] if gate else None, "publication": publication[0] if publication else None}
    if out["publication"] and out["publication"]["message"]:
        out["publication"]["message"] = mask_text(out["publication"]["message"])
    return out


def compute(now: dt.datetime | None = None) -> dict[str, Any]:
    """All numbers of the scorecard as one JSON-able dict."""
    now = now or dt.datetime.now(dt.UTC)
    registry = load_registry()
    with db.connect() as conn:
        ensure_ops(conn)
        batches = _batch_stats(conn)
        persons = _person_metrics(conn)
        consistency = _consistency(conn)
        reasons = _quarantine_reasons(conn)
        trend = _trend(conn)
        daily = _daily(conn, registry, now)
        summary = _gate_summary(conn)
        held = _held(conn)
        surprising = _surprises(conn)
        departments = []
        for name, feed in registry.items():
            b = batches.get(name, {})
            departments.append({
                "feed": name,
                "department": feed.department,
                "contact": feed.contact,
                "kind": feed.kind,
                "timeliness": timeliness(feed, b.get("last_arrival"), now),
                "completeness": {"raw": _raw_completeness(conn, feed), "persons": persons.get(name)},
                "validity": {"received": int(b.get("received") or 0), "quarantined": int(b.get("quarantined") or 0),
                             "quarantine_share": _ratio(b.get("quarantined"), b.get("received")),
                             "failed_batches": int(b.get("failed_batches") or 0),
                             "invalid_id_share": (persons.get(name) or {}).get("invalid_id_share")},
                "uniqueness": {"duplicate_share": (persons.get(name) or {}).get("duplicate_share")},
                "consistency": consistency.get(name),
                "quarantine_reasons": reasons.get(name, []),
                "held": held.get(name, []),
                "surprises": surprising.get(name, {}),
                "trend": trend.get(name, []),
                "daily": daily.get(name, []),
            })
    return {"generated_at": now.astimezone(LOCAL_TZ).isoformat(timespec="seconds"), **summary,
            "departments": departments, "data_docs_available": (data_docs_dir() / "index.html").exists(),
            "url_prefix": PLUGIN_URL_PREFIX}


# ---------------------------------------------------------------------------------------------- render
_TEMPLATE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>govhub data-quality scorecard</title>
<style>
body{font-family:system-ui,"Noto Sans CJK SC",sans-serif;margin:1.5rem;color:#1d2733}
h1{font-size:1.4rem} h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ccd}
table{border-collapse:collapse;margin:.5rem 0} td,th{border:1px solid #ccd;padding:.25rem .5rem;font-size:.9rem;text-align:left}
.ok{color:#17683a;font-weight:600} .bad{color:#b3261e;font-weight:600} .na{color:#777}
.example{font-family:monospace;font-size:.8rem;white-space:pre-wrap} .bar{display:inline-block;vertical-align:bottom}
</style></head><body>
<h1>Data-quality scorecard per department</h1>
<p>Generated {{ d.generated_at }} (Asia/Shanghai).
{% if d.gate %}Last gate run <b>{{ d.gate.run_id }}</b>: {{ d.gate.expectations }} expectations,
<span class="{{ 'bad' if d.gate.blocking_failures else 'ok' }}">{{ d.gate.blocking_failures }} blocking failures</span>,
{{ d.gate.warnings }} warnings.{% else %}No gate run yet.{% endif %}
{% if d.publication %}Last publication attempt: version {{ d.publication.version }}
{% if d.publication.gate_success %}<span class="ok">published</span>{% else %}<span class="bad">BLOCKED</span>
<span class="example">{{ d.publication.message }}</span>{% endif %}{% endif %}
{% if d.data_docs_available %}<a href="{{ d.url_prefix }}/data-docs/index.html">GX Data Docs of the gate</a>{% endif %}</p>

<table><tr><th>department</th><th>timeliness</th><th>completeness (raw cells filled)</th><th>usable ID</th>
<th>validity (quarantined)</th><th>uniqueness (duplicate person records)</th>
<th>consistency: birth date / sex / grid disagree</th></tr>
{% for p in d.departments %}<tr>
<td><a href="#{{ p.feed }}">{{ p.department }}</a></td>
<td class="{{ 'ok' if p.timeliness.on_time else 'bad' }}">{{ p.timeliness.status }}</td>
<td>{{ pct(p.completeness.raw.filled_share if p.completeness.raw else none) }}</td>
<td>{{ pct(p.completeness.persons.usable_id_share if p.completeness.persons else none) }}</td>
<td>{{ pct(p.validity.quarantine_share) }} ({{ p.validity.quarantined }} of {{ p.validity.received }})</td>
<td>{{ pct(p.uniqueness.duplicate_share) }}</td>
<td>{% if p.consistency %}{{ pct(p.consistency.birth_date_disagree) }} / {{ pct(p.consistency.sex_disagree) }} /
{{ pct(p.consistency.grid_disagree) }} of {{ p.consistency.shared_persons }} shared persons{% else %}<span class="na">n/a</span>{% endif %}</td>
</tr>{% endfor %}</table>
<p class="na">n/a: not measurable yet for this department (no data, or no staging/linkage model for its records).</p>

{% for p in d.departments %}
<h2 id="{{ p.feed }}">{{ p.department }} — feed <code>{{ p.feed }}</code> ({{ p.kind }})</h2>
<p>Contact: {{ p.contact.name }} {{ p.contact.email }}</p>
<h3>Timeliness</h3>
<p>Schedule <code>{{ p.timeliness.schedule }}</code> (Asia/Shanghai); last run due {{ p.timeliness.due }};
last successful arrival {{ p.timeliness.last_arrival or "never" }}:
<span class="{{ 'ok' if p.timeliness.on_time else 'bad' }}">{{ p.timeliness.status }}</span>.</p>
<h3>Completeness, validity, uniqueness</h3>
<table>
<tr><td>raw cells filled, all objects</td><td>{{ pct(p.completeness.raw.filled_share if p.completeness.raw else none) }}</td></tr>
{% if p.completeness.raw %}{% for o, s in p.completeness.raw.per_object.items() %}<tr><td>&nbsp;&nbsp;{{ o }}</td><td>{{ pct(s) }}</td></tr>{% endfor %}{% endif %}
{% if p.completeness.persons %}{% set c = p.completeness.persons %}
<tr><td>person records</td><td>{{ c.records|int }}</td></tr>
<tr><td>usable ID number (valid or repaired)</td><td>{{ pct(c.usable_id_share) }} (repaired {{ pct(c.repaired_id_share) }})</td></tr>
<tr><td>ID number missing / invalid</td><td>{{ pct(c.missing_id_share) }} / {{ pct(c.invalid_id_share) }}</td></tr>
<tr><td>name / sex / birth date / address filled</td><td>{{ pct(c.name_filled) }} / {{ pct(c.sex_filled) }} / {{ pct(c.birth_date_filled) }} / {{ pct(c.address_filled) }}</td></tr>
{% endif %}
<tr><td>received / quarantined (all batches)</td><td>{{ p.validity.received }} / {{ p.validity.quarantined }} ({{ pct(p.validity.quarantine_share) }})</td></tr>
<tr><td>failed batches</td><td>{{ p.validity.failed_batches }}</td></tr>
<tr><td>person records resolving to a resident already in the same register</td><td>{{ pct(p.uniqueness.duplicate_share) }}</td></tr>
</table>
<h3>Consistency with the other departments</h3>
{% if p.consistency %}{% set c = p.consistency %}
<p>{{ c.shared_persons }} persons are also known to another department. Their records here disagree with another
department on birth date for {{ c.birth_date_differs }} of {{ c.birth_date_compared }} ({{ pct(c.birth_date_disagree) }}),
on sex for {{ c.sex_differs }} of {{ c.sex_compared }} ({{ pct(c.sex_disagree) }}), on grid of residence for
{{ c.grid_differs }} of {{ c.grid_compared }} ({{ pct(c.grid_disagree) }}).</p>
{% else %}<p class="na">n/a — no person records of this department are linked yet.</p>{% endif %}
<h3>Held out of the warehouse</h3>
{% if p.held %}<p class="bad">New batches failed a blocking check of this feed's suite: the hub keeps building
on the last good data and waits. Send corrected data, or confirm the batch and ask the hub team to run
<code>hub release {{ p.feed }}</code>.</p>
<table><tr><th>object</th><th>batches</th><th>held since</th><th>why</th></tr>
{% for h in p.held %}<tr><td>{{ h.object }}</td><td>{{ h.batches }}</td><td>{{ h.held_since }}</td>
<td><div class="example">{{ h.reason }}</div></td></tr>{% endfor %}</table>
{% else %}<p class="ok">Nothing held.</p>{% endif %}
<h3>What the hub worked around</h3>
{% set s = p.surprises %}
{% if s.failing %}<p class="bad">Not loaded — the last extract of these objects failed (the last good data stays
published; the next successful extract takes them in):</p><table><tr><th>object</th><th>since</th><th>why, and the fix</th></tr>
{% for f in s.failing %}<tr><td>{{ f.object }}</td><td>{{ f.since }}</td><td><div class="example">{{ f.message }}</div></td></tr>{% endfor %}</table>{% endif %}
{% if s.rejected %}<p class="bad">Deliveries refused whole (deliver again with a corrected manifest under the same name):</p>
<table><tr><th>delivery</th><th>refused at</th><th>why</th></tr>
{% for r in s.rejected %}<tr><td>{{ r.drop_name }}</td><td>{{ r.rejected_at }}</td><td>{{ r.reason }}</td></tr>{% endfor %}</table>{% endif %}
{% if s.drift %}<table><tr><th>schema drift</th><th>object.column</th><th>registry</th><th>source</th><th>what the hub does</th></tr>
{% for x in s.drift %}<tr><td class="{{ 'bad' if x.severity == 'blocking' else 'na' }}">{{ x.severity }} ({{ x.kind }})</td>
<td>{{ x.object }}.{{ x.column_name }}</td><td>{{ x.expected }}</td><td>{{ x.actual }}</td><td>{{ x.detail }}</td></tr>{% endfor %}</table>{% endif %}
{% if s.unknown_codes %}<table><tr><th>code outside the contract's list (read as <code>unknown</code>)</th><th>object.column</th><th>records</th></tr>
{% for u in s.unknown_codes %}<tr><td><code>{{ u.raw_value }}</code></td><td>{{ u.object }}.{{ u.column_name }}</td><td>{{ u.records }}</td></tr>{% endfor %}</table>{% endif %}
{% if s.invalid_values %}<table><tr><th>impossible values read as empty</th><th>object</th><th>records</th></tr>
{% for v in s.invalid_values %}<tr><td>{{ v.field }}</td><td>{{ v.object }}</td><td>{{ v.records }}</td></tr>{% endfor %}</table>{% endif %}
{% if s.build_warnings %}<table><tr><th>warehouse test tripped by this feed's data (warning)</th><th>observed</th></tr>
{% for w in s.build_warnings %}<tr><td>{{ w.test }}</td><td>{{ w.observed }}</td></tr>{% endfor %}</table>{% endif %}
{% if not (s.failing or s.rejected or s.drift or s.unknown_codes or s.invalid_values or s.build_warnings) %}<p class="ok">Nothing to report.</p>{% endif %}
<h3>Quarantine reasons</h3>
{% if p.quarantine_reasons %}<table><tr><th>reason</th><th>records</th><th>examples (masked)</th></tr>
{% for r in p.quarantine_reasons %}<tr><td>{{ r.reason }} <span class="na">({{ r.object }})</span></td><td>{{ r.records }}</td>
<td>{% for e in r.examples %}<div class="example">{{ e|tojson_cn }}</div>{% endfor %}</td></tr>{% endfor %}</table>
{% else %}<p class="ok">No quarantined records.</p>{% endif %}
<h3>Last {{ p.daily|length }} days</h3>
<figure>{{ chart(p.daily)|safe }}<figcaption class="na">blue: raw cells filled; red: quarantined / received
(0–100%, per day's batches); squares: on time (green) or late (red) at the day's end, by the feed's schedule</figcaption></figure>
<h3>Last {{ p.trend|length }} batches</h3>
{% if p.trend %}{% set peak = p.trend|map(attribute='received')|map('int')|max %}
<div aria-label="received per batch, quarantined in red">{% for t in p.trend %}<span class="bar" title="{{ t.started_at }} {{ t.object }}: received {{ t.received }}, quarantined {{ t.quarantined }}, {{ t.status }}">
<svg width="10" height="40"><rect x="1" width="8" y="{{ 40 - bar(t.received, peak) }}" height="{{ bar(t.received, peak) }}" fill="{{ '#b3261e' if t.status == 'failed' else '#5b7db1' }}"/>
<rect x="1" width="8" y="{{ 40 - bar(t.quarantined, peak) }}" height="{{ bar(t.quarantined, peak) }}" fill="#b3261e"/></svg></span>{% endfor %}</div>
<details><summary>batch table</summary><table><tr><th>started</th><th>object</th><th>status</th><th>received</th><th>loaded</th><th>quarantined</th></tr>
{% for t in p.trend|reverse %}<tr><td>{{ t.started_at }}</td><td>{{ t.object }}{% if t.drop_name %} ({{ t.drop_name }}){% endif %}</td><td>{{ t.status }}</td>
<td>{{ t.received }}</td><td>{{ t.loaded }}</td><td>{{ t.quarantined }} ({{ pct(t.quarantine_share) }})</td></tr>{% endfor %}</table></details>
{% else %}<p class="na">No batches yet.</p>{% endif %}
{% endfor %}
</body></html>
"""


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _bar(value: Any, peak: int) -> int:
    if not value or not peak:
        return 0
    return max(1, round(38 * int(value) / peak))


def render(data: dict[str, Any]) -> str:
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.ChainableUndefined)
    env.filters["tojson_cn"] = lambda v: json.dumps(v, ensure_ascii=False, default=str)
    return env.from_string(_TEMPLATE).render(d=data, pct=_pct, bar=_bar, chart=_chart, none=None)


ACCESS_FILE = "access.json"


def officer_page(out_dir: Path, role: str, suffix: str = ".html") -> Path:
    """Where the scorecard of a department officer's login role is written (a digest: role names may hold any
    character)."""
    import hashlib

    return out_dir / "officers" / (hashlib.sha256(role.encode()).hexdigest()[:20] + suffix)


def access_map(conn: psycopg.Connection) -> dict[str, Any]:
    """Who sees which scorecard, from the database's own roles (read as the gate role: catalogs and
    ops.officer_department): officials, superusers and role administrators see every department; a department
    officer's login role sees the feeds ops.officer_department lists for it (or for a group it belongs to)."""
    everyone = [r[0] for r in conn.execute(
        """select rolname from pg_roles where rolcanlogin and (rolsuper or rolcreaterole
               or pg_has_role(oid, %s, 'member')) order by 1""", (OFFICIAL,))]
    officers: dict[str, list[str]] = {}
    for role, feed in conn.execute(
            """select r.rolname, d.feed from pg_roles r join ops.officer_department d
                 on pg_has_role(r.oid, d.role_name, 'member')
               where r.rolcanlogin and not r.rolsuper and pg_has_role(r.oid, %s, 'member')
               order by 1, 2""", (OFFICER,)).fetchall():
        if role not in everyone:
            officers.setdefault(role, []).append(feed)
    return {"all": everyone, "officers": officers}


def _store(conn: psycopg.Connection, data: dict[str, Any]) -> None:
    """Each department's scorecard into ops.scorecard, where row-level security gives an officer its own rows."""
    from psycopg.types.json import Jsonb

    with conn.transaction():
        conn.execute("delete from ops.scorecard")
        with conn.cursor() as cur:
            cur.executemany(
                "insert into ops.scorecard (feed, department, generated_at, data) values (%s, %s, now(), %s)",
                [(d["feed"], d["department"], Jsonb(json.loads(json.dumps(d, default=str)))) for d in data["departments"]])


def _write(path: Path, text: str) -> None:
    # Write-then-rename: the plugin never serves a half-written page.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def build_scorecard(out_dir: Path | None = None, now: dt.datetime | None = None) -> Path:
    """Compute, render and write scorecard.html and scorecard.json (every department), one page per department
    officer's login role (its departments only), the access map the plugin enforces, and ops.scorecard; return
    the HTML path of the full page."""
    import shutil

    started = time.perf_counter()
    out_dir = out_dir or report_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    from govhub.ops import ensure_setup

    ensure_setup(db.GATE)
    with db.acting_as(db.GATE):  # reads raw, ops and the built tables; never restricted or the key
        data = compute(now)
        with db.connect() as conn:
            access = access_map(conn)
            _store(conn, data)
    html_path = out_dir / "scorecard.html"
    _write(out_dir / "scorecard.json", json.dumps(data, ensure_ascii=False, indent=1, default=str))
    _write(html_path, render(data))
    shutil.rmtree(out_dir / "officers", ignore_errors=True)  # an officer removed from the map loses its page
    for role, feeds in access["officers"].items():
        # its departments only; no link to the gate's Data Docs, no publication message naming other departments
        publication = data["publication"] and {**data["publication"], "message": None}
        mine = {**data, "departments": [d for d in data["departments"] if d["feed"] in feeds],
                "publication": publication, "data_docs_available": False}
        _write(officer_page(out_dir, role, ".json"), json.dumps(mine, ensure_ascii=False, indent=1, default=str))
        _write(officer_page(out_dir, role), render(mine))
    _write(out_dir / ACCESS_FILE, json.dumps(access, ensure_ascii=False, indent=1))
    log.info("scorecard written to %s in %.2fs", html_path, time.perf_counter() - started)
    return html_path
