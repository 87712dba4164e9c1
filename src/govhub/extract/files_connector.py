"""files feeds: civil-affairs snapshot drops (CSV/XLSX + manifest) and petition XML exports.

Contract: shared/contracts/sources.md, sections 3 (civil) and 5 (petition).

Where drops are found: flat in the exchange directory (``manifest_YYYYMMDD.json`` next to its files) or one
folder per day (``<dir>/YYYYMMDD/manifest_YYYYMMDD.json`` + files); the manifest's folder is the *drop
directory* its file names are relative to. Petition exports likewise: ``xinfang_YYYYMMDD.xml`` flat or in
``<dir>/YYYYMMDD/``. Everything is taken in date order.

Three outcomes for a civil drop that is not yet accepted (department data never raises; only hub errors do):

* **skipped** (may still become valid: the department may still be writing): a listed file is missing or
  unreadable, its sha256 differs from the manifest's, or its row count matches none of the accepted readings
  of the manifest's ``rows`` (data rows only; data rows + the ``合计`` totals row; data rows + the header
  line). An ``ops.batch`` row with status ``skipped`` names the file and the mismatch; the next run re-checks.
* **rejected** (cannot become valid by waiting): the manifest is a symbolic link leading out of its directory,
  lies in a ``YYYYMMDD`` day folder that is such a link (refused as the folder: ``drop_name`` is its name), is
  larger than :data:`MAX_MANIFEST_BYTES` (refused unread), is not JSON or has the wrong shape, names a path
  outside its drop directory (``..``, an absolute path, a symbolic link leading out), names a file with
  no registry object or twice, omits a registered register, or a file whose sha256 matches has a header
  without a registered column or cannot be read as CSV/XLSX at all. The refusal is recorded in
  ``ops.rejected_drop (feed, drop_name, sha256, reason)`` and as a ``failed`` ``ops.batch`` row naming the
  reason; that manifest (by sha256) is not evaluated again. A re-delivery — a manifest with other bytes — is
  evaluated afresh.
* **loaded**: each file is one registry object (the file stem without the date); its registered columns go to
  raw via :func:`load_batch` (an unexpected extra header column is a drift *warning* in ``ops.schema_drift``,
  not loaded), and the snapshot is turned into change records in ``raw.<feed>__<object>__changes``
  (``started``/``changed``/``ended`` per record key and drop date) against the previous *accepted* drop, so a
  rejected or skipped day in between is simply not a snapshot. Raw rows, change records and the
  ``ops.accepted_drop`` row of one drop commit in one transaction holding the ``(feed, 'drops')`` lock. A drop
  already in ``ops.accepted_drop`` with the same manifest sha256 is a re-delivery and is not loaded again.

CSV: GBK, GB18030 or UTF-8, with or without a BOM; blank lines and a trailing ``合计`` totals row are not
records. Header names match the registry after trimming spaces, BOM and zero-width characters and folding
full-width forms (``（`` = ``(``). A row with non-empty cells beyond the header, a record key longer than
:data:`MAX_KEY_CHARS` or a value with a NUL character is quarantined with its reason. XLSX: first sheet,
date cells as ISO dates, a formula cell without a cached value as its formula text (never evaluated).

Petition exports: each file not yet accepted (by name and sha256) is parsed with defusedxml, DTDs forbidden
(entity expansion, external entities); a file that is not well-formed, not a ``<petitions>`` document, or
contains a DTD is rejected whole (``ops.rejected_drop`` + a ``failed`` batch row with the reason) and the next
file is processed; an export that is a symbolic link out of its directory, lies in a day folder linked out of
the exchange directory, or exceeds ``max_file_bytes`` is rejected likewise, unread. The petition watermark is
the latest *parseable* ``updatedAt`` (ISO-8601, ``Z``/``+08:00``/``+0800``, fractions; naive = Asia/Shanghai),
in UTC; the raw text is kept as received.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import logging
import re
import unicodedata
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml import ElementTree as DET
from psycopg import sql

from govhub.extract.drift import Drift, record_drift_autocommit
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
MANIFEST_RE = re.compile(r"manifest_([0-9]{8})\.json", re.ASCII)  # always fullmatch
DATA_FILE_RE = re.compile(r"(?P<stem>.+)_(?P<date>[0-9]{8})\.(?P<ext>csv|xlsx)", re.ASCII | re.IGNORECASE)
PETITION_RE = re.compile(r"xinfang_([0-9]{8})\.xml", re.ASCII)
DAY_DIR_RE = re.compile(r"[0-9]{8}", re.ASCII)
TOTALS_LABEL = "合计"
BOM = b"\xef\xbb\xbf"
GB18030_BOM = b"\x84\x31\x95\x33"
DROPS_LOCK = "drops"
TZ = ZoneInfo("Asia/Shanghai")
MAX_MANIFEST_BYTES = 1 << 20  # a manifest lists four files; anything this big is not one
# a register file of a drop or a petition export: the biggest real one is a few MB; larger is refused before it is
# read (feed option max_file_bytes)
MAX_FILE_BYTES = 256 << 20


def _max_file_bytes(feed: Feed) -> int:
    return int(feed.options.get("max_file_bytes", MAX_FILE_BYTES))


def _oversize(path: Path, limit: int) -> int | None:
    """The file's size when it is over ``limit`` (a symbolic link's target counts), else None."""
    try:
        size = path.stat().st_size
    except OSError:
        return None  # missing / unreadable: the caller's read reports it
    return size if size > limit else None
MAX_XLSX_UNCOMPRESSED = 1 << 30  # a zip bomb is refused before openpyxl inflates it
MAX_KEY_CHARS = 256  # record keys are ID numbers / petition ids; the raw unique index cannot take huge keys
EXTRA_CELLS = "_extra_cells"  # carries non-empty cells beyond the header into the quarantined record
PETITION_FIELDS = ["id", "channel", "petitioner_idNumber", "petitioner_name", "petitioner_phone",
                   "petitioner_address", "headcount", "receivedAt", "category", "targetDept", "isFirst",
                   "escalation", "status", "closedAt", "oneTimeResolved", "satisfaction", "updatedAt"]

REJECTED_DDL = """
create table if not exists ops.rejected_drop (
    feed text not null,
    drop_name text not null,
    sha256 text not null,            -- of the manifest (civil) / of the file (petition) that was refused
    reason text not null,            -- in words, with what the department must do
    rejected_at timestamptz not null default now(),
    primary key (feed, drop_name, sha256)
);
"""


class _Refuse(Exception):
    """Department data that cannot become valid by waiting: the drop is rejected."""

    def __init__(self, reason: str, obj: str = DROPS_LOCK, drifts: list[Drift] | None = None, fix: str | None = None):
        super().__init__(reason)
        self.reason, self.object, self.drifts = reason, obj, drifts or []
        self.fix = fix  # what the department must do, when more specific than re-delivering (said once, by _reject)


class _Wait(Exception):
    """Department data that may still be being written: the drop is skipped this run."""

    def __init__(self, reason: str, obj: str = DROPS_LOCK):
        super().__init__(reason)
        self.reason, self.object = reason, obj


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _show(text: Any, limit: int = 120) -> str:
    """Department-supplied text for a message: control, bidi and other invisible characters escaped, cut short."""
    s = str(text)
    out = "".join(f"\\u{ord(c):04x}" if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") else c for c in s)
    return out if len(out) <= limit else out[:limit] + f"…({len(s)} characters)"


def _db_text(message: str) -> str:
    return message.replace("\x00", "\\u0000")[:2000]


def _accepted_sha(conn: psycopg.Connection, feed: str, drop_name: str) -> str | None:
    row = conn.execute("select sha256 from ops.accepted_drop where feed = %s and drop_name = %s",
                       (feed, drop_name)).fetchone()
    return row[0] if row else None


def _accept(conn: psycopg.Connection, feed: str, drop_name: str, sha: str, batch_id: str) -> None:
    conn.execute("insert into ops.accepted_drop (feed, drop_name, sha256, batch_id) values (%s, %s, %s, %s)",
                 (feed, drop_name, sha, batch_id))


def ensure_rejected_table(conn: psycopg.Connection) -> None:
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(4711)")  # the same DDL lock as ensure_ops
        conn.execute(REJECTED_DDL)


def _known(conninfo: str, feed: str) -> tuple[dict[str, str], set[tuple[str, str]]]:
    """(accepted drop name -> sha256, {(rejected drop name, sha256)}) of ``feed``."""
    with psycopg.connect(conninfo) as conn:
        ensure_ops(conn)
        ensure_rejected_table(conn)
        accepted = dict(conn.execute("select drop_name, sha256 from ops.accepted_drop where feed = %s",
                                     (feed,)).fetchall())
        rejected = {(n, s) for n, s in conn.execute("select drop_name, sha256 from ops.rejected_drop where feed = %s",
                                                    (feed,)).fetchall()}
    return accepted, rejected


def _record_skip(conninfo: str, feed: str, obj: str, batch_id: str, drop_name: str, message: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            """insert into ops.batch (batch_id, feed, object, finished_at, drop_name, status, message)
               values (%s, %s, %s, now(), %s, 'skipped', %s) on conflict (batch_id) do nothing""",
            (batch_id, feed, obj, drop_name, _db_text(message)))
    log.warning("%s: %s skipped: %s", feed, drop_name, message)


def _reject(conninfo: str, feed: Feed, obj: str, drop_name: str, sha: str, reason: str, what: str,
            fix: str | None = None) -> BatchResult:
    """Refuse ``drop_name`` (this sha256) for good: ops.rejected_drop + a failed ops.batch row, in one commit."""
    batch_id = new_batch_id(feed.name, obj)
    fix = fix or f"ask {feed.department} to re-deliver it"
    message = (f"{what} {drop_name} rejected: {reason}. It is not evaluated again; fix: {fix} "
               f"(a new {'manifest' if what == 'drop' else 'file'} is evaluated afresh)")
    with psycopg.connect(conninfo, autocommit=True) as conn, conn.transaction():  # (table made by _known)
        conn.execute("""insert into ops.rejected_drop (feed, drop_name, sha256, reason) values (%s, %s, %s, %s)
                        on conflict (feed, drop_name, sha256) do nothing""",
                     (feed.name, drop_name, sha, _db_text(reason)))
        conn.execute(
            """insert into ops.batch (batch_id, feed, object, finished_at, drop_name, status, message)
               values (%s, %s, %s, now(), %s, 'failed', %s)""",
            (batch_id, feed.name, obj, drop_name, _db_text(message)))
    log.error("%s: %s", feed.name, message)
    return BatchResult(feed.name, obj, batch_id, status="rejected", message=message)


# ------------------------------------------------------------------------------------------ finding drops
@dataclass(frozen=True)
class _Found:
    date: str  # YYYYMMDD of the file name
    layout: int  # 0 flat, 1 per-day folder
    path: Path
    drop_dir: Path  # the directory the file's (manifest's) names are relative to
    day_folder: bool = False  # path is a YYYYMMDD folder that leads outside drop_dir: refused, never listed


def _inside(path: Path, directory: Path) -> bool:
    try:
        return path.resolve().is_relative_to(directory.resolve())
    except (OSError, RuntimeError, ValueError):  # symlink loop, unreadable
        return False


def _find(directory: Path, pattern: re.Pattern[str]) -> list[_Found]:
    """Files named ``pattern`` flat in ``directory`` or in its ``YYYYMMDD`` folders, in date order. A day folder
    that is a symbolic link leading outside ``directory`` is not listed: it comes back as a ``day_folder`` entry,
    which :func:`_read_own` refuses, so that the feed records the refusal."""
    if not directory.is_dir():
        return []
    found: list[_Found] = []
    for p in directory.iterdir():
        m = pattern.fullmatch(p.name)
        if m and (p.is_symlink() or p.is_file()):
            found.append(_Found(m.group(1), 0, p, directory))
        elif DAY_DIR_RE.fullmatch(p.name) and (p.is_symlink() or p.is_dir()):
            if not _inside(p, directory):
                found.append(_Found(p.name, 1, p, directory, day_folder=True))
                continue
            if not p.is_dir():
                continue  # a link to a file (or nowhere) inside the directory: no drop in it
            for q in p.iterdir():
                m = pattern.fullmatch(q.name)
                if m and (q.is_symlink() or q.is_file()):
                    found.append(_Found(m.group(1), 1, q, p))
    return sorted(found, key=lambda f: (f.date, f.layout, str(f.path)))


def _read_own(found: _Found, limit: int | None = None, limit_name: str = "feed option max_file_bytes",
              ) -> tuple[bytes | None, str, str | None]:
    """(bytes, sha256, refusal): a file (or day folder) that is a symbolic link out of its directory, or a file
    larger than ``limit`` bytes, is never read: the size is taken before reading, and the read itself stops one
    byte past the limit (a file that grows meanwhile is refused all the same)."""
    if found.day_folder or (found.path.is_symlink() and not _inside(found.path, found.drop_dir)):
        try:
            target = str(found.path.readlink())
        except OSError:
            target = "(unreadable link)"
        what = "day folder " if found.day_folder else ""
        fix = (" Fix: deliver the day's files in a real folder of the exchange directory, not a link to one"
               if found.day_folder else "")
        return None, _sha256(f"symlink:{target}".encode("utf-8", "surrogatepass")), (
            f"{what}{found.path.name} is a symbolic link to {_show(target)}, outside its directory: not read.{fix}")

    def over(size: int) -> tuple[None, str, str]:
        return None, _sha256(f"oversize:{size}:{found.path.stat().st_mtime_ns}".encode()), (
            f"{found.path.name} is {size} bytes, over the limit of {limit} bytes: not read ({limit_name})")

    if limit is None:
        data = found.path.read_bytes()
    else:
        size = _oversize(found.path, limit)
        if size is not None:
            return over(size)
        with found.path.open("rb") as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            return over(found.path.stat().st_size)
    return data, _sha256(data), None


# ------------------------------------------------------------------------------------------ file reading
_INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                               "\u2066\u2067\u2068\u2069\u061c"), None)


def header_key(name: Any) -> str:
    """A header name as compared with the registry: full-width forms folded (NFKC), BOM / zero-width / bidi
    characters removed, surrounding spaces trimmed."""
    return unicodedata.normalize("NFKC", "" if name is None else str(name)).translate(_INVISIBLE).strip()


@dataclass
class _Table:
    records: list[dict[str, Any]]
    totals_rows: int
    unexpected: list[str]  # header names (as sent) that are not registered
    missing: list[str]  # registered columns absent from the header
    header: list[str]  # as sent


def _blank(cells: list[Any]) -> bool:
    return all(c is None or str(c).strip() == "" for c in cells)


def _is_totals(cells: list[Any]) -> bool:
    """The department's totals row: its first non-empty cell is 合计 (optionally followed by a colon)."""
    first = next((str(c).strip() for c in cells if c is not None and str(c).strip() != ""), "")
    return header_key(first).rstrip(":") == TOTALS_LABEL


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 (a superset of GBK; BOM bytes of either kind in front tolerated).
    Raises UnicodeDecodeError for bytes that are neither."""
    if data.startswith(GB18030_BOM):
        return data[len(GB18030_BOM):].decode("gb18030")
    if data.startswith(BOM):
        data = data[len(BOM):]
    try:
        return data.decode("utf-8")  # GBK-encoded Chinese is practically never valid UTF-8
    except UnicodeDecodeError:
        return data.decode("gb18030")


def _csv_grid(data: bytes) -> list[list[Any]]:
    try:
        text = decode_text(data)
    except UnicodeDecodeError as exc:
        raise _Refuse(f"not text in UTF-8, GBK or GB18030 (undecodable byte at offset {exc.start})") from exc
    try:
        return [[c if c.strip() != "" else None for c in row] for row in csv.reader(io.StringIO(text, newline=""))]
    except csv.Error as exc:
        raise _Refuse(f"not readable as CSV ({exc})") from exc


def _xlsx_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) and value.tzinfo is None else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(getattr(value, "text", value))  # an array formula object carries its text
    return text if text.strip() != "" else None


def _xlsx_grid(data: bytes) -> list[list[Any]]:
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            inflated = sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise _Refuse(f"not an XLSX workbook (not a zip archive: {exc})") from exc
    if inflated > MAX_XLSX_UNCOMPRESSED:
        raise _Refuse(f"the workbook inflates to {inflated} bytes (over {MAX_XLSX_UNCOMPRESSED}): refused unread")
    try:
        # cached values, and the formulas for cells without one: a formula is kept as text, never evaluated
        values = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        formulas = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
        try:
            if not values.worksheets:
                raise _Refuse("the workbook has no worksheet")
            sheets = [values.worksheets[0], formulas.worksheets[0]]
            for ws in sheets:
                ws.reset_dimensions()  # a hostile <dimension> must not pad every row to 16,384 columns
            grid = []
            for cached, formula in zip_longest(*(ws.iter_rows(values_only=True) for ws in sheets), fillvalue=()):
                grid.append([_xlsx_text(v if v is not None else f) for v, f in zip_longest(cached, formula)])
        finally:
            values.close()
            formulas.close()
    except _Refuse:
        raise
    except Exception as exc:  # openpyxl raises many kinds on a broken workbook: all are the department's file
        raise _Refuse(f"not readable as an XLSX workbook ({type(exc).__name__}: {_show(exc, 300)})") from exc
    return grid


def _table(feed: Feed, obj: FeedObject, name: str, data: bytes) -> _Table:
    """Records (registered column -> text) of one CSV/XLSX file: blank rows and a trailing totals row dropped;
    header names matched after :func:`header_key`; unregistered columns reported, not loaded."""
    grid = (_xlsx_grid if name.lower().endswith(".xlsx") else _csv_grid)(data)
    start = next((i for i, row in enumerate(grid) if not _blank(row)), len(grid))
    header = list(grid[start]) if start < len(grid) else []
    while header and (header[-1] is None or str(header[-1]).strip() == ""):
        header.pop()
    body = [row for row in grid[start + 1:] if not _blank(row)]
    totals = 1 if body and _is_totals(body[-1]) else 0
    if totals:
        body.pop()
    registered = {header_key(c): c for c in obj.columns}
    index: dict[str, int] = {}
    unexpected: list[str] = []
    for i, h in enumerate(header):
        key = header_key(h)
        col = registered.get(key)
        if col is None and len(key) > 2 and key[0] == "(" and key[-1] == ")":  # （姓名）: a name in parentheses
            col = registered.get(key[1:-1].strip())
        if col is None:
            if key != "" or any(i < len(row) and row[i] is not None for row in body):
                unexpected.append("" if h is None else str(h))
            continue
        if col in index:
            raise _Refuse(f"column {col} appears twice in the header (columns {index[col] + 1} and {i + 1})", obj.name)
        index[col] = i
    width = len(header)
    records = []
    for row in body:
        rec: dict[str, Any] = {col: (row[i] if i < len(row) else None) for col, i in index.items()}
        extra = [c for c in row[width:] if c is not None]
        if extra:
            rec[EXTRA_CELLS] = extra
        records.append(rec)
    missing = [c for c in obj.columns if c not in index]
    return _Table(records, totals, unexpected, missing, ["" if h is None else str(h) for h in header])


def read_table_file(feed: Feed, obj: FeedObject, name: str, data: bytes) -> list[dict[str, Any]]:
    """Records (registered column -> text) of one CSV/XLSX file, without blank and totals rows; a registered
    column missing from the header raises :class:`SchemaDriftError` naming it."""
    try:
        table = _table(feed, obj, name, data)
    except _Refuse as exc:
        raise SchemaDriftError(feed.name, obj.name, None, f"{name}: {exc.reason}",
                               f"ask {feed.department} to re-export it") from exc
    if table.missing:
        raise SchemaDriftError(feed.name, obj.name, table.missing[0], f"column missing from the header of {name}",
                               f"ask {feed.department} to restore it, or update the registry")
    return table.records


def _has_nul(record: dict[str, Any]) -> bool:
    return any("\x00" in t for t in map(as_text, record.values()) if t)


def _key_reasons(obj: FeedObject) -> Any:
    """Record-level checks of a files object (load_batch's ``validate``): ragged rows and oversize keys.
    (Empty keys and NUL characters are load_batch's own reasons.)"""
    def validate(record: dict[str, Any]) -> list[str]:
        reasons = []
        if record.get(EXTRA_CELLS):
            reasons.append(f"{len(record[EXTRA_CELLS])} non-empty cell(s) beyond the header's columns (an unquoted "
                           "delimiter?): the row cannot be mapped to columns safely")
        for k in obj.primary_key:
            v = as_text(record.get(k))
            if v is not None and len(v) > MAX_KEY_CHARS:
                reasons.append(f"key {k} is {len(v)} characters long (at most {MAX_KEY_CHARS} are accepted)")
        return reasons
    return validate


# ------------------------------------------------------------------------------------------ civil drops
@dataclass
class _Drop:
    manifest: Path
    drop_name: str
    drop_date: dt.date
    sha: str
    files: list[tuple[FeedObject, str, list[dict[str, Any]]]] = field(default_factory=list)
    drifts: list[Drift] = field(default_factory=list)


def _check_registry(feed: Feed) -> None:
    """Hub configuration errors raise (FeedError) before any drop is looked at."""
    for obj in feed.objects.values():
        if not obj.primary_key:
            raise FeedError(feed.name, obj.name, None, "a snapshot object needs a primary key (the person-ID column) "
                            "to derive change records", "set primary_key in the registry")


def _object_of(feed: Feed, file_name: str) -> FeedObject:
    base = re.split(r"[\\/]", file_name)[-1]
    m = DATA_FILE_RE.fullmatch(base)
    stem = m.group("stem") if m else Path(base).stem
    if stem not in feed.objects:
        raise _Refuse(f"file {_show(file_name)} has no register (object) in the registry: expected one of "
                      f"{', '.join(feed.objects)}. Fix: {feed.department} removes it from the drop, or the hub "
                      f"registers object {_show(stem)}")
    if Path(base).suffix.lower() not in (".csv", ".xlsx"):
        raise _Refuse(f"file {_show(file_name)} is neither .csv nor .xlsx", stem)
    return feed.objects[stem]


def _safe_path(drop_dir: Path, name: str) -> Path:
    """The file a manifest entry names, refused when it is not a plain path inside the drop directory."""
    if "\x00" in name:
        raise _Refuse(f"file name {_show(name)} contains a NUL character")
    parts = re.split(r"[\\/]", name)
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
        raise _Refuse(f"file {_show(name)} is an absolute path: the manifest may only name files of its drop "
                      "directory")
    if ".." in parts:
        raise _Refuse(f"file {_show(name)} climbs out of the drop directory ('..'): the manifest may only name "
                      "files of its drop directory")
    path = drop_dir / name
    if not _inside(path, drop_dir):
        raise _Refuse(f"file {_show(name)} is a symbolic link (or lies under one) whose target is outside the "
                      "drop directory: not read")
    return path


def _manifest_entries(raw: bytes, manifest: str, name_date: str) -> tuple[dt.date, list[tuple[str, int, str]]]:
    """(drop date, [(file name, rows, sha256)]) of a manifest, or _Refuse naming what is wrong with it."""
    # (its size is bounded before it is read: _read_own with MAX_MANIFEST_BYTES)
    try:
        spec = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _Refuse(f"manifest is not UTF-8 JSON ({_show(exc, 200)})") from exc
    if not isinstance(spec, dict) or not isinstance(spec.get("files"), list):
        raise _Refuse('manifest does not have the contract\'s shape {"drop_date": "YYYY-MM-DD", "files": [...]}')
    named = dt.datetime.strptime(name_date, "%Y%m%d").date()
    if spec.get("drop_date") is None:
        drop_date = named
    else:
        try:
            drop_date = dt.date.fromisoformat(spec["drop_date"])
        except (TypeError, ValueError) as exc:
            raise _Refuse(f"drop_date {_show(spec['drop_date'])} is not a date YYYY-MM-DD") from exc
        if drop_date != named:
            raise _Refuse(f"drop_date {drop_date} disagrees with the manifest's name ({manifest})")
    entries: list[tuple[str, int, str]] = []
    for i, e in enumerate(spec["files"], 1):
        name, rows, sha = (e.get("name"), e.get("rows"), e.get("sha256")) if isinstance(e, dict) else (None,) * 3
        if isinstance(rows, str) and rows.strip().isascii() and rows.strip().isdigit():
            rows = int(rows)
        if not isinstance(name, str) or not name.strip():
            raise _Refuse(f"files entry {i} has no file name")
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
            raise _Refuse(f"files entry {i} ({_show(name)}): rows {_show(rows)} is not a row count")
        if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", sha):
            raise _Refuse(f"files entry {i} ({_show(name)}): sha256 {_show(sha)} is not a SHA-256 hex digest")
        if any(name == n for n, _, _ in entries):
            raise _Refuse(f"file {_show(name)} is listed twice")
        entries.append((name, rows, sha.lower()))
    return drop_date, entries


def _rows_reading(listed: int, data_rows: int, totals: int) -> str | None:
    """Which accepted reading of the manifest's ``rows`` matches the file, or None."""
    if listed == data_rows:
        return "data rows only"
    readings = []
    if totals and listed == data_rows + totals:
        readings.append("data rows + the 合计 totals row")
    if listed == data_rows + 1:
        readings.append("data rows + the header line")
    return " or ".join(readings) or None


def _prepare_drop(feed: Feed, found: _Found, raw: bytes, sha: str) -> _Drop:
    """The drop, ready to load; raises _Refuse (reject for good) or _Wait (skip this run). Department data only:
    anything else raising here is a hub error."""
    name = found.path.name
    drop_date, entries = _manifest_entries(raw, name, found.date)
    drop = _Drop(found.path, name, drop_date, sha)
    planned: list[tuple[FeedObject, str, Path, int, str]] = []
    for file_name, rows, file_sha in entries:  # everything refusable from the manifest alone, first
        path = _safe_path(found.drop_dir, file_name)
        obj = _object_of(feed, file_name)
        if any(o.name == obj.name for o, *_ in planned):
            raise _Refuse(f"register {obj.name} is listed twice (again as {_show(file_name)})", obj.name)
        planned.append((obj, file_name, path, rows, file_sha))
    omitted = [o for o in feed.objects if o not in {obj.name for obj, *_ in planned}]
    if omitted:
        raise _Refuse(f"the manifest omits the registered register(s) {', '.join(omitted)}: a drop is the full "
                      "snapshot of every register", omitted[0])
    waits: list[_Wait] = []
    for obj, file_name, path, rows, file_sha in planned:
        size = _oversize(path, _max_file_bytes(feed))
        if size is not None:
            raise _Refuse(f"file {_show(file_name)} is {size} bytes, over the limit of {_max_file_bytes(feed)} bytes: "
                          f"not read. Ask {feed.department} whether it is right (the limit is the feed option "
                          "max_file_bytes)", obj.name)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            waits.append(_Wait(f"file {_show(file_name)} listed in {name} is missing", obj.name))
            continue
        except OSError as exc:
            waits.append(_Wait(f"file {_show(file_name)} listed in {name} cannot be read ({exc.strerror})", obj.name))
            continue
        actual = _sha256(data)
        if actual != file_sha:
            waits.append(_Wait(f"file {_show(file_name)}: sha256 {actual} does not match the manifest's {file_sha} "
                               f"({len(data)} bytes; incomplete or changed delivery)", obj.name))
            continue
        try:
            table = _table(feed, obj, file_name, data)
        except _Refuse as exc:
            raise _Refuse(f"file {_show(file_name)}: {exc.reason}", obj.name) from exc
        if table.missing:
            reason = (f"file {_show(file_name)}: the header lacks the registered column(s) {', '.join(table.missing)}"
                      f" (schema drift; header: {_show(table.header, 400)})")
            raise _Refuse(reason, obj.name, [
                Drift(feed.name, obj.name, col, "key_missing" if col in obj.primary_key else "missing", "blocking",
                      obj.columns[col], None, f"{reason}. Fix: ask {feed.department} to restore it, or update the "
                      "registry") for col in table.missing])
        for col in table.unexpected:
            shown = _show(col, 100) or "(no name)"
            drop.drifts.append(Drift(feed.name, obj.name, shown, "unexpected", "warning", None, None,
                                     f"column {shown} in the header of {file_name} is not in the registry: its "
                                     f"values are not loaded. Fix: register it with {feed.department}'s agreement, "
                                     "or ask them to remove it"))
        data_rows = len(table.records)
        reading = _rows_reading(rows, data_rows, table.totals_rows)
        if reading is None:
            waits.append(_Wait(f"file {_show(file_name)}: {data_rows} rows, the manifest says {rows}", obj.name))
            continue
        log.info("%s: %s: manifest rows %d read as %s (%d data rows, %d totals row)", feed.name, file_name, rows,
                 reading, data_rows, table.totals_rows)
        drop.files.append((obj, file_name, table.records))
    if waits:
        raise _Wait("; ".join(w.reason for w in waits), waits[0].object)
    return drop


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
    """record key -> row hash, computed exactly as load_batch does; rows load_batch quarantines are left out."""
    out: dict[str, str] = {}
    columns = list(obj.columns)
    validate = _key_reasons(obj)
    for r in records:
        key_values = [as_text(r.get(k)) for k in obj.primary_key]
        if any(v is None or v.strip() == "" for v in key_values) or validate(r) or _has_nul(r):
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


def _manifests(directory: Path) -> list[_Found]:
    return _find(directory, MANIFEST_RE)


def extract_civil_drops(feed: Feed, warehouse_conninfo: str, directory: Path) -> list[BatchResult]:
    """Load every complete, not yet accepted snapshot drop in ``directory`` (date order); see module doc.

    Returns one result per loaded file (``succeeded``) and one per drop that did not load (``skipped`` /
    ``rejected``); raises only for hub errors (registry, database)."""
    _check_registry(feed)
    accepted, rejected = _known(warehouse_conninfo, feed.name)
    results: list[BatchResult] = []
    for found in _manifests(directory):
        name = found.path.name
        try:
            raw, sha, escape = _read_own(found, MAX_MANIFEST_BYTES, "a manifest lists a few files")
        except OSError as exc:  # vanished or unreadable between listing and reading: look again next run
            batch_id = new_batch_id(feed.name, DROPS_LOCK)
            message = f"drop {name} incomplete, skipped this run: manifest cannot be read ({exc.strerror})"
            _record_skip(warehouse_conninfo, feed.name, DROPS_LOCK, batch_id, name, message)
            results.append(BatchResult(feed.name, DROPS_LOCK, batch_id, status="skipped", message=message))
            continue
        if accepted.get(name) == sha:
            log.info("%s: %s already accepted (re-delivery), not loaded again", feed.name, name)
            continue
        if (name, sha) in rejected:
            log.info("%s: %s was rejected before (same sha256 %s): waiting for a re-delivery", feed.name, name, sha)
            continue
        if name in accepted:
            batch_id = new_batch_id(feed.name, DROPS_LOCK)
            message = (f"manifest {name} differs from the one accepted earlier (sha256 {accepted[name]}, now {sha}); "
                       f"a drop is loaded once. Ask {feed.department} what changed")
            _record_skip(warehouse_conninfo, feed.name, DROPS_LOCK, batch_id, name, message)
            results.append(BatchResult(feed.name, DROPS_LOCK, batch_id, status="skipped", message=message))
            continue
        try:
            if escape is not None:
                raise _Refuse(escape)
            drop = _prepare_drop(feed, found, raw, sha)  # type: ignore[arg-type]
        except _Refuse as exc:
            record_drift_autocommit(warehouse_conninfo, exc.drifts)
            results.append(_reject(warehouse_conninfo, feed, exc.object, name, sha, exc.reason, "drop", exc.fix))
            rejected.add((name, sha))
            continue
        except _Wait as exc:
            batch_id = new_batch_id(feed.name, exc.object)
            message = f"drop {name} incomplete, skipped this run: {exc.reason}"
            _record_skip(warehouse_conninfo, feed.name, exc.object, batch_id, name, message)
            results.append(BatchResult(feed.name, exc.object, batch_id, status="skipped", message=message))
            continue
        record_drift_autocommit(warehouse_conninfo, drop.drifts)
        for d in drop.drifts:
            log.warning("%s.%s: %s", d.feed, d.object, d.detail)
        drop_batch = new_batch_id(feed.name, DROPS_LOCK)
        try:
            loaded = _load_drop(feed, warehouse_conninfo, drop, drop_batch)
        except Exception as exc:
            record_failure(warehouse_conninfo, feed.name, DROPS_LOCK, drop_batch, _db_text(f"{name}: {exc}"))
            raise
        results.extend(loaded)
        if loaded:
            accepted[name] = sha  # a second copy of the same drop (flat and per-day folder) is a re-delivery
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
                                validate=_key_reasons(obj),
                                window=(drop.drop_date.isoformat(), drop.drop_date.isoformat()))
            n = record_changes(conn, feed, obj, records, drop.drop_date, batch_id)
            log.info("%s.%s %s: %d change records", feed.name, obj.name, name, n)
            out.append(result)
        _accept(conn, feed.name, drop.drop_name, drop.sha, drop_batch)
    return out


# ------------------------------------------------------------------------------------------ petitions
def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(el: ET.Element | None, name: str) -> ET.Element | None:
    if el is None:
        return None
    return next((c for c in el if _local(c.tag) == name), None)


def _text(el: ET.Element | None) -> str | None:
    if el is None:
        return None
    return "".join(el.itertext()).strip() or None


def petition_records(root: ET.Element) -> list[dict[str, str | None]]:
    out = []
    for p in root.iter():
        if _local(p.tag) != "petition":
            continue
        rec: dict[str, str | None] = {"id": p.get("id")}
        person = _child(p, "petitioner")
        for f in ("idNumber", "name", "phone", "address"):
            rec[f"petitioner_{f}"] = _text(_child(person, f))
        for f in PETITION_FIELDS:
            if f not in rec:
                rec[f] = _text(_child(p, f))
        out.append(rec)
    return out


def parse_time(value: Any) -> dt.datetime | None:
    """An ISO-8601 date-time (``Z``, ``+08:00``, ``+0800``, fractions; naive = Asia/Shanghai), else None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if len(text) < 11 or not text[:4].isascii() or "\x00" in text:
        return None  # a bare date is not an update time
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return t.replace(tzinfo=TZ) if t.tzinfo is None else t


def petition_watermark(record: dict[str, Any]) -> str | None:
    """The record's ``updatedAt`` in UTC, fixed width (so text order is time order); None when unparseable."""
    t = parse_time(record.get("updatedAt"))
    return None if t is None else t.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _petition_object(feed: Feed) -> FeedObject:
    if "petition" in feed.objects:
        return feed.objects["petition"]
    if len(feed.objects) == 1:
        return next(iter(feed.objects.values()))
    raise FeedError(feed.name, "petition", None, "no registry object for the petition exports",
                    "register object 'petition' with primary_key [id]")


def _parse_petitions(data: bytes, feed: Feed) -> ET.Element:
    """The document's root, or _Refuse with the reason in words (and the fix, which _reject says once)."""
    fix = f"ask {feed.department} to re-export it"
    try:
        root = DET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except ET.ParseError as exc:
        line, col = getattr(exc, "position", (None, None))
        raise _Refuse(f"not well-formed XML ({_show(exc, 200)}; line {line}, column {col})", fix=fix) from exc
    except DTDForbidden as exc:
        raise _Refuse("it contains a DTD (<!DOCTYPE ...>), which is forbidden: a DTD can declare entities that "
                      "expand without bound or read local files (entity expansion, external entities)",
                      fix=f"{fix} without a DOCTYPE") from exc
    except (EntitiesForbidden, ExternalReferenceForbidden) as exc:
        raise _Refuse(f"it declares or references entities, which are forbidden ({_show(exc, 200)})",
                      fix=f"{fix} without entity declarations") from exc
    except DefusedXmlException as exc:
        raise _Refuse(f"forbidden XML construct ({_show(exc, 200)})", fix=fix) from exc
    except (ValueError, RecursionError, MemoryError) as exc:  # e.g. an encoding expat cannot read
        raise _Refuse(f"not readable as XML ({type(exc).__name__}: {_show(exc, 200)})", fix=fix) from exc
    if _local(root.tag) != "petitions":
        raise _Refuse(f"the root element is <{_show(_local(root.tag))}>, not <petitions>: not a petition export")
    return root


def extract_petition_files(feed: Feed, warehouse_conninfo: str, directory: Path) -> list[BatchResult]:
    """Load each not yet accepted ``xinfang_YYYYMMDD.xml`` (flat or in day folders, date order); a file that
    cannot be read as a petition export is rejected whole and the next one is processed."""
    obj = _petition_object(feed)
    accepted, rejected = _known(warehouse_conninfo, feed.name)
    results: list[BatchResult] = []
    for found in _find(directory, PETITION_RE):
        name = found.path.name
        try:
            data, sha, escape = _read_own(found, _max_file_bytes(feed))
        except OSError as exc:
            batch_id = new_batch_id(feed.name, obj.name)
            message = f"file {name} cannot be read this run ({exc.strerror}); retried next run"
            _record_skip(warehouse_conninfo, feed.name, obj.name, batch_id, name, message)
            results.append(BatchResult(feed.name, obj.name, batch_id, status="skipped", message=message))
            continue
        if accepted.get(name) == sha:
            continue
        if (name, sha) in rejected:
            log.info("%s: %s was rejected before (same sha256 %s): waiting for a re-export", feed.name, name, sha)
            continue
        if name in accepted:
            batch_id = new_batch_id(feed.name, obj.name)
            message = (f"file {name} differs from the one accepted earlier (sha256 {accepted[name]}, "
                       f"now {sha}); an export is loaded once. Ask {feed.department} what changed")
            _record_skip(warehouse_conninfo, feed.name, obj.name, batch_id, name, message)
            results.append(BatchResult(feed.name, obj.name, batch_id, status="skipped", message=message))
            continue
        try:
            if escape is not None:
                raise _Refuse(escape)
            records = petition_records(_parse_petitions(data, feed))  # type: ignore[arg-type]
        except _Refuse as exc:
            results.append(_reject(warehouse_conninfo, feed, obj.name, name, sha, exc.reason, "file", exc.fix))
            rejected.add((name, sha))
            continue
        batch_id = new_batch_id(feed.name, obj.name)
        try:
            with psycopg.connect(warehouse_conninfo) as conn, conn.transaction():
                lock_feed_object(conn, feed.name, obj.name)
                if _accepted_sha(conn, feed.name, name) is not None:
                    continue
                results.append(load_batch(conn, feed, obj, records, batch_id=batch_id, drop_name=name,
                                          validate=_key_reasons(obj), watermark_of=petition_watermark))
                _accept(conn, feed.name, name, sha, batch_id)
            accepted[name] = sha
        except Exception as exc:
            record_failure(warehouse_conninfo, feed.name, obj.name, batch_id, _db_text(f"{name}: {exc}"))
            raise
    return results
