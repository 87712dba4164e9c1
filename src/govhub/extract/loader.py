"""Generic raw loading: lineage columns, content hash, COPY, quarantine and reconciliation.

Every connector hands over plain records (``dict`` of source column -> original value); this module is the
only place that writes ``raw`` and the batch bookkeeping in ``ops``. One batch is one transaction: rows,
quarantine, batch row and watermark commit together, so a retried or killed task never half-loads.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from govhub.extract.registry import Feed, FeedObject

log = logging.getLogger(__name__)
LINEAGE = ["_source", "_object", "_batch_id", "_extracted_at", "_row_hash", "_record_key"]
Validator = Callable[[dict[str, Any]], list[str]]


class FeedError(RuntimeError):
    """A feed failed; the message names feed, object, column and what to do about it.

    ``retryable`` says whether another attempt can change the outcome: drift, a refused delivery, credentials
    refused after a token refresh or a contract violation cannot (Airflow fails the task at once); an
    unreachable source, a timeout, 5xx or 429 can (Airflow retries).
    """

    retryable = False

    def __init__(self, feed: str, obj: str, column: str | None, problem: str, fix: str, *,
                 retryable: bool | None = None):
        self.feed, self.object, self.column, self.problem, self.fix = feed, obj, column, problem, fix
        if retryable is not None:
            self.retryable = retryable
        self.drifts: list = []
        where = f"feed {feed}, object {obj}" + (f", column {column}" if column else "")
        super().__init__(f"{where}: {problem}. Fix: {fix}")


class SchemaDriftError(FeedError):
    pass


class SourceUnavailable(FeedError):
    """The department's system could not be reached (connection refused, timeout, 5xx, 429): worth a retry."""

    retryable = True


@dataclass
class BatchResult:
    feed: str
    object: str
    batch_id: str
    received: int = 0
    loaded: int = 0
    inserted: int = 0
    quarantined: int = 0
    watermark: str | None = None
    status: str = "succeeded"
    message: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def new_batch_id(feed: str, obj: str) -> str:
    return f"{feed}.{obj}.{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}.{uuid.uuid4().hex[:8]}"


def as_text(value: Any) -> str | None:
    """Raw keeps every value as text, exactly as received (timestamps in ISO-8601 with offset)."""
    if type(value) is str:  # the common case first: this runs once per value loaded
        return value
    if value is None:
        return None
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _hash_payload(values: list[str | None]) -> str:
    """The bytes row_hash digests, as one string: each value (NUL for null) followed by U+001F."""
    return "\x1f".join(["\x00" if v is None else v for v in values]) + "\x1f"


def row_hash(values: list[str | None]) -> str:
    """sha256 over each value's UTF-8 (a NUL byte for null) followed by 0x1F: the raw version's identity."""
    return hashlib.sha256(_hash_payload(values).encode("utf-8")).hexdigest()


def lock_feed_object(conn: psycopg.Connection, feed: str, obj: str) -> None:
    """Per-feed-object lock held until the batch commits: a retried or concurrent extract waits, then
    sees the committed watermark, so nothing is loaded twice."""
    conn.execute("select pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"extract:{feed}:{obj}",))


def read_watermark(conn: psycopg.Connection, feed: str, obj: str) -> str | None:
    row = conn.execute("select value from ops.watermark where feed = %s and object = %s", (feed, obj)).fetchone()
    return row[0] if row else None


def write_watermark(conn: psycopg.Connection, feed: str, obj: str, value: str) -> None:
    conn.execute(
        """insert into ops.watermark (feed, object, value) values (%s, %s, %s)
           on conflict (feed, object) do update set value = excluded.value, updated_at = now()
           where ops.watermark.value < excluded.value""", (feed, obj, value))


def ensure_raw_table(conn: psycopg.Connection, feed: Feed, obj: FeedObject) -> sql.Identifier:
    table = sql.Identifier("raw", feed.raw_table(obj))
    cols = [sql.SQL("{} text").format(sql.Identifier(c.lower())) for c in obj.columns]
    lineage = [sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL("timestamptz" if c == "_extracted_at" else "text not null"))
               for c in LINEAGE]
    conn.execute(sql.SQL("create table if not exists {} ({})").format(table, sql.SQL(", ").join(cols + lineage)))
    for c in obj.columns:  # a column added to the registry later is added to raw, never dropped
        conn.execute(sql.SQL("alter table {} add column if not exists {} text").format(table, sql.Identifier(c.lower())))
    conn.execute(sql.SQL("create unique index if not exists {} on {} (_record_key, _row_hash)").format(
        sql.Identifier(f"{feed.raw_table(obj)}__version_uq"), table))
    return table


LOAD_CHUNK_ROWS = 20_000  # rows held in memory between COPYs: bounds memory whatever the batch size


def load_batch(conn: psycopg.Connection, feed: Feed, obj: FeedObject, records: Iterable[dict[str, Any]], *,
               batch_id: str, validate: Validator | None = None, window: tuple[str | None, str | None] = (None, None),
               drop_name: str | None = None, watermark_of: Callable[[dict[str, Any]], str | None] | None = None,
               progress_every: int = 50_000, chunk_rows: int = LOAD_CHUNK_ROWS) -> BatchResult:
    """Load one batch inside the caller's transaction (which holds the feed-object lock).

    One pass per record in Python: its values as text, record key, row hash and validation (the connector's
    ``validate`` plus an empty key and NUL characters). Rows go straight into the raw table by COPY, a chunk at
    a time; before each chunk's COPY the versions (record key, row hash) raw already holds are looked up with
    one query and left out, so a re-load inserts nothing and each row is written once (no temp table and no
    second ``insert … select`` pass through the indexed raw table: that pass cost more than the COPY itself).
    """
    result = BatchResult(feed.name, obj.name, batch_id)
    table = ensure_raw_table(conn, feed, obj)
    columns = list(obj.columns)
    column_set, n_columns = set(columns), len(columns)
    multi_key = len(obj.primary_key) > 1
    key_at = [columns.index(k) for k in obj.primary_key]
    key_label = "+".join(obj.primary_key)
    # formatted once: COPY parses the text into timestamptz, instead of a datetime dumped once per row
    lineage = (feed.name, obj.name, batch_id, dt.datetime.now(dt.UTC).isoformat())
    copy_cols = sql.SQL(", ").join(sql.Identifier(c) for c in [c.lower() for c in columns] + LINEAGE)
    copy_stmt = sql.SQL("copy {} ({}) from stdin").format(table, copy_cols)
    existing_stmt = sql.SQL("""select r._record_key, r._row_hash from {} as r
                               join unnest(%b::text[], %b::text[]) as v(k, h) on r._record_key = v.k and r._row_hash = v.h
                            """).format(table)
    quarantine: list[tuple] = []
    chunk: dict[tuple[str, str], list] = {}  # (record key, row hash) -> row to copy; a repeated version once
    max_mark: str | None = None

    def flush() -> None:
        if not chunk:
            return
        keys, hashes = zip(*chunk, strict=True)
        for version in conn.execute(existing_stmt, (list(keys), list(hashes))).fetchall():
            chunk.pop(version, None)
        with conn.cursor().copy(copy_stmt) as copy:
            for row in chunk.values():
                copy.write_row(row)
        result.inserted += len(chunk)
        chunk.clear()

    for record in records:
        result.received += 1
        get = record.get
        values = [as_text(get(c)) for c in columns]
        reasons = validate(record) if validate else None
        key_values = [values[i] for i in key_at]
        record_key = "|".join(key_values) if None not in key_values else ""
        if not record_key.strip() or (multi_key and any(v.strip() == "" for v in key_values)):  # type: ignore[union-attr]
            reasons = [*(reasons or []), f"primary key {key_label} is empty"]
        payload = _hash_payload(values)
        nulls = values.count(None)
        # a NUL the payload did not put there for a null, or one in a key the registry does not load (a record
        # with other keys than the registered columns has a different length or a missing column, i.e. a null)
        if payload.count("\x00") != nulls or ((nulls or len(record) != n_columns) and record.keys() != column_set
                                             and any("\x00" in t for t in map(as_text, record.values()) if t)):
            reasons = [*(reasons or []), "a value contains a NUL character, which PostgreSQL text cannot store "
                       "(shown as \\u0000)"]
        if reasons:
            original = {k: t if (t := as_text(v)) is None else t.replace("\x00", "\\u0000") for k, v in record.items()}
            quarantine.append((batch_id, feed.name, obj.name, result.received,
                               json.dumps(original, ensure_ascii=False), list(reasons)))
            continue
        digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()
        version = (record_key, digest)
        if version not in chunk:
            values.extend(lineage)
            values.append(digest)
            values.append(record_key)
            chunk[version] = values
            if len(chunk) >= chunk_rows:
                flush()
        result.loaded += 1
        if watermark_of is not None:
            mark = watermark_of(record)
            if mark is not None and (max_mark is None or mark > max_mark):
                max_mark = mark
        if result.received % progress_every == 0:
            log.info("%s.%s: %d records received", feed.name, obj.name, result.received)
    flush()
    if quarantine:
        # ops.quarantine has row-level security (department officers read their own feed's rows), and PostgreSQL
        # refuses COPY FROM into such a table for a role that does not bypass it: copy into a scratch table first
        conn.execute("""create temp table if not exists quarantine_in (batch_id text, feed text, object text,
                            record_no int, record jsonb, reasons text[]) on commit drop""")
        with conn.cursor().copy("copy quarantine_in from stdin") as cp:
            for q in quarantine:
                cp.write_row(q)
        conn.execute("""insert into ops.quarantine (batch_id, feed, object, record_no, record, reasons)
                        select * from quarantine_in""")
        conn.execute("truncate quarantine_in")
    result.quarantined = len(quarantine)
    result.watermark = max_mark
    if max_mark is not None:
        write_watermark(conn, feed.name, obj.name, max_mark)
    conn.execute(
        """insert into ops.batch (batch_id, feed, object, finished_at, window_from, window_to, drop_name,
                                  received, loaded, inserted, quarantined, status)
           values (%s, %s, %s, now(), %s, %s, %s, %s, %s, %s, %s, 'succeeded')""",
        (batch_id, feed.name, obj.name, window[0], window[1], drop_name, result.received, result.loaded,
         result.inserted, result.quarantined))
    log.info("%s.%s batch %s: received %d = loaded %d + quarantined %d (new versions %d)", feed.name, obj.name,
             batch_id, result.received, result.loaded, result.quarantined, result.inserted)
    return result


def record_failure(conninfo: str, feed: str, obj: str, batch_id: str, message: str) -> None:
    """Failed batches are recorded outside the rolled-back transaction, so `hub status` shows them."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            """insert into ops.batch (batch_id, feed, object, finished_at, status, message)
               values (%s, %s, %s, now(), 'failed', %s) on conflict (batch_id) do nothing""",
            (batch_id, feed, obj, message[:2000]))
