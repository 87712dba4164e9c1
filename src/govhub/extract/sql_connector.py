"""``kind: sql`` feeds: incremental by the update column, server-side cursor, COPY into raw."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg import sql

from govhub.extract.loader import SchemaDriftError, Validator
from govhub.extract.registry import Feed, FeedObject

# information_schema data_type -> registry type family
TYPE_FAMILY = {
    "text": "text", "character varying": "text", "character": "text", "bpchar": "text",
    "smallint": "integer", "integer": "integer", "bigint": "integer",
    "numeric": "float", "real": "float", "double precision": "float",
    "boolean": "boolean", "date": "date", "timestamp with time zone": "timestamptz", "jsonb": "jsonb",
}


def check_schema(conn: psycopg.Connection, feed: Feed, obj: FeedObject) -> None:
    """Missing, renamed, retyped or unexpected columns fail the feed, naming the column."""
    rows = conn.execute(
        """select column_name, data_type from information_schema.columns
           where table_schema = current_schema() and table_name = %s order by ordinal_position""", (obj.name,)).fetchall()
    if not rows:
        raise SchemaDriftError(feed.name, obj.name, None, f"table {obj.name} not found in the source",
                               f"ask {feed.department} whether it was renamed, or update sources.yml")
    actual = {name: TYPE_FAMILY.get(dtype, dtype) for name, dtype in rows}
    for column, family in obj.columns.items():
        if column not in actual:
            raise SchemaDriftError(feed.name, obj.name, column, "expected column is missing (dropped or renamed)",
                                   f"restore {column} in the source or update sources.yml (present: {sorted(actual)})")
        if actual[column] != family:
            raise SchemaDriftError(feed.name, obj.name, column,
                                   f"column type changed: expected {family}, source has {actual[column]}",
                                   "restore the type in the source or update sources.yml")
    unexpected = sorted(set(actual) - set(obj.columns))
    if unexpected:
        raise SchemaDriftError(feed.name, obj.name, unexpected[0], f"new unexpected column(s) {unexpected}",
                               "add them to sources.yml (and staging) once their meaning is agreed with the department")


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
        return value.astimezone(dt.UTC).isoformat()
    return str(value)


def validator(obj: FeedObject) -> Validator:
    column, fmt = obj.incremental.get("column"), obj.incremental.get("format")

    def validate(record: dict[str, Any]) -> list[str]:
        if not column:
            return []
        value = record.get(column)
        if value is None:
            return [f"update column {column} is empty"]
        if fmt:
            try:
                dt.datetime.strptime(str(value), fmt)
            except ValueError:
                return [f"update column {column} = {value!r} is not in format {fmt}"]
        return []

    return validate


def read_rows(conn: psycopg.Connection, feed: Feed, obj: FeedObject, lower: str | None,
              upper: str | None) -> Iterator[dict[str, Any]]:
    column = obj.incremental.get("column")
    where, params = [], []
    if column and lower is not None:
        where.append(sql.SQL("{} > %s").format(sql.Identifier(column)))
        params.append(lower)
    if column and upper is not None:
        where.append(sql.SQL("{} <= %s").format(sql.Identifier(column)))
        params.append(upper)
    query = sql.SQL("select {} from {}{}{}").format(
        sql.SQL(", ").join(map(sql.Identifier, obj.columns)), sql.Identifier(obj.name),
        sql.SQL(" where ") + sql.SQL(" and ").join(where) if where else sql.SQL(""),
        sql.SQL(" order by {}").format(sql.Identifier(column)) if column else sql.SQL(""))
    names = list(obj.columns)
    with conn.cursor(name=f"extract_{obj.raw_table}") as cur:  # server-side: constant memory
        cur.itersize = 5000
        cur.execute(query, params)
        for row in cur:
            yield dict(zip(names, row, strict=True))
