"""The simulated police and grid systems (contract sections 1 and 2) against a real PostgreSQL."""

from __future__ import annotations

import hashlib
import json

import pytest
from psycopg import sql

from govhub import db
from govhub.sim import runner

POLICE_COLUMNS = {  # contract section 2, in order
    "RK_CZRK": ["RYBH", "GMSFHM", "XM", "XB", "CSRQ", "MZ", "HH", "YHZGX", "HJDZ_XZQH", "HJDZ", "XZZ", "RYZT", "GXSJ"],
    "RK_LDRK": ["DJBH", "GMSFHM", "XM", "XB", "CSRQ", "HJDZ", "ZZDZ", "DJRQ", "YXQZ", "GXSJ"],
    "JQ_JJXX": ["JJBH", "BJSJ", "JQLB", "FADZ", "JD", "WD", "BJRSFZH", "SARYSFZH", "CJJG", "JQZT", "GXSJ"],
    "ZDRY": ["ZDRYBH", "GMSFHM", "XM", "ZDRYLB", "LGSJ", "CGSJ", "GXSJ"],
}
GRID_COLUMNS = {  # contract section 1
    "admin_division": ["code", "name", "level", "kind", "parent_code", "updated_at"],
    "grid": ["grid_code", "grid_name", "village_code", "grid_type", "boundary", "created_at", "retired_at", "updated_at"],
    "grid_staff": ["staff_id", "name", "role", "phone", "grid_code", "active", "updated_at"],
    "building": ["building_id", "std_address", "lon", "lat", "grid_code", "building_type", "updated_at"],
    "grid_event": ["event_id", "grid_code", "reporter_staff_id", "category_code", "description", "reported_at", "lon",
                   "lat", "status", "escalation_level", "assigned_dept", "closed_at", "updated_at"],
}
JQLB = {"0101", "0102", "0103", "0104", "0105", "0201", "0202", "0203", "0204", "0301", "0401", "0501", "0502", "0503",
        "0601", "0999"}
GRID_CATEGORIES = {"A01", "A02", "A03", "A04", "A05", "A06", "A07", "A08", "A99"}


@pytest.fixture(scope="module")
def county(hub_env):
    return runner.generate("tiny", reset=True)


def values(database: str, query: str) -> set:
    return {r[0] for r in db.query(query, database=database)[1]}


def columns(database: str, table: str) -> list[str]:
    return [r[0] for r in db.query("select column_name from information_schema.columns where table_name = %s "
                                   "order by ordinal_position", (table,), database=database)[1]]


def digest(database: str, tables: dict[str, list[str]]) -> str:
    h = hashlib.sha256()
    with db.connect(database) as conn:
        for table, cols in tables.items():
            query = sql.SQL("select * from {} order by {}").format(sql.Identifier(table), sql.Identifier(cols[0]))
            for row in conn.execute(query):
                h.update(repr(row).encode())
    return h.hexdigest()


def test_police_tables_and_dictionaries_follow_the_contract(county):
    for table, cols in POLICE_COLUMNS.items():
        assert columns("src_police", table) == cols, table
    assert values("src_police", 'select distinct "XB" from "RK_CZRK"') <= {"0", "1", "2", "9"}
    assert values("src_police", 'select distinct "RYZT" from "RK_CZRK"') <= {"0", "1", "2", "3"}
    assert values("src_police", 'select distinct "YHZGX" from "RK_CZRK"') <= {"01", "10", "20", "50", "99"}
    assert values("src_police", 'select distinct "JQLB" from "JQ_JJXX"') <= JQLB
    assert values("src_police", 'select distinct "CJJG" from "JQ_JJXX"') <= {"1", "2", "3", "4", "9"}
    assert values("src_police", 'select distinct "JQZT" from "JQ_JJXX"') <= {"0", "1"}
    assert values("src_police", 'select distinct "ZDRYLB" from "ZDRY"') <= {"01", "02", "03", "04", "05"}
    # every timestamp is text YYYYMMDDHH24MISS, every date YYYYMMDD
    for table, col, width in (("RK_CZRK", "GXSJ", 14), ("JQ_JJXX", "BJSJ", 14), ("RK_CZRK", "CSRQ", 8),
                              ("ZDRY", "LGSJ", 8)):
        bad = values("src_police", f'select "{col}" from "{table}" where "{col}" !~ \'^\\d{{{width}}}$\'')
        assert not bad, (table, col, sorted(bad)[:3])


def test_grid_platform_has_the_counties_shape(county):
    for table, cols in GRID_COLUMNS.items():
        assert columns("src_grid", table) == cols, table
    kinds = dict(db.query("select kind, count(*) from admin_division group by 1", database="src_grid")[1])
    assert kinds == {"县": 1, "乡镇": 16, "街道": 3, "行政村": 172, "社区": 10}
    assert values("src_grid", "select count(*) from grid where retired_at is null") == {1020}
    roles = dict(db.query("select role, count(*) from grid_staff where active group by 1", database="src_grid")[1])
    assert roles.get("网格长") == 733 and sum(v for k, v in roles.items() if k != "网格长") == 1271
    assert values("src_grid", "select distinct category_code from grid_event") <= GRID_CATEGORIES
    assert values("src_grid", "select distinct status from grid_event") <= {"上报", "受理", "流转", "办结", "退回"}
    assert values("src_grid", "select distinct escalation_level from grid_event") <= {"网格", "村社区", "乡镇街道", "部门"}


def test_every_building_lies_in_its_grid_polygon_and_no_other(county):
    grids = db.query("select grid_code, village_code, boundary from grid where retired_at is null",
                     database="src_grid")[1]
    for _code, _village, boundary in grids[:50]:
        geo = json.loads(boundary)
        ring = geo["coordinates"][0]
        assert geo["type"] == "Polygon" and ring[0] == ring[-1]  # GeoJSON: a closed ring of lon/lat pairs
    # each building lies inside its own grid's polygon and in no other grid of the county
    outside = db.query(
        """with g as (
               select grid_code, polygon(path((select string_agg(format('(%s,%s)', p->>0, p->>1), ',')
                                               from jsonb_array_elements((boundary::jsonb)->'coordinates'->0) as p))
                        ) as poly
               from grid where retired_at is null)
           select count(*) filter (where not own), count(*) filter (where others > 0)
           from (select b.building_id,
                        point(b.lon, b.lat) <@ (select poly from g where g.grid_code = b.grid_code) as own,
                        (select count(*) from g where g.grid_code <> b.grid_code and point(b.lon, b.lat) <@ g.poly)
                            as others
                 from building as b) as t""", database="src_grid")[1][0]
    assert outside == (0, 0)


def test_same_seed_gives_identical_police_and_grid_systems(county):
    first = digest("src_police", POLICE_COLUMNS), digest("src_grid", GRID_COLUMNS)
    runner.generate("tiny", reset=True)
    assert (digest("src_police", POLICE_COLUMNS), digest("src_grid", GRID_COLUMNS)) == first
