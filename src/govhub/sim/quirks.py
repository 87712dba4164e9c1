"""Department quirks at controlled rates: every rate is a parameter, every choice is seeded per record."""

from __future__ import annotations

import random
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from govhub.sim.geography import COUNTY_NAME, Building
from govhub.sim.idnumbers import FULLWIDTH, distort_id
from govhub.sim.names import distort_name

if TYPE_CHECKING:  # dialect imports this module
    from govhub.sim.dialect import AddressStyle

CN_DIGITS = "零一二三四五六七八九"


@dataclass(frozen=True)
class QuirkRates:
    id_legacy15: float = 0.02
    id_lower_x: float = 0.5  # of IDs ending in X
    id_fullwidth: float = 0.005
    id_spaces: float = 0.01
    id_wrong_check: float = 0.004
    id_missing: float = 0.004
    name_homophone: float = 0.004
    name_variant: float = 0.002
    name_space: float = 0.01
    address_variant: float = 0.35
    coords_missing: float = 0.15
    csv_bom: float = 0.5
    csv_totals_row: float = 0.3
    duplicate_drop: float = 0.05
    late_drop: float = 0.05
    truncated_drop: float = 0.02
    malformed_xml: float = 0.01
    api_429: float = 0.03
    api_5xx: float = 0.01

    @classmethod
    def parse(cls, overrides: dict[str, float] | None) -> QuirkRates:
        known = {f.name for f in fields(cls)}
        bad = set(overrides or {}) - known
        if bad:
            raise ValueError(f"unknown quirk rate(s) {sorted(bad)}; known: {sorted(known)}")
        return cls(**(overrides or {}))


def record_rng(seed: int, *key: object) -> random.Random:
    """A generator seeded by the record's identity, so output does not depend on generation order."""
    return random.Random(f"{seed}:" + ":".join(map(str, key)))


def quirky_id(rng: random.Random, id18: str, rates: QuirkRates) -> str | None:
    r = rng.random()
    for kind, rate in (("missing", rates.id_missing), ("wrong_check", rates.id_wrong_check),
                       ("legacy15", rates.id_legacy15), ("fullwidth", rates.id_fullwidth), ("spaces", rates.id_spaces)):
        if r < rate:
            return distort_id(rng, id18, kind)
        r -= rate
    if id18.endswith("X") and rng.random() < rates.id_lower_x:
        return distort_id(rng, id18, "lower_x")
    return id18


def quirky_name(rng: random.Random, name: str, rates: QuirkRates) -> str:
    r = rng.random()
    for kind, rate in (("homophone", rates.name_homophone), ("variant", rates.name_variant), ("space", rates.name_space)):
        if r < rate:
            return distort_name(rng, name, kind)
        r -= rate
    return name


def cn_number(n: int) -> str:
    """15 -> 十五, 3 -> 三, 120 -> 一百二十, 1020 -> 一千零二十 (how clerks write house numbers in words); from
    10,000 on (a city's long roads) clerks write digits."""
    if n < 10:
        return CN_DIGITS[n]
    if n < 20:
        return "十" + (CN_DIGITS[n % 10] if n % 10 else "")
    if n < 100:
        return CN_DIGITS[n // 10] + "十" + (CN_DIGITS[n % 10] if n % 10 else "")
    if n < 1000:
        rest = n % 100
        tail = "" if rest == 0 else ("零" + CN_DIGITS[rest] if rest < 10 else _tens(rest))
        return CN_DIGITS[n // 100] + "百" + tail
    if n < 10000:
        rest = n % 1000
        tail = ("" if rest == 0 else cn_number(rest) if rest >= 100
                else "零" + (CN_DIGITS[rest] if rest < 10 else _tens(rest)))
        return CN_DIGITS[n // 1000] + "千" + tail
    return str(n)


def _tens(n: int) -> str:
    """10..99 after a hundred or thousand: 一十五, 二十 (the ten's digit is said there)."""
    return CN_DIGITS[n // 10] + "十" + (CN_DIGITS[n % 10] if n % 10 else "")


def quirky_address(rng: random.Random, b: Building, rates: QuirkRates, style: AddressStyle | None = None) -> str:
    """The contract's address variants: standard, county prefix + Chinese numerals, village and group only,
    full-width digits, missing township, a typo. ``style`` is the department's own way of writing an address
    (govhub.sim.dialect); the default style is the building registry's standard address."""
    if style is not None and not style.is_default():
        return _styled_address(rng, b, rates, style)
    std = b.std_address
    if rng.random() >= rates.address_variant:
        return std
    kind = rng.choice(["county_cn", "village_only", "fullwidth", "no_township", "typo", "county_prefix"])
    if kind == "county_cn":
        group = b.group_or_road
        if group.endswith("组"):
            group = cn_number(int(group[:-1])) + "组"
        unit = f"{cn_number(b.unit)}栋" if b.unit else ""
        return f"{COUNTY_NAME}{b.township_name}{b.village_name}{group}{cn_number(b.number)}号{unit}"
    if kind == "village_only":
        return f"{b.village_name}{b.group_or_road}"
    if kind == "fullwidth":
        return std.translate(FULLWIDTH)
    if kind == "no_township":
        return std[len(b.township_name):]
    if kind == "county_prefix":
        return COUNTY_NAME + std
    return _typo(b, std)


def _styled_address(rng: random.Random, b: Building, rates: QuirkRates, style: AddressStyle) -> str:
    """The same variants at the same rates, each written in the department's style."""
    from dataclasses import replace

    std = style.write(b)
    if rng.random() >= rates.address_variant:
        return std
    kind = rng.choice(["county_cn", "village_only", "fullwidth", "no_township", "typo", "county_prefix"])
    with_county = style if style.prefix != "none" else replace(style, prefix="county")
    if kind == "county_cn":
        return replace(with_county, numerals="chinese").write(b)
    if kind == "village_only":
        return f"{b.village_name}{style.group(b)}"
    if kind == "fullwidth":
        return std.translate(FULLWIDTH)
    if kind == "no_township":
        return style.write(b, township=False)
    if kind == "county_prefix":
        return with_county.write(b)
    return _typo(b, std)


def _typo(b: Building, text: str) -> str:
    """One character of the village name replaced by a look-alike/homophone."""
    swaps = {"红": "洪", "东": "冬", "胜": "盛", "建": "健", "光": "广", "团": "圆", "幸": "兴", "和": "禾",
             "新": "心", "永": "勇", "长": "常", "王": "汪", "李": "里", "张": "章", "刘": "留", "陈": "辰"}
    v = b.village_name
    for i, ch in enumerate(v):
        if ch in swaps:
            return text.replace(v, v[:i] + swaps[ch] + v[i + 1:], 1)
    return text
