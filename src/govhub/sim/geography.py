"""The county's geography: divisions, grids (polygons tiling their villages), staff and buildings.

Villages are laid on a lattice of rectangles; each village's grids are vertical strips of its rectangle,
so grid polygons tile their village exactly and point-in-polygon has one answer.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field

COUNTY_CODE6 = "341126"
COUNTY_NAME = "清河县"
COUNTY_CODE = COUNTY_CODE6 + "000000"

TOWNSHIP_NAMES = [
    "开通镇", "柳湾镇", "石桥镇", "双河镇", "金沙镇", "新集镇", "大庄镇", "青山乡", "白杨乡", "马场镇",
    "龙泉镇", "高庙乡", "桃园镇", "黄土乡", "三元镇", "临河镇",
]
STREET_NAMES = ["城关街道", "东城街道", "西城街道"]
VILLAGE_STEMS = [
    "红旗", "东风", "胜利", "前进", "建设", "光明", "团结", "幸福", "和平", "新华", "永安", "长春", "太平",
    "兴隆", "丰收", "向阳", "友谊", "先锋", "红星", "朝阳", "五一", "八一", "民主", "五星", "卫星", "新民",
    "黄河", "杨庄", "李庄", "王庄", "张湾", "刘湾", "陈集", "赵圩", "孙岗", "周营", "吴桥", "郑店", "冯楼",
    "何寨", "高台", "林场", "罗岗", "梁集", "宋庄", "唐湾", "许庄", "韩楼", "邓桥", "曹庙",
]
COMMUNITY_STEMS = ["建设", "人民", "文化", "解放", "中山", "和平", "新华", "健康", "花园", "滨河"]
ROADS = ["人民路", "解放路", "建设路", "文化路", "中山路", "新华路", "滨河路", "花园路"]

# Lattice of the county: 14 x 13 = 182 cells, one per village/community.
LON0, LAT0, CELL_LON, CELL_LAT = 117.10, 32.60, 0.03, 0.025


@dataclass
class Division:
    code: str
    name: str
    level: int
    kind: str
    parent_code: str | None


@dataclass
class Grid:
    grid_code: str
    grid_name: str
    village_code: str
    grid_type: str
    bbox: tuple[float, float, float, float]  # min_lon, min_lat, max_lon, max_lat

    def geojson(self) -> str:
        x0, y0, x1, y1 = self.bbox
        ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
        return json.dumps({"type": "Polygon", "coordinates": [[[round(a, 6), round(b, 6)] for a, b in ring]]})


@dataclass
class Building:
    building_id: str
    grid_code: str
    village_code: str
    township_code: str
    township_name: str
    village_name: str
    group_or_road: str  # "3组" or "人民路"
    number: int
    unit: int | None  # 栋 for urban buildings
    lon: float
    lat: float
    building_type: str

    @property
    def std_address(self) -> str:
        text = f"{self.township_name}{self.village_name}{self.group_or_road}{self.number}号"
        return text + (f"{self.unit}栋" if self.unit else "")


@dataclass
class Staff:
    staff_id: str
    name: str
    role: str
    phone: str
    grid_code: str


@dataclass
class Geography:
    divisions: list[Division] = field(default_factory=list)
    grids: list[Grid] = field(default_factory=list)
    staff: list[Staff] = field(default_factory=list)
    buildings: list[Building] = field(default_factory=list)

    def division(self, code: str) -> Division:
        return self._by_code[code]

    def index(self) -> None:
        self._by_code = {d.code: d for d in self.divisions}
        self.buildings_by_grid: dict[str, list[Building]] = {}
        for b in self.buildings:
            self.buildings_by_grid.setdefault(b.grid_code, []).append(b)
        self.grids_by_village: dict[str, list[Grid]] = {}
        for g in self.grids:
            self.grids_by_village.setdefault(g.village_code, []).append(g)


def build_geography(rng: random.Random, residents: int, names) -> Geography:
    """Default county shape of the contract: 16 townships + 3 streets, 172 villages + 10 communities,
    1,020 grids, 733 grid heads, 1,271 grid workers; buildings scale with ``residents``."""
    geo = Geography()
    geo.divisions.append(Division(COUNTY_CODE, COUNTY_NAME, 1, "县", None))
    townships: list[Division] = []
    for i, name in enumerate(STREET_NAMES):
        townships.append(Division(f"{COUNTY_CODE6}{i + 1:03d}000", name, 2, "街道", COUNTY_CODE))
    for i, name in enumerate(TOWNSHIP_NAMES):
        townships.append(Division(f"{COUNTY_CODE6}{100 + i:03d}000", name, 2, "乡镇", COUNTY_CODE))
    geo.divisions += townships

    # 10 communities across the 3 streets (4/3/3), 172 villages across 16 townships (11 or 10 each).
    villages: list[Division] = []
    community_split = [4, 3, 3]
    c = 0
    for t, n in zip(townships[:3], community_split, strict=True):
        for j in range(n):
            villages.append(Division(t.code[:9] + f"{j + 1:03d}", COMMUNITY_STEMS[c] + "社区", 3, "社区", t.code))
            c += 1
    stems = list(VILLAGE_STEMS)
    rng.shuffle(stems)
    k = 0
    for ti, t in enumerate(townships[3:]):
        for j in range(11 if ti < 12 else 10):
            stem = stems[k % len(stems)] + ("" if k < len(stems) else VILLAGE_STEMS[k // len(stems)][:1])
            villages.append(Division(t.code[:9] + f"{200 + j:03d}", stem + "村", 3, "行政村", t.code))
            k += 1
    assert len(villages) == 182 and k == 172
    geo.divisions += villages

    # 1,020 grids: 12 per community (incl. 10 专属), 900 over 172 villages (40 villages get 6).
    grid_counts = {}
    for v in villages[:10]:
        grid_counts[v.code] = 12
    rural = villages[10:]
    six = set(rng.sample(range(len(rural)), 40))
    for i, v in enumerate(rural):
        grid_counts[v.code] = 6 if i in six else 5
    assert sum(grid_counts.values()) == 1020

    for cell, v in enumerate(villages):
        col, row = cell % 14, cell // 14
        x0, y0 = LON0 + col * CELL_LON, LAT0 + row * CELL_LAT
        n = grid_counts[v.code]
        for s in range(n):
            gx0 = x0 + s * CELL_LON / n
            gtype = "城市" if v.kind == "社区" else "农村"
            if v.kind == "社区" and s == n - 1:
                gtype = "专属"
            geo.grids.append(
                Grid(v.code + f"{s + 1:03d}", f"{v.name}第{s + 1}网格", v.code, gtype,
                     (gx0, y0, gx0 + CELL_LON / n, y0 + CELL_LAT))
            )

    # Staff: a grid head for 733 grids, one full/part-time worker per grid plus 251 extra.
    sid = 0
    for i, g in enumerate(geo.grids):
        if i < 733:
            sid += 1
            geo.staff.append(Staff(f"S{sid:05d}", names.person_name(rng)[0], "网格长", _phone(rng), g.grid_code))
    workers = [g.grid_code for g in geo.grids] + [g.grid_code for g in rng.sample(geo.grids, 251)]
    for code in workers:
        sid += 1
        role = "专职网格员" if rng.random() < 0.6 else "兼职网格员"
        geo.staff.append(Staff(f"S{sid:05d}", names.person_name(rng)[0], role, _phone(rng), code))

    # Buildings: about one per 2.6 residents' household share, at least 3 per grid.
    per_grid = max(3, round(residents / 1020 / 2.6))
    bid = 0
    by_code = {d.code: d for d in geo.divisions}
    for g in geo.grids:
        v = by_code[g.village_code]
        t = by_code[v.parent_code]
        x0, y0, x1, y1 = g.bbox
        urban = v.kind == "社区"
        group = int(g.grid_code[-3:])
        for n in range(per_grid):
            bid += 1
            lon = x0 + (x1 - x0) * (0.05 + 0.9 * rng.random())
            lat = y0 + (y1 - y0) * (0.05 + 0.9 * rng.random())
            if urban:
                road = ROADS[(group + n // 12) % len(ROADS)]
                geo.buildings.append(Building(
                    f"B{bid:07d}", g.grid_code, v.code, t.code, t.name, v.name, road, group * 10 + n // 4 + 1,
                    n % 4 + 1, round(lon, 6), round(lat, 6), rng.choice(["住宅", "住宅", "住宅", "商铺", "公共"])))
            else:
                geo.buildings.append(Building(
                    f"B{bid:07d}", g.grid_code, v.code, t.code, t.name, v.name, f"{group}组", n + 1, None,
                    round(lon, 6), round(lat, 6), rng.choice(["住宅"] * 8 + ["厂房", "商铺"])))
    geo.index()
    return geo


def _phone(rng: random.Random) -> str:
    return "1" + rng.choice("3589") + "".join(rng.choice("0123456789") for _ in range(9))
