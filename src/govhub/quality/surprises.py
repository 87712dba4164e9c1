"""What each department's data did that the hub had to work around, in one reading.

One department's surprise never stops the county: the hub holds what is broken, publishes what is healthy, and
says what it held, why and how to release it. This module is the one place that gathers those facts — objects
whose extract is failing (drift, a refused delivery), batches held by the feed gate or by the build, drift
warnings, codes outside the contract's dictionaries, dbt tests the data tripped — for the publication message,
`hub status` and the scorecard.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg

from govhub import db
from govhub.ops import ensure_ops


def _exists(conn: psycopg.Connection, relation: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (relation,)).fetchone()[0]


def _rows(conn: psycopg.Connection, query: str, params: Any = None) -> list[dict[str, Any]]:
    cur = conn.execute(query, params)
    names = [d.name for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def failing_objects(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Feed objects whose latest extract did not load (failed), with the reason and since when. An object that
    loaded since is healthy again and not listed. Refused file deliveries (they carry a drop name) are listed by
    rejected_drops instead: a later delivery loads while the refused one waits for its re-delivery."""
    return _rows(conn, """
        with latest as (
            select distinct on (feed, object) feed, object, status, message, started_at
            from ops.batch where status <> 'skipped' and drop_name is null order by feed, object, started_at desc),
        first_failure as (
            select b.feed, b.object, min(b.started_at) as since from ops.batch b join latest l using (feed, object)
            where b.status in ('failed', 'rejected') and b.drop_name is null and b.started_at > coalesce(
                (select max(started_at) from ops.batch s where s.feed = b.feed and s.object = b.object
                   and s.status = 'succeeded'), '-infinity')
            group by b.feed, b.object)
        select l.feed, l.object, l.status, l.message, f.since
        from latest l join first_failure f using (feed, object)
        where l.status in ('failed', 'rejected') order by l.feed, l.object""")


def rejected_drops(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Deliveries refused whole (a civil drop's manifest, ...) that no later delivery of the same name replaced."""
    if not _exists(conn, "ops.rejected_drop"):
        return []
    return _rows(conn, """
        select r.feed, r.drop_name, r.reason, r.rejected_at from ops.rejected_drop r
        where not exists (select from ops.accepted_drop a where a.feed = r.feed and a.drop_name = r.drop_name)
        order by r.feed, r.drop_name""")


def drift(conn: psycopg.Connection) -> list[dict[str, Any]]:
    if not _exists(conn, "ops.schema_drift"):
        return []
    return _rows(conn, """select feed, object, column_name, kind, severity, expected, actual, detail, first_seen, last_seen
                          from ops.schema_drift order by feed, object, severity, column_name""")


def unknown_codes(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Values outside the contract's dictionaries, mapped to `unknown` by staging (per feed, column and value)."""
    if not _exists(conn, "intermediate.int_quality__unknown_codes"):
        return []
    return _rows(conn, """select feed, object, column_name, raw_value, records
                          from intermediate.int_quality__unknown_codes order by feed, object, column_name,
                          records desc, raw_value""")


def invalid_values(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Impossible values staging turned into null plus a flag (year 0, coordinates outside the county, ...)."""
    if not _exists(conn, "intermediate.int_quality__invalid_values"):
        return []
    return _rows(conn, """select feed, object, field, records from intermediate.int_quality__invalid_values
                          order by feed, object, records desc, field""")


def build_warnings(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """dbt tests (severity warn) that the department's data tripped in the last build."""
    return _rows(conn, """
        select feed, expectation as test, left(observed, 500) as observed from ops.validation_result
        where suite = 'dbt' and run_id = (select run_id from ops.validation_result where suite = 'dbt'
                                          order by validated_at desc limit 1)
        order by feed, expectation""")


def collect(conn: psycopg.Connection | None = None) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """feed -> {failing, rejected, held, drift, unknown_codes, invalid_values, build_warnings} (only what is non-empty)."""
    from govhub.quality.feed_gate import held_summary

    if conn is None:
        with db.connect() as own:
            ensure_ops(own)
            return collect(own)
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    parts = {"failing": failing_objects(conn), "rejected": rejected_drops(conn), "held": held_summary(conn),
             "drift": drift(conn), "unknown_codes": unknown_codes(conn), "invalid_values": invalid_values(conn), "build_warnings": build_warnings(conn)}
    for kind, rows in parts.items():
        for r in rows:
            out.setdefault(r.get("feed") or "hub", {}).setdefault(kind, []).append(r)
    return out


def _when(t: dt.datetime | None) -> str:
    return f"{t:%Y-%m-%d %H:%M %Z}" if t else "?"


def publication_message() -> str | None:
    """What a publication carries: what it was published without, why, and how to release it."""
    from govhub.quality.feed_gate import held_message

    lines: list[str] = []
    held = held_message()
    if held:
        lines.append(held)
    with db.connect() as conn:
        ensure_ops(conn)
        failing = failing_objects(conn)
        # a refusal or a drift warning is news once: the versions after it stay quiet (hub status and the
        # scorecard keep listing what is outstanding)
        last = conn.execute("select max(published_at) from ops.publication where gate_success").fetchone()[0]
        rejected = [r for r in rejected_drops(conn) if last is None or r["rejected_at"] > last]
        warnings = [d for d in drift(conn) if d["severity"] == "warning" and (last is None or d["first_seen"] > last)]
    if failing:
        lines.append("not loaded (their last extract failed; the last good data of these objects is published, "
                     "the next successful extract takes them in):")
        lines += [f"  {f['feed']}.{f['object']} since {_when(f['since'])}: {(f['message'] or '')[:400]}"
                  for f in failing]
    if rejected:
        lines.append("deliveries refused (a new delivery with the same name and a corrected manifest is taken):")
        lines += [f"  {r['feed']} {r['drop_name']}: {r['reason'][:300]}" for r in rejected]
    if warnings:
        lines.append(f"{len(warnings)} schema drift warning(s) read without loss (`hub status` lists them)")
    return "\n".join(lines) or None
