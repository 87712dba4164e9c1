"""Dialects: the contract's open choices, one reading per department.

``shared/contracts/sources.md`` fixes column names, files and dictionaries but leaves many things open: SQL
column types where it names none, dictionary values where it lists none, how a clerk writes a date or an
address, how a manifest counts rows, whether a drop is one folder or one per day, how an API writes its
offset. Real departments differ exactly there, so the hub must not depend on the simulator's one reading.

:class:`Dialect` has one field per open choice. :meth:`Dialect.default` is the simulator's original reading
(the same seed still gives byte-identical systems); :meth:`Dialect.draw` draws one alternative per choice
and per department from a seeded generator. Every alternative stays inside the contract's words; where the
contract names an exact form (grid ``updated_at`` timestamptz, police text timestamps, 低保 ``出生日期``
as ``YYYY-MM-DD`` or ``YYYY/M/D``) there is no alternative. ``docs/contract-readings.md`` lists them all.

The choices are stored with the county (``sim_state.dialect``) so that advancing the clock keeps them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import re
from dataclasses import dataclass, fields
from typing import Any

from govhub.sim.geography import COUNTY_NAME, Building
from govhub.sim.idnumbers import FULLWIDTH
from govhub.sim.names import COMPOUND_SURNAMES
from govhub.sim.quirks import cn_number

TZ = dt.timezone(dt.timedelta(hours=8))  # Asia/Shanghai (world.TZ; not imported: world imports much more)
# A plausible province and prefecture for the county code 341126 (Anhui, Chuzhou) in a fully written address.
PROVINCE_PREFIX = "安徽省滁州市"


# ------------------------------------------------------------------------------------------ addresses
@dataclass(frozen=True)
class AddressStyle:
    """How one department's clerks write a building's address (the contract: "the way a clerk types them")."""

    prefix: str = "none"  # "none" | "county" (清河县…) | "province" (安徽省滁州市清河县…)
    numerals: str = "arabic"  # "arabic" (3组15号) | "chinese" (三组十五号) | "fullwidth" (３组１５号)
    group_word: str = "组"  # village group: 组 | 社 | 屯 | 队
    house_word: str = "号"  # 号 | 号院
    unit_word: str = "栋"  # building of an urban address: 栋 | 幢 | 单元

    def is_default(self) -> bool:
        return self == AddressStyle()

    def number(self, n: int) -> str:
        if self.numerals == "chinese":
            return cn_number(n)
        return str(n).translate(FULLWIDTH) if self.numerals == "fullwidth" else str(n)

    def group(self, b: Building) -> str:
        g = b.group_or_road
        return self.number(int(g[:-1])) + self.group_word if g.endswith("组") else g

    def write(self, b: Building, township: bool = True) -> str:
        """The full address in this style; the default style gives ``b.std_address`` exactly."""
        prefix = {"none": "", "county": COUNTY_NAME, "province": PROVINCE_PREFIX + COUNTY_NAME}[self.prefix]
        unit = f"{self.number(b.unit)}{self.unit_word}" if b.unit else ""
        return (f"{prefix}{b.township_name if township else ''}{b.village_name}{self.group(b)}"
                f"{self.number(b.number)}{self.house_word}{unit}")


ADDRESS_CHOICES: dict[str, tuple[Any, ...]] = {
    "prefix": ("none", "county", "province"),
    "numerals": ("arabic", "chinese", "fullwidth"),
    "group_word": ("组", "社", "屯", "队"),
    "house_word": ("号", "号院"),
    "unit_word": ("栋", "幢", "单元"),
}


# ------------------------------------------------------------------------------------------ names
# Characters outside GBK that people do have in their names (GB18030 / Unicode CJK extensions A and B).
RARE_CHARS = ("䶮", "𠈌")
MIDDLE_DOTS = ("·", "•", "・", ".")  # U+00B7 (the standard one), U+2022, U+30FB, ASCII full stop


@dataclass(frozen=True)
class NameStyle:
    """How one department's system stores names."""

    dot: str = "·"  # the separator typed into transliterated minority names (买买提·艾力)
    given_only_rate: float = 0.0  # a record with the given name only (no surname)
    rare_char_rate: float = 0.0  # a given-name character outside GBK (only where the system is not GBK)

    def is_default(self) -> bool:
        return self == NameStyle()

    def apply(self, rng: random.Random, name: str, gbk: bool = False) -> str:
        """``name`` as this system stores it. Draws from ``rng`` only for a non-default style, so the default
        leaves every later draw of the record (and so the bytes) as they were."""
        if self.is_default():
            return name
        if self.dot != "·":
            name = name.replace("·", self.dot)
        r1, r2 = rng.random(), rng.random()
        if r1 < self.given_only_rate and "·" not in name and self.dot not in name:
            stripped = name.strip()
            cut = 2 if stripped[:2] in COMPOUND_SURNAMES else 1
            if len(stripped) > cut:
                name = stripped[cut:]
        if r2 < self.rare_char_rate and not gbk and len(name) >= 2:
            name = name[:-1] + RARE_CHARS[int(r2 * 1e6) % len(RARE_CHARS)]
        return name


NAME_CHOICES: dict[str, tuple[Any, ...]] = {
    "dot": MIDDLE_DOTS,
    "given_only_rate": (0.0, 0.003, 0.01),
    "rare_char_rate": (0.0, 0.002, 0.01),
}

# ------------------------------------------------------------------------------------------ dictionaries
# justice resettlement.offenseCategory (contract: no list): the simulator's codes and two Chinese writings.
OFFENSE_CHINESE = {"theft": "盗窃", "fraud": "诈骗", "intentional_injury": "故意伤害", "drug_crime": "毒品犯罪",
                   "dangerous_driving": "危险驾驶", "robbery": "抢劫", "gambling": "赌博", "other": "其他"}
OFFENSE_CRIME = {"theft": "盗窃罪", "fraud": "诈骗罪", "intentional_injury": "故意伤害罪", "drug_crime": "贩卖毒品罪",
                 "dangerous_driving": "危险驾驶罪", "robbery": "抢劫罪", "gambling": "赌博罪", "other": "其他"}
# 特困人员.状态 (contract: no list): (listed, ended) pairs
TEKUN_STATUS = (("在保", "停保"), ("在册", "退出"), ("正常", "终止"))


def numeric_key(text: str) -> int:
    """A department that numbers its rows keys them by the digits of the simulator's id (unique per table)."""
    return int(re.sub(r"\D", "", text))


# ------------------------------------------------------------------------------------------ the dialect
@dataclass(frozen=True)
class Dialect:
    """One reading of every open choice of the contract. Defaults = the simulator's original reading."""

    # --- SQL column types (police section 2, grid section 1, health section 6)
    police_types: str = "char_varchar"  # "char_varchar" (codes char(n)) | "varchar" (every column varchar(n)) | "text"
    grid_coord_type: str = "double precision"  # building / grid_event lon, lat: | "numeric(10,6)"
    grid_level_type: str = "smallint"  # admin_division.level: | "integer" | "text"
    grid_key_type: str = "text"  # building_id, staff_id (and reporter_staff_id), event_id: | "bigint"
    # reported_at, closed_at, created_at, retired_at (the contract types only updated_at): | "timestamp" (local)
    grid_time_type: str = "timestamptz"
    health_key_type: str = "varchar"  # patient_id, followup_id, cert_no: | "bigint"
    health_updated_type: str = "timestamptz"  # updated_at: | "timestamp" (without time zone, Asia/Shanghai wall time)
    health_date_type: str = "date"  # smd_patient / birth_cert birth_date: | "text" (YYYY-MM-DD)
    health_risk_type: str = "smallint"  # risk_level: | "text"
    # --- dictionaries the contract leaves open, and rare codes a department adds to a listed one
    civil_tekun_status: tuple[str, str] = ("在保", "停保")  # 特困人员.状态 (listed, ended)
    justice_offense: str = "code"  # offenseCategory: "code" (theft) | "chinese" (盗窃) | "chinese_crime" (盗窃罪)
    justice_office: str = "township"  # supervisingOffice: "township" (开通镇司法所) | "county" (清河县开通镇司法所)
    #                                   | "bureau" (清河县司法局开通镇司法所)
    police_rare_rate: float = 0.0  # JQ_JJXX.CJJG '5' (a code the department added)
    grid_rare_rate: float = 0.0  # grid_event.status '已办结' instead of '办结'
    health_rare_rate: float = 0.0  # sex in lower case (m / f / u)
    justice_rare_rate: float = 0.0  # gender 'U'
    # --- civil files (section 3)
    civil_date_format: str = "iso"  # 救助开始日期, 认定日期 (as text), 特困人员.出生日期: "iso" | "slash" (YYYY/M/D)
    #                                 | "compact" (YYYYMMDD) | "chinese" (YYYY年M月D日)
    civil_birth_slash_rate: float = 0.3  # 低保对象.出生日期 in YYYY/M/D (else YYYY-MM-DD, the contract's two forms)
    civil_xlsx_dates: str = "认定日期"  # date cells in 特困人员 XLSX: "认定日期" | "none" (all text) | "all" (+ 出生日期)
    civil_thousands_rate: float = 0.5  # 月保障金额 >= 1000 written 1,230.00
    civil_manifest_rows: str = "data"  # manifest rows: "data" | "data+totals" (a 合计 row counted) | "data+header"
    civil_layout: str = "flat"  # "flat" | "daily" (one folder YYYYMMDD/ per drop)
    civil_bom: str = "sometimes"  # CSV byte-order mark: "sometimes" (QuirkRates.csv_bom) | "always" | "never"
    civil_encoding: str = "gbk"  # "gbk" | "gb18030" (GBK's superset: characters outside GBK survive)
    # --- petition XML (section 5)
    petition_layout: str = "flat"  # "flat" | "daily"
    petition_declaration: str = "UTF-8"  # encoding in the XML declaration: "UTF-8" | "utf-8" | "none" (no declaration)
    petition_cdata: bool = False  # name, address, category, targetDept text wrapped in CDATA
    petition_empty: str = "self_closing"  # empty element: "self_closing" (<closedAt/>) | "pair" (<closedAt></closedAt>)
    petition_pretty: bool = True  # one element per line (else the whole file on one line)
    # --- justice API (section 4)
    justice_time: str = "+08:00"  # ISO-8601 timestamps: "+08:00" | "Z.ms" (UTC, milliseconds) | "+0800"
    # --- free-text addresses and names, per department
    police_address: AddressStyle = AddressStyle()
    health_address: AddressStyle = AddressStyle()
    civil_address: AddressStyle = AddressStyle()
    justice_address: AddressStyle = AddressStyle()
    petition_address: AddressStyle = AddressStyle()
    police_names: NameStyle = NameStyle()
    health_names: NameStyle = NameStyle()
    civil_names: NameStyle = NameStyle()
    justice_names: NameStyle = NameStyle()
    petition_names: NameStyle = NameStyle()

    @classmethod
    def default(cls) -> Dialect:
        """The simulator's original reading: output byte-identical to the simulator before dialects."""
        return cls()

    @classmethod
    def draw(cls, seed: int) -> Dialect:
        """One alternative per choice (and per department for addresses and names), uniformly, seeded."""
        rng = random.Random(f"dialect:{seed}")
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name.endswith("_address"):
                values[f.name] = AddressStyle(**{k: rng.choice(v) for k, v in ADDRESS_CHOICES.items()})
            elif f.name.endswith("_names"):
                values[f.name] = NameStyle(**{k: rng.choice(v) for k, v in NAME_CHOICES.items()})
            else:
                values[f.name] = rng.choice(CHOICES[f.name])
        return cls(**values)

    # --- storage (sim_state.dialect jsonb)
    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Dialect:
        """Tolerates ``None`` (a county generated before dialects) and missing or unknown keys."""
        if not data:
            return cls()
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            v = data[f.name]
            if f.name.endswith("_address"):
                v = AddressStyle(**v)
            elif f.name.endswith("_names"):
                v = NameStyle(**v)
            elif isinstance(v, list):
                v = tuple(v)
            values[f.name] = v
        return cls(**values)

    def alternatives(self) -> dict[str, Any]:
        """The choices that differ from the default, flattened (for messages and tests)."""
        out: dict[str, Any] = {}
        base = Dialect()
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(base, f.name)
            if dataclasses.is_dataclass(mine):
                for g in fields(mine):
                    if getattr(mine, g.name) != getattr(theirs, g.name):
                        out[f"{f.name}.{g.name}"] = getattr(mine, g.name)
            elif mine != theirs:
                out[f.name] = mine
        return out

    # --- helpers the writers share
    def grid_key(self, text: str) -> str:
        """A grid key as the hub reads it back (the truth names records this way)."""
        return str(numeric_key(text)) if self.grid_key_type == "bigint" else text

    def health_key(self, text: str) -> str:
        return str(numeric_key(text)) if self.health_key_type == "bigint" else text

    def justice_iso(self, t: dt.datetime) -> str:
        if self.justice_time == "Z.ms":
            return t.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        local = t.astimezone(TZ)
        if self.justice_time == "+0800":
            return local.strftime("%Y-%m-%dT%H:%M:%S%z")
        return local.isoformat(timespec="seconds")

    def civil_date(self, d: dt.date) -> str:
        fmt = self.civil_date_format
        if fmt == "slash":
            return f"{d.year}/{d.month}/{d.day}"
        if fmt == "compact":
            return d.strftime("%Y%m%d")
        if fmt == "chinese":
            return f"{d.year}年{d.month}月{d.day}日"
        return d.isoformat()


# The alternatives of every plain field, the default first.
CHOICES: dict[str, tuple[Any, ...]] = {
    "police_types": ("char_varchar", "varchar", "text"),
    "grid_coord_type": ("double precision", "numeric(10,6)"),
    "grid_level_type": ("smallint", "integer", "text"),
    "grid_key_type": ("text", "bigint"),
    "grid_time_type": ("timestamptz", "timestamp"),
    "health_key_type": ("varchar", "bigint"),
    "health_updated_type": ("timestamptz", "timestamp"),
    "health_date_type": ("date", "text"),
    "health_risk_type": ("smallint", "text"),
    "civil_tekun_status": TEKUN_STATUS,
    "justice_offense": ("code", "chinese", "chinese_crime"),
    "justice_office": ("township", "county", "bureau"),
    "police_rare_rate": (0.0, 0.002, 0.01),
    "grid_rare_rate": (0.0, 0.002, 0.01),
    "health_rare_rate": (0.0, 0.002, 0.01),
    "justice_rare_rate": (0.0, 0.002, 0.01),
    "civil_date_format": ("iso", "slash", "compact", "chinese"),
    "civil_birth_slash_rate": (0.3, 0.0, 1.0),
    "civil_xlsx_dates": ("认定日期", "none", "all"),
    "civil_thousands_rate": (0.5, 0.0, 1.0),
    "civil_manifest_rows": ("data", "data+totals", "data+header"),
    "civil_layout": ("flat", "daily"),
    "civil_bom": ("sometimes", "always", "never"),
    "civil_encoding": ("gbk", "gb18030"),
    "petition_layout": ("flat", "daily"),
    "petition_declaration": ("UTF-8", "utf-8", "none"),
    "petition_cdata": (False, True),
    "petition_empty": ("self_closing", "pair"),
    "petition_pretty": (True, False),
    "justice_time": ("+08:00", "Z.ms", "+0800"),
}
assert all(CHOICES[k][0] == v for k, v in dataclasses.asdict(Dialect()).items() if k in CHOICES)

DEFAULT = Dialect()
