"""``kind: sql`` feeds: incremental by the update column, server-side cursor, COPY into raw.

The contract names each table's columns, not their SQL types: a department's ``bigint`` key, ``varchar`` text or
``timestamp without time zone`` is read without loss and reported as a drift *warning* (govhub.extract.drift);
only a missing column, a vanished key or a lossy type holds the object.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from operator import itemgetter, methodcaller
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql
from psycopg.types.datetime import DateLoader, TimestampLoader, TimestamptzLoader

from govhub.extract.drift import SOURCE_TYPE_FAMILY, Drift, is_lossless
from govhub.extract.loader import SchemaDriftError, Validator
from govhub.extract.registry import Feed, FeedObject

# The contract: the time zone of every naive timestamp is Asia/Shanghai.
NAIVE_TZ = ZoneInfo("Asia/Shanghai")
# kept for callers that only need the family of an information_schema type
TYPE_FAMILY = SOURCE_TYPE_FAMILY


@dataclass(frozen=True)
class SourceShape:
    """How the department actually spells and types a registry object (names may differ in case only)."""

    table: str
    names: dict[str, str]   # registry column -> source column name
    types: dict[str, str]   # registry column -> information_schema data_type


def source_columns(conn: psycopg.Connection, obj: FeedObject) -> tuple[str | None, dict[str, str]]:
    """(source table name, column name -> data_type); the table name matches case-insensitively (a
    department on Oracle upper-cases, one on MySQL may not)."""
    rows = conn.execute(
        """select table_name, column_name, data_type from information_schema.columns
           where table_schema = current_schema() and lower(table_name) = lower(%s)
           order by (table_name = %s) desc, table_name, ordinal_position""", (obj.name, obj.name)).fetchall()
    if not rows:
        return None, {}
    table = rows[0][0]
    return table, {name: dtype for t, name, dtype in rows if t == table}


def check_schema(conn: psycopg.Connection, feed: Feed, obj: FeedObject) -> tuple[SourceShape, list[Drift]]:
    """Compare the source table with the registry: returns (the source's shape, drifts).

    Warnings (lossless retypes, unexpected new columns) are returned; a missing table, a missing column, a
    vanished key column or a lossy type raises SchemaDriftError (not retryable) naming the column, with every
    drift found attached as ``exc.drifts``.
    """
    table, actual = source_columns(conn, obj)
    if table is None or not actual:
        exc = SchemaDriftError(feed.name, obj.name, None, f"table {obj.name} not found in the source",
                               f"ask {feed.department} whether it was renamed, or update sources.yml")
        exc.drifts = [Drift(feed.name, obj.name, None, "table_missing", "blocking", obj.name, None, str(exc))]
        raise exc
    by_lower = {name.lower(): name for name in actual}
    drifts: list[Drift] = []
    types: dict[str, str] = {}
    names: dict[str, str] = {}
    for column, family in obj.columns.items():
        name = column if column in actual else by_lower.get(column.lower())
        if name is None:
            key = column in obj.primary_key
            drifts.append(Drift(
                feed.name, obj.name, column, "key_missing" if key else "missing", "blocking", family, None,
                f"expected {'key ' if key else ''}column is missing (dropped or renamed); present: {sorted(actual)}. "
                f"Fix: ask {feed.department} to restore {column}, or update sources.yml"))
            continue
        dtype = actual[name]
        types[column], names[column] = dtype, name
        source_family = SOURCE_TYPE_FAMILY.get(dtype, dtype)
        if source_family == family:
            continue
        if is_lossless(family, source_family):
            drifts.append(Drift(feed.name, obj.name, column, "retyped", "warning", family, dtype,
                                f"source type {dtype} read without loss as {family} (raw keeps text"
                                + ("; naive times read as Asia/Shanghai" if dtype == "timestamp without time zone"
                                   else "") + ")"))
        else:
            drifts.append(Drift(feed.name, obj.name, column, "retyped_lossy", "blocking", family, dtype,
                                f"source type {dtype} cannot carry a {family} without loss. Fix: ask "
                                f"{feed.department} to restore the type, or change the registry after agreeing "
                                "the column's meaning"))
    unexpected = sorted(c for c in actual if c not in names.values())
    if unexpected:
        drifts.append(Drift(feed.name, obj.name, None, "unexpected", "warning", None, ", ".join(unexpected),
                            f"new column(s) {unexpected} not in the registry: not loaded. Fix: register them in "
                            "sources.yml (and staging) once their meaning is agreed with the department"))
    blocking = [d for d in drifts if d.blocking]
    if blocking:
        first = blocking[0]
        exc = SchemaDriftError(feed.name, obj.name, first.column, first.detail.split(". Fix: ")[0],
                               first.detail.split(". Fix: ")[-1] if ". Fix: " in first.detail else "update sources.yml")
        exc.drifts = drifts
        raise exc
    return SourceShape(table, names, types), drifts


def _tolerant(loader: type) -> type:
    """A loader that hands over the source's own text when Python cannot hold the value (year 0 or BC,
    year > 9999, 'infinity'): raw keeps it as received and staging turns it into null plus a flag."""

    class Tolerant(loader):  # type: ignore[misc, valid-type]
        def load(self, data: Any) -> Any:
            try:
                return super().load(data)
            except (psycopg.DataError, ValueError, OverflowError):
                return bytes(data).decode("utf-8", "replace")

    Tolerant.__name__ = f"Tolerant{loader.__name__}"
    return Tolerant


TOLERANT_LOADERS = {"date": _tolerant(DateLoader), "timestamp": _tolerant(TimestampLoader),
                    "timestamptz": _tolerant(TimestamptzLoader)}


def make_tolerant(conn: psycopg.Connection) -> None:
    """Register the tolerant date/time loaders on a source connection (text protocol)."""
    for name, loader in TOLERANT_LOADERS.items():
        conn.adapters.register_loader(name, loader)


def _naive_bound(value: str, source_type: str | None) -> Any:
    """A bound for a ``timestamp without time zone`` column is compared in Asia/Shanghai wall time."""
    if source_type != "timestamp without time zone":
        return value
    t = dt.datetime.fromisoformat(value)
    if t.tzinfo is not None:
        t = t.astimezone(NAIVE_TZ).replace(tzinfo=None)
    return t


def incremental_bounds(obj: FeedObject, watermark: str | None) -> str | None:
    """Lower bound = watermark minus the overlap window (late commits of concurrent source transactions)."""
    if watermark is None:
        return None
    overlap = dt.timedelta(minutes=int(obj.incremental.get("overlap_minutes", 0)))
    fmt = obj.incremental.get("format")
    if fmt:
        return (dt.datetime.strptime(watermark, fmt) - overlap).strftime(fmt)
    return (dt.datetime.fromisoformat(watermark) - overlap).isoformat()


def watermark_value(obj: FeedObject, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=NAIVE_TZ)
        fmt = obj.incremental.get("format")
        if fmt:  # a text-format update column that the department typed as a timestamp
            return value.astimezone(NAIVE_TZ).strftime(fmt)
        return value.astimezone(dt.UTC).isoformat()
    return str(value)


_FIXED_WIDTH = {"%Y": 4, "%m": 2, "%d": 2, "%H": 2, "%M": 2, "%S": 2}


def _fixed_width_parser(fmt: str) -> Callable[[str], bool] | None:
    """For a format made only of %Y %m %d %H %M %S (e.g. ``%Y%m%d%H%M%S``): a check that a value written at full
    width is a valid time, without strptime (~5 µs a row on the load path). True means strptime accepts it too;
    False means "not sure": the caller asks strptime, so the verdict is strptime's either way."""
    parts = [fmt[i:i + 2] for i in range(0, len(fmt), 2)]
    if len(fmt) % 2 or not parts or any(p not in _FIXED_WIDTH for p in parts) or len(set(parts)) != len(parts):
        return None
    slices, at = {}, 0
    for p in parts:
        slices[p] = (at, at + _FIXED_WIDTH[p])
        at += _FIXED_WIDTH[p]
    # datetime's positional fields; a directive the format lacks takes strptime's default
    spec = [(*slices[p], None) if p in slices else (0, 0, default)
            for p, default in zip(("%Y", "%m", "%d", "%H", "%M", "%S"), (1900, 1, 1, 0, 0, 0), strict=True)]

    def valid_fields(value: str) -> bool:
        try:
            dt.datetime(*[int(value[a:b]) if default is None else default for a, b, default in spec])
        except ValueError:
            return False
        return True

    if fmt.startswith("%Y%m%d") and set(parts[3:]) <= {"%H", "%M", "%S"}:
        # the common case (e.g. %Y%m%d%H%M%S): a day is checked once per distinct day, the clock by comparing
        # two-digit strings (hour < 24, minute and second < 60)
        days: dict[str, bool] = {}
        good_days: set[str] = set()
        limits = [(slices[p][0], slices[p][1], "24" if p == "%H" else "60") for p in parts[3:]]
        # the same check for a whole column at once: one regular expression over the values, one line each
        clock = "".join("(?:[01][0-9]|2[0-3])" if p == "%H" else "[0-5][0-9]" for p in parts[3:])
        lines = re.compile(f"(?:[0-9]{{8}}{clock}\n)*")

        def day_ok(day: str) -> bool:
            ok = days.get(day)
            if ok is None:
                if len(days) > 100_000:
                    days.clear()
                ok = days[day] = valid_fields(day + "0" * (at - 8))
            return ok

        def valid(value: str) -> bool:
            if len(value) != at or not value.isascii() or not value.isdigit():
                return False
            return day_ok(value[:8]) and all(value[a:b] < limit for a, b, limit in limits)

        def unsure(values: list[Any]) -> list[int]:
            """Indexes of the values ``valid`` does not vouch for (all of them checked in C when well formed)."""
            if set(map(type, values)) == {str}:
                text = "\n".join(values) + "\n"
                if text.count("\n") == len(values) and lines.fullmatch(text):
                    new_days = set(map(_FIRST_8, values)) - good_days  # a set difference in C: days seen before
                    bad_days = {d for d in new_days if not day_ok(d)}
                    if len(good_days) > 100_000:
                        good_days.clear()
                    good_days.update(new_days - bad_days)
                    return [i for i, v in enumerate(values) if v[:8] in bad_days] if bad_days else []
            return [i for i, v in enumerate(values) if type(v) is not str or not valid(v)]

        valid.unsure = unsure  # type: ignore[attr-defined]
        return valid

    def valid(value: str) -> bool:
        return len(value) == at and value.isascii() and value.isdigit() and valid_fields(value)

    return valid


_FIRST_8 = itemgetter(slice(0, 8))


def validator(obj: FeedObject) -> Validator:
    column, fmt = obj.incremental.get("column"), obj.incremental.get("format")
    fast = _fixed_width_parser(fmt) if fmt else None
    unsure = getattr(fast, "unsure", None)

    def validate(record: dict[str, Any]) -> list[str]:
        if not column:
            return []
        value = record.get(column)
        if value is None:
            return [f"update column {column} is empty"]
        if isinstance(value, dt.datetime | dt.date):
            return []
        if fmt:
            if fast is not None and type(value) is str and fast(value):
                return []
            try:
                dt.datetime.strptime(str(value), fmt)
            except ValueError:
                return [f"update column {column} = {value!r} is not in format {fmt}"]
        return []

    def suspects(records: list[dict[str, Any]]) -> list[int]:
        """The records ``validate`` may refuse (the loader asks it about those only): an empty update column, and
        with a format every value the fast check does not vouch for (a datetime is taken as it is)."""
        if not column:
            return []
        values = list(map(methodcaller("get", column), records))
        if not fmt:
            return [i for i, v in enumerate(values) if v is None] if None in values else []
        if unsure is not None:
            found = unsure(values)
        else:
            found = range(len(values))
        return [i for i in found if not isinstance(values[i], dt.datetime | dt.date)]

    validate.suspects = suspects  # type: ignore[attr-defined]
    return validate


def read_rows(conn: psycopg.Connection, feed: Feed, obj: FeedObject, lower: str | None,
              upper: str | None, shape: SourceShape | None = None) -> Iterator[dict[str, Any]]:
    names = list(obj.columns)
    shape = shape or SourceShape(obj.name, {c: c for c in names}, {})
    column = obj.incremental.get("column")
    column_ident = sql.Identifier(shape.names.get(column, column)) if column else None
    column_type = shape.types.get(column) if column else None
    where, params = [], []
    if column_ident is not None and lower is not None:
        where.append(sql.SQL("{} > %s").format(column_ident))
        params.append(_naive_bound(lower, column_type))
    if column_ident is not None and upper is not None:
        where.append(sql.SQL("{} <= %s").format(column_ident))
        params.append(_naive_bound(upper, column_type))
    query = sql.SQL("select {} from {}{}{}").format(
        sql.SQL(", ").join(sql.Identifier(shape.names.get(c, c)) for c in names), sql.Identifier(shape.table),
        sql.SQL(" where ") + sql.SQL(" and ").join(where) if where else sql.SQL(""),
        sql.SQL(" order by {}").format(column_ident) if column_ident is not None else sql.SQL(""))
    naive = [c for c, t in shape.types.items() if t == "timestamp without time zone"]
    with conn.cursor(name=f"extract_{obj.raw_table}") as cur:  # server-side: constant memory
        cur.itersize = 5000
        cur.execute(query, params)
        for row in cur:
            record = dict(zip(names, row, strict=True))
            for c in naive:  # the contract: naive timestamps are Asia/Shanghai
                v = record.get(c)
                if isinstance(v, dt.datetime) and v.tzinfo is None:
                    record[c] = v.replace(tzinfo=NAIVE_TZ)
            yield record
