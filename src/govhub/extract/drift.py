"""Schema drift of a department source, judged by what the hub can still read without loss.

Raw keeps every value as text, so most differences between the registry's type family and a department's
actual column type change nothing the hub reads: ``bigint`` keys arrive as text, ``varchar`` is text,
``timestamp without time zone`` is read as Asia/Shanghai (the contract's rule for naive timestamps), numeric
coordinates become their decimal text. Those are **warnings**: recorded in ``ops.schema_drift``, shown by
``hub status`` and the scorecard, and the object loads. A missing column, a vanished key column or a change
that loses information (a timestamp column that became a date, coordinates that became integers, ...) is
**blocking** for that object only: its extract fails without retry and the feed's other objects load.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

# information_schema data_type -> what the hub treats it as
SOURCE_TYPE_FAMILY = {
    "text": "text", "character varying": "text", "character": "text", "bpchar": "text", "name": "text",
    "smallint": "integer", "integer": "integer", "bigint": "integer",
    "numeric": "numeric", "real": "float", "double precision": "float",
    "boolean": "boolean", "date": "date",
    "timestamp with time zone": "timestamptz", "timestamp without time zone": "timestamp",
    "jsonb": "jsonb", "json": "jsonb", "uuid": "text",
}

# (registry family, source family) pairs read without loss: raw keeps text, so only the information matters.
# Anything else (e.g. timestamptz <- date, float <- integer, date <- integer) is lossy or ambiguous: blocking.
LOSSLESS: dict[str, set[str]] = {
    "text": {"text", "integer", "numeric", "float", "boolean", "date", "timestamptz", "timestamp", "jsonb"},
    "integer": {"integer", "numeric", "text"},     # text that is not a number becomes null + flag in staging
    "float": {"float", "numeric", "text"},
    "boolean": {"boolean", "text", "integer"},
    "date": {"date", "text", "timestamp", "timestamptz"},
    "timestamptz": {"timestamptz", "timestamp", "text"},  # naive timestamps are Asia/Shanghai (contract)
    "jsonb": {"jsonb", "text"},
}

DRIFT_DDL = """
create table if not exists ops.schema_drift (
    feed text not null,
    object text not null,
    column_name text not null,       -- '*' for the object as a whole
    kind text not null,              -- retyped / missing / unexpected / key_missing / ...
    severity text not null check (severity in ('warning', 'blocking')),
    expected text,
    actual text,
    detail text not null,            -- in words, with the fix
    first_seen timestamptz not null default now(),
    last_seen timestamptz not null default now(),
    primary key (feed, object, column_name, kind)
);
"""


@dataclass(frozen=True)
class Drift:
    feed: str
    object: str
    column: str | None
    kind: str
    severity: str  # 'warning' or 'blocking'
    expected: str | None
    actual: str | None
    detail: str

    @property
    def blocking(self) -> bool:
        return self.severity == "blocking"


def is_lossless(registry_family: str, source_family: str) -> bool:
    return registry_family == source_family or source_family in LOSSLESS.get(registry_family, set())


def record_drift(conn: psycopg.Connection, drifts: list[Drift]) -> None:
    """Upsert what was seen (first_seen kept, last_seen moved). Call in its own committed transaction so a
    failed load still leaves the record."""
    conn.execute(DRIFT_DDL)
    for d in drifts:
        conn.execute(
            """insert into ops.schema_drift (feed, object, column_name, kind, severity, expected, actual, detail)
               values (%s, %s, %s, %s, %s, %s, %s, %s)
               on conflict (feed, object, column_name, kind) do update
               set severity = excluded.severity, expected = excluded.expected, actual = excluded.actual,
                   detail = excluded.detail, last_seen = now()""",
            (d.feed, d.object, d.column or "*", d.kind, d.severity, d.expected, d.actual, d.detail))


def record_drift_autocommit(conninfo: str, drifts: list[Drift]) -> None:
    if not drifts:
        return
    with psycopg.connect(conninfo, autocommit=True) as conn:
        record_drift(conn, drifts)
