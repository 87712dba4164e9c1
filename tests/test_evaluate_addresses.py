"""`hub evaluate`'s per-address-style report: the styles are read from an address's text and the county's division
names (govhub.evaluate.AddressStyler), never from the simulator's labels, and every style has its own line."""

from __future__ import annotations

import pytest

from govhub import evaluate as ev

# a county the simulator does not know, written as a division table would hold it
DIVISIONS = [("安平县", 1), ("前进镇", 2), ("柳河乡", 2), ("城关街道", 2), ("长青沟村", 3), ("幸福村", 3),
             ("团结堡村", 3), ("花园社区", 3)]


@pytest.fixture(scope="module")
def styler():
    return ev.AddressStyler(DIVISIONS)


@pytest.mark.parametrize(("address", "styles"), [
    ("前进镇长青沟村5组15号", {"group_word_组", "plain"}),
    ("湖北省恩施州安平县前进镇长青沟村5组15号", {"group_word_组", "province_prefecture_prefix", "county_prefix"}),
    ("安平县前进镇长青沟村5组15号", {"group_word_组", "county_prefix"}),
    ("安平前进长青沟5组15号", {"group_word_组", "county_prefix", "missing_level_word"}),
    ("长青沟村5组15号", {"group_word_组", "no_township"}),
    ("前进镇幸福村１组１１号", {"group_word_组", "fullwidth_digits"}),
    ("柳河乡团结堡村五组九号", {"group_word_组", "chinese_numerals"}),
    ("柳河乡团结堡村4组10号院", {"group_word_组", "house_word_号院"}),
    ("柳河乡团结堡村4社10号", {"group_word_社"}),
    ("柳河乡团结堡村4屯10号", {"group_word_屯"}),
    ("柳河乡团结堡村4队10号", {"group_word_队"}),
    ("柳河乡团结堡村4村民小组10号", {"group_word_小组"}),
    ("柳河乡团结堡村4组", {"group_word_组", "no_house_number"}),
    ("柳河乡团结堡村4组10", {"group_word_组", "bare_number"}),
    ("城关街道花园社区解放路15号3幢", {"road", "building_word_幢"}),
    ("城关街道花园社区解放路十五号四单元501室", {"road", "building_word_单元", "unit_or_room", "chinese_numerals"}),
    ("花园社区解放路", {"no_township", "road", "no_house_number"}),
    ("前进镇常青沟村5组15号", {"group_word_组", "village_not_in_registry"}),
    ("前进镇 长青沟村 5组15号", {"group_word_组", "spaces_or_punctuation", "plain"}),
    ("张庄东头老槐树下", {"unparseable"}),
    ("前进镇长青沟村东头", {"no_house_number", "unparseable"}),
])
def test_styles_read_from_the_text(styler, address, styles):
    assert styler.styles(address) == styles


def test_every_style_named_is_a_reported_style(styler):
    seen = set()
    for address in ("湖北省恩施州安平前进长青沟５社十五号院3栋2单元", "花园社区解放路", "张庄东头", "前进镇常青沟村5队15"):
        seen |= styler.styles(address)
    assert seen <= set(ev.ADDRESS_STYLES), seen - set(ev.ADDRESS_STYLES)


def test_style_table_has_a_line_per_style():
    report = {"overall": {"count": 3, "true_building": 2 / 3, "true_grid": 1.0, "with_grid": 1.0,
                          "by_method": {"exact": {"count": 2, "true_grid": 1.0}, "group": {"count": 1, "true_grid": 1.0}}},
              "per_style": {"chinese_numerals": {"count": 1, "true_building": 0.0, "true_grid": 1.0, "with_grid": 1.0,
                                                 "by_method": {"group": {"count": 1, "true_grid": 1.0}}}}}
    lines = ev.address_style_lines(report)
    assert len(lines) == 3
    assert lines[2].split()[:2] == ["chinese_numerals", "1"] and "group 1 100.0%" in lines[2]
    assert ev.address_style_lines({}) == []
