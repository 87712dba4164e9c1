"""files feeds: civil-affairs snapshot drops (CSV/XLSX + manifest) and petition XML exports.

Contract: shared/contracts/sources.md, sections 3 (civil) and 5 (petition).

Civil drops: a drop ``manifest_YYYYMMDD.json`` is taken only when every listed file exists and matches the
manifest's row count and sha256; otherwise it is skipped this run (an ``ops.batch`` row with status
``skipped`` names the file and the mismatch) and taken once the department completes it. A drop already in
``ops.accepted_drop`` with the same manifest sha256 is a re-delivery and is not loaded again. Each file is one
registry object (the file stem without the date); its rows go to raw via :func:`load_batch`, and the
snapshot is turned into change records in ``raw.<feed>__<object>__changes`` (``started``/``changed``/
``ended`` per record key and drop date). Raw rows, change records and the ``ops.accepted_drop`` row of one
drop commit in one transaction holding the ``(feed, 'drops')`` lock.

Petition exports: each ``xinfang_YYYYMMDD.xml`` not yet accepted (by name and sha256) is parsed with
defusedxml; a file that is not well-formed is rejected whole (a ``failed`` batch row with the parse error and
line) and the next file is processed.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import logging
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as DET
from psycopg import sql

from govhub.extract.loader import (
    BatchResult,
    FeedError,
    SchemaDriftError,
    as_text,
    load_batch,
    lock_feed_object,
    new_batch_id,
    record_failure,
    row_hash,
)
from govhub.extract.registry import Feed, FeedObject
from govhub.ops import ensure_ops

log = logging.getLogger(__name__)
MANIFEST_RE = re.compile(r"^manifest_(\d{8})\.json$")
DATA_FILE_RE = re.compile(r"^(?P<stem>.+)_(?P<date>\d{8})\.(?P<ext>csv|xlsx)$")
PETITION_RE = re.compile(r"^xinfang_(\d{8})\.xml$")
TOTALS_LABEL = "合计"
BOM = b"\xef\xbb\xbf"
DROPS_LOCK = "drops"
PETITION_FIELDS = ["id", "channel", "petitioner_idNumber", "petitioner_name", "petitioner_phone",
                   "petitioner_address", "headcount", "receivedAt", "category", "targetDept", "isFirst",
                   "escalation", "status", "closedAt", "oneTimeResolved", "satisfaction", "updatedAt"]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _accepted_sha(conn: psycopg.Connection, feed: str, drop_name: str) -> str | None:
    row = conn.execute("select sha256 from ops.accepted_drop where feed = %s and drop_name = %s",
                       (feed, drop_name)).fetchone()
    return row[0] if row else None


def _accept(conn: psycopg.Connection, feed: str, drop_name: str, sha: str, batch_id: str) -> None:
    conn.execute("insert into ops.accepted_drop (feed, drop_name, sha256, batch_id) values (%s, %s, %s, %s)",
                 (feed, drop_name, sha, batch_id))


def _record_skip(conninfo: str, feed: str, obj: str, batch_id: str, drop_name: str, message: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            """insert into ops.batch (batch_id, feed, object, finished_at, drop_name, status, message)
               values (%s, %s, %s, now(), %s, 'skipped', %s) on conflict (batch_id) do nothing""",
            (batch_id, feed, obj, drop_name, message[:2000]))
    log.warning("%s: %s skipped: %s", feed, drop_name, message)


# ------------------------------------------------------------------------------------------ file reading
def _check_header(feed: Feed, obj: FeedObject, header: list[str], file_name: str) -> None:
    expected = list(obj.columns)
    for col in expected:
        if col not in header:
            raise SchemaDriftError(feed.name, obj.name, col, f"column missing from the header of {file_name} "
                                   f"(header: {header})", f"ask {feed.department} to restore it, or update "
                                   "the registry")
    for col in header:
        if col not in expected:
            raise SchemaDriftError(feed.name, obj.name, col, f"unexpected column in the header of {file_name}",
                                   f"register the column with {feed.department}'s agreement, or ask them to "
                                   "remove it")


def _is_skippable(cells: list[Any]) -> bool:
    """A blank row, or the department's totals row (first cell 合计)."""
    texts = ["" if c is None else str(c).strip() for c in cells]
    return all(t == "" for t in texts) or texts[0] == TOTALS_LABEL


def decode_text(data: bytes) -> str:
    """GBK text (with BOM bytes in front at times); UTF-8 (with or without BOM) is tolerated too."""
    if data.startswith(BOM):
        data = data[len(BOM):]
    try:
        return data.decode("utf-8")  # GBK-encoded Chinese is practically never valid UTF-8
    except UnicodeDecodeError:
        return data.decode("gb18030")  # superset of GBK


def _csv_rows(data: bytes) -> tuple[list[str], list[list[str | None]]]:
    reader = csv.reader(io.StringIO(decode_text(data), newline=""))
    header = next(reader, [])
    rows = [[c if c.strip() != "" else None for c in row] for row in reader if row and not _is_skippable(row)]
    return [h.strip() for h in header], rows


def _xlsx_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) and value.tzinfo is None else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    return text if text.strip() != "" else None


def _xlsx_rows(data: bytes) -> tuple[list[str], list[list[str | None]]]:
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        it = wb.worksheets[0].iter_rows(values_only=True)
        header_cells = list(next(it, ()))
        while header_cells and header_cells[-1] is None:
            header_cells.pop()
        header = ["" if h is None else str(h).strip() for h in header_cells]
        rows = []
        for cells in it:
            values = [_xlsx_text(c) for c in list(cells)[: len(header)]]
            if values and not _is_skippable(values):
                rows.append(values)
    finally:
        wb.close()
    return header, rows


def read_table_file(feed: Feed, obj: FeedObject, name: str, data: bytes) -> list[dict[str, str | None]]:
    """Records (header -> text) of one CSV/XLSX file, without blank and totals rows; header checked."""
    header, rows = (_xlsx_rows if name.endswith(".xlsx") else _csv_rows)(data)
    _check_header(feed, obj, header, name)
    return [dict(zip(header, row + [None] * (len(header) - len(row)), strict=False)) for row in rows]


# ------------------------------------------------------------------------------------------ civil drops
@dataclass
class _Drop:
    manifest: Path
    drop_name: str
    drop_date: dt.date
    sha: str
    files: list[tuple[FeedObject, str, list[dict[str, Any]]]] = field(default_factory=list)


def _object_of(feed: Feed, file_name: str) -> FeedObject:
    m = DATA_FILE_RE.match(file_name)
    stem = m.group("stem") if m else Path(file_name).stem
    if stem not in feed.objects:
        raise SchemaDriftError(feed.name, stem, None, f"file {file_name} has no object in the registry",
                               f"register object {stem} or ask {feed.department} why it is delivered")
    obj = feed.objects[stem]
    if not obj.primary_key:
        raise FeedError(feed.name, stem, None, "a snapshot object needs a primary key (the person-ID column) "
                        "to derive change records", "set primary_key in the registry")
    return obj


def _prepare_drop(feed: Feed, directory: Path, manifest: Path) -> tuple[_Drop | None, str | None, str]:
    """(drop, None, '') when complete; (None, reason, object) when it must wait for the department."""
    raw = manifest.read_bytes()
    try:
        spec = json.loads(raw.decode("utf-8-sig"))
        listed = spec["files"]
        drop_date = dt.date.fromisoformat(spec.get("drop_date") or "")
    except (ValueError, KeyError, TypeError) as exc:
        return None, f"manifest {manifest.name} is unreadable ({exc})", DROPS_LOCK
    drop = _Drop(manifest, manifest.name, drop_date, _sha256(raw))
    for entry in listed:
        name = entry["name"]
        obj = _object_of(feed, name)
        path = directory / name
        if not path.is_file():
            return None, f"file {name} listed in {manifest.name} is missing", obj.name
        data = path.read_bytes()
        sha = _sha256(data)
        if sha != entry["sha256"]:
            return None, (f"file {name}: sha256 {sha} does not match the manifest's {entry['sha256']} "
                          f"({len(data)} bytes; incomplete or changed delivery)"), obj.name
        records = read_table_file(feed, obj, name, data)
        if len(records) != int(entry["rows"]):
            return None, f"file {name}: {len(records)} rows, the manifest says {entry['rows']}", obj.name
        drop.files.append((obj, name, records))
    return drop, None, ""


def changes_table(feed: Feed, obj: FeedObject) -> sql.Identifier:
    return sql.Identifier("raw", f"{feed.raw_table(obj)}__changes")


def _ensure_changes_table(conn: psycopg.Connection, feed: Feed, obj: FeedObject) -> sql.Identifier:
    table = changes_table(feed, obj)
    conn.execute(sql.SQL(
        """create table if not exists {} (
               record_key text not null,
               change text not null check (change in ('started', 'changed', 'ended')),
               drop_date date not null,
               row_hash text not null,
               _batch_id text,
               primary key (record_key, drop_date))""").format(table))
    return table


def _snapshot(obj: FeedObject, records: list[dict[str, Any]]) -> dict[str, str]:
    """record key -> row hash, computed exactly as load_batch does; rows without a key are quarantined."""
    out: dict[str, str] = {}
    columns = list(obj.columns)
    for r in records:
        key_values = [as_text(r.get(k)) for k in obj.primary_key]
        if any(v is None or v.strip() == "" for v in key_values):
            continue
        out.setdefault("|".join(key_values), row_hash([as_text(r.get(c)) for c in columns]))  # type: ignore[misc]
    return out


def _state(conn: psycopg.Connection, table: sql.Identifier, upto: dt.date, inclusive: bool) -> dict[str, str]:
    """The snapshot as of ``upto`` (before it unless ``inclusive``), replayed from the change records."""
    op = sql.SQL("<=" if inclusive else "<")
    rows = conn.execute(sql.SQL(
        """select record_key, change, row_hash from (
               select distinct on (record_key) record_key, change, row_hash from {} where drop_date {} %s
               order by record_key, drop_date desc) s""").format(table, op), (upto,)).fetchall()
    return {k: h for k, change, h in rows if change != "ended"}


def _diff(before: dict[str, str], after: dict[str, str]) -> list[tuple[str, str, str]]:
    out = [(k, "started", h) for k, h in after.items() if k not in before]
    out += [(k, "changed", h) for k, h in after.items() if k in before and before[k] != h]
    out += [(k, "ended", h) for k, h in before.items() if k not in after]
    return out


def _write_changes(conn: psycopg.Connection, table: sql.Identifier, changes: list[tuple[str, str, str]],
                   drop_date: dt.date, batch_id: str) -> None:
    with conn.cursor().copy(sql.SQL("copy {} (record_key, change, drop_date, row_hash, _batch_id) from stdin")
                            .format(table)) as copy:
        for key, change, h in changes:
            copy.write_row((key, change, drop_date, h, batch_id))


def record_changes(conn: psycopg.Connection, feed: Feed, obj: FeedObject, records: list[dict[str, Any]],
                   drop_date: dt.date, batch_id: str) -> int:
    """Change records of the drop of ``drop_date`` against the previous accepted drop of ``obj``.

    A drop that arrives after a later one was accepted (a truncated drop completed a day later) is slotted in
    by date: its changes are taken against the drop before it, and the next drop's changes are recomputed.
    """
    table = _ensure_changes_table(conn, feed, obj)
    current = _snapshot(obj, records)
    nxt = conn.execute(sql.SQL("select min(drop_date) from {} where drop_date > %s").format(table),
                       (drop_date,)).fetchone()[0]
    if nxt is not None:
        later = _state(conn, table, nxt, inclusive=True)
        later_batch = conn.execute(sql.SQL("select min(_batch_id) from {} where drop_date = %s").format(table),
                                   (nxt,)).fetchone()[0]
        conn.execute(sql.SQL("delete from {} where drop_date = %s").format(table), (nxt,))
    before = _state(conn, table, drop_date, inclusive=False)
    changes = _diff(before, current)
    _write_changes(conn, table, changes, drop_date, batch_id)
    if nxt is not None:
        _write_changes(conn, table, _diff(current, later), nxt, later_batch or batch_id)
    return len(changes)


def _manifests(directory: Path) -> list[Path]:
    found = [p for p in directory.iterdir() if p.is_file() and MANIFEST_RE.match(p.name)] if directory.is_dir() else []
    return sorted(found, key=lambda p: MANIFEST_RE.match(p.name).group(1))  # type: ignore[union-attr]


def extract_civil_drops(feed: Feed, warehouse_conninfo: str, directory: Path) -> list[BatchResult]:
    """Load every complete, not yet accepted snapshot drop in ``directory`` (date order); see module doc."""
    with psycopg.connect(warehouse_conninfo) as conn:
        ensure_ops(conn)
        accepted = {name: sha for name, sha in conn.execute(
            "select drop_name, sha256 from ops.accepted_drop where feed = %s", (feed.name,)).fetchall()}
    results: list[BatchResult] = []
    for manifest in _manifests(directory):
        sha = _sha256(manifest.read_bytes())
        if accepted.get(manifest.name) == sha:
            log.info("%s: %s already accepted (re-delivery), not loaded again", feed.name, manifest.name)
            continue
        if manifest.name in accepted:
            batch_id = new_batch_id(feed.name, DROPS_LOCK)
            message = (f"manifest {manifest.name} differs from the one accepted earlier (sha256 {accepted[manifest.name]}"
                       f", now {sha}); a drop is loaded once. Ask {feed.department} what changed")
            _record_skip(warehouse_conninfo, feed.name, DROPS_LOCK, batch_id, manifest.name, message)
            results.append(BatchResult(feed.name, DROPS_LOCK, batch_id, status="skipped", message=message))
            continue
        drop_batch = new_batch_id(feed.name, DROPS_LOCK)
        try:
            drop, reason, obj_name = _prepare_drop(feed, directory, manifest)
        except Exception as exc:
            record_failure(warehouse_conninfo, feed.name, getattr(exc, "object", DROPS_LOCK), drop_batch,
                           f"{manifest.name}: {exc}")
            raise
        if drop is None:
            message = f"drop {manifest.name} incomplete, skipped this run: {reason}"
            _record_skip(warehouse_conninfo, feed.name, obj_name, drop_batch, manifest.name, message)
            results.append(BatchResult(feed.name, obj_name, drop_batch, status="skipped", message=message))
            continue
        try:
            results.extend(_load_drop(feed, warehouse_conninfo, drop, drop_batch))
        except Exception as exc:
            record_failure(warehouse_conninfo, feed.name, DROPS_LOCK, drop_batch, f"{manifest.name}: {exc}")
            raise
    return results


def _load_drop(feed: Feed, conninfo: str, drop: _Drop, drop_batch: str) -> list[BatchResult]:
    out: list[BatchResult] = []
    with psycopg.connect(conninfo) as conn, conn.transaction():
        lock_feed_object(conn, feed.name, DROPS_LOCK)
        if _accepted_sha(conn, feed.name, drop.drop_name) is not None:  # a concurrent run took it meanwhile
            return out
        for obj, name, records in drop.files:
            batch_id = new_batch_id(feed.name, obj.name)
            result = load_batch(conn, feed, obj, records, batch_id=batch_id, drop_name=name,
                                window=(drop.drop_date.isoformat(), drop.drop_date.isoformat()))
            n = record_changes(conn, feed, obj, records, drop.drop_date, batch_id)
            log.info("%s.%s %s: %d change records", feed.name, obj.name, name, n)
            out.append(result)
        _accept(conn, feed.name, drop.drop_name, drop.sha, drop_batch)
    return out


# ------------------------------------------------------------------------------------------ petitions
def _text(el: ET.Element | None) -> str | None:
    if el is None or el.text is None:
        return None
    return el.text.strip() or None


def petition_records(root: ET.Element) -> list[dict[str, str | None]]:
    out = []
    for p in root.iter("petition"):
        rec: dict[str, str | None] = {"id": p.get("id")}
        person = p.find("petitioner")
        for f in ("idNumber", "name", "phone", "address"):
            rec[f"petitioner_{f}"] = _text(person.find(f)) if person is not None else None
        for f in PETITION_FIELDS:
            if f not in rec:
                rec[f] = _text(p.find(f))
        out.append(rec)
    return out


def _petition_object(feed: Feed) -> FeedObject:
    if "petition" in feed.objects:
        return feed.objects["petition"]
    if len(feed.objects) == 1:
        return next(iter(feed.objects.values()))
    raise FeedError(feed.name, "petition", None, "no registry object for the petition exports",
                    "register object 'petition' with primary_key [id]")


def extract_petition_files(feed: Feed, warehouse_conninfo: str, directory: Path) -> list[BatchResult]:
    """Load each not yet accepted ``xinfang_YYYYMMDD.xml``; a file that is not well-formed is rejected whole."""
    obj = _petition_object(feed)
    with psycopg.connect(warehouse_conninfo) as conn:
        ensure_ops(conn)
        accepted = {name: sha for name, sha in conn.execute(
            "select drop_name, sha256 from ops.accepted_drop where feed = %s", (feed.name,)).fetchall()}
    files = sorted(p for p in directory.iterdir() if p.is_file() and PETITION_RE.match(p.name)) \
        if directory.is_dir() else []
    results: list[BatchResult] = []
    for path in files:
        data = path.read_bytes()
        sha = _sha256(data)
        if accepted.get(path.name) == sha:
            continue
        batch_id = new_batch_id(feed.name, obj.name)
        if path.name in accepted:
            message = (f"file {path.name} differs from the one accepted earlier (sha256 {accepted[path.name]}, "
                       f"now {sha}); an export is loaded once. Ask {feed.department} what changed")
            _record_skip(warehouse_conninfo, feed.name, obj.name, batch_id, path.name, message)
            results.append(BatchResult(feed.name, obj.name, batch_id, status="skipped", message=message))
            continue
        try:
            root = DET.fromstring(data, forbid_dtd=True)
        except ET.ParseError as exc:
            line, col = getattr(exc, "position", (None, None))
            message = (f"file {path.name} rejected whole: not well-formed XML ({exc}; line {line}, column {col}). "
                       f"Fix: ask {feed.department} to re-export it")
        except DefusedXmlException as exc:
            message = f"file {path.name} rejected whole: forbidden XML construct ({exc!r})"
        else:
            message = None
        if message is not None:
            record_failure(warehouse_conninfo, feed.name, obj.name, batch_id, message)
            log.error("%s: %s", feed.name, message)
            results.append(BatchResult(feed.name, obj.name, batch_id, status="failed", message=message))
            continue
        records = petition_records(root)
        try:
            with psycopg.connect(warehouse_conninfo) as conn, conn.transaction():
                lock_feed_object(conn, feed.name, obj.name)
                if _accepted_sha(conn, feed.name, path.name) is not None:
                    continue
                results.append(load_batch(conn, feed, obj, records, batch_id=batch_id, drop_name=path.name,
                                          watermark_of=lambda r: r.get("updatedAt")))
                _accept(conn, feed.name, path.name, sha, batch_id)
        except Exception as exc:
            record_failure(warehouse_conninfo, feed.name, obj.name, batch_id, f"{path.name}: {exc}")
            raise
    return results
