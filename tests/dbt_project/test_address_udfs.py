"""The address functions of dbt_project/macros/addresses.sql: numbers as clerks write them, the parts after the
village (group or road, house number, building), and the edit distance with and without fuzzystrmatch."""

from __future__ import annotations

import pytest

from govhub import db


@pytest.fixture(scope="module")
def address_udfs(hub_env):
    from govhub.transform import run_dbt

    run_dbt(["run-operation", "install_udfs"])
    run_dbt(["run-operation", "install_address_udfs"])


def _one(conn, sql: str, *params):
    return conn.execute(sql, params).fetchone()[0]


@pytest.mark.parametrize(("written", "value"), [
    ("15", 15), ("０１５", 15), ("十五", 15), ("十", 10), ("二十", 20), ("九十九", 99), ("一百", 100),
    ("一百零五", 105), ("一百二十", 120), ("一百二十三", 123), ("一二〇", 120), ("〇九", 9), ("两", 2),
    ("一千", 1000), ("一千零五", 1005), ("一千零一十五", 1015), ("一千一百", 1100), ("两千三百四十五", 2345),
    ("abc", None), ("", None), (None, None),
])
def test_numbers_as_written(address_udfs, written, value):
    with db.connect() as conn:
        if written == "０１５":
            written = conn.execute("select util.hub_addr_clean(%s)", (written,)).fetchone()[0]
        assert _one(conn, "select util.hub_cn_int(%s)", written) == value


@pytest.mark.parametrize(("rest", "parts"), [
    ("5组15号", ["5组", "15", None, None]),
    ("１组１１号", ["1组", "11", None, None]),            # full-width
    ("五组九号", ["5组", "9", None, None]),                # Chinese numerals
    ("十二组一百零五号", ["12组", "105", None, None]),
    ("4组10号院", ["4组", "10", None, None]),              # 号院
    ("3社15号", ["3组", "15", None, None]),                # the words departments use for a village group
    ("3屯15号", ["3组", "15", None, None]),
    ("3队15号", ["3组", "15", None, None]),
    ("3村民小组15号", ["3组", "15", None, None]),
    ("3 组 15 号", ["3组", "15", None, None]),            # spaces
    ("解放路15号3栋", ["解放路", "15", "3", None]),
    ("解放路15号3幢", ["解放路", "15", "3", None]),         # 幢
    ("解放路15号3单元", ["解放路", "15", "3", None]),       # 单元 as the building word
    ("解放路十五号三号楼", ["解放路", "15", "3", None]),
    ("解放路15号3栋2单元501室", ["解放路", "15", "3", None]),  # unit and flat are below the registry's grain
    ("五一路8号", ["五一路", "8", None, None]),             # numerals in a road name stay part of the name
    ("3组", ["3组", None, None, None]),
    ("3组15", ["3组", "15", None, None]),                  # a bare trailing number is the house number
    ("", [None, None, None, None]),
    ("张庄东头", [None, None, None, "张庄东头"]),            # what does not parse is kept as the leftover
])
def test_rest_of_an_address(address_udfs, rest, parts):
    with db.connect() as conn:
        assert _one(conn, "select util.hub_addr_rest(%s)", rest) == parts


def test_rest_key_and_stems(address_udfs):
    with db.connect() as conn:
        assert _one(conn, "select util.hub_addr_rest_key(util.hub_addr_rest('三社十五号院'))") == \
            _one(conn, "select util.hub_addr_rest_key(util.hub_addr_rest('3组15号'))") == "3组|15|"
        stems = conn.execute("select util.hub_addr_stem(n) from unnest(array['安平县', '柳河镇', '城关街道', "
                             "'长青沟村', '花园社区', '白音嘎查', '区', '新村']) as n").fetchall()
        assert [s for (s,) in stems] == ["安平", "柳河", "城关", "长青沟", "花园", "白音", None, None]
        assert _one(conn, "select util.hub_addr_clean('　湖北省 恩施州（安平县）柳河镇１组')") == "湖北省恩施州安平县柳河镇1组"
        assert _one(conn, "select 'a.b' ~ ('^' || util.hub_regex_escape('a.b') || '$') "
                          "and not 'axb' ~ ('^' || util.hub_regex_escape('a.b') || '$')")


@pytest.mark.parametrize(("a", "b", "distance"), [
    ("红旗村", "洪旗村", 1), ("3组|15|", "3组|16|", 1), ("3组|15|", "3组|15|", 0), ("长青沟村", "长青村", 1),
    ("", "abc", 3), ("解放路|15|3", "解放路|51|3", 2),
])
def test_edit_distance(address_udfs, a, b, distance):
    with db.connect() as conn:
        assert _one(conn, "select util.hub_edit_distance(%s, %s)", a, b) == distance


def test_edit_distance_without_the_extension(address_udfs):
    """The PL/pgSQL fallback (a server without fuzzystrmatch) gives fuzzystrmatch's distances."""
    words = ["红旗村", "洪旗村", "红星村", "3组|15|", "3组|115|", "13组|5|", "解放路|15|3", "建设路|15|3", "", "长青沟村"]
    with db.connect() as conn:
        assert conn.execute("select 1 from pg_extension where extname = 'fuzzystrmatch'").fetchone()
        rows = conn.execute("select a, b, util.hub_edit_distance(a, b), util.hub_edit_distance_plpgsql(a, b) "
                            "from unnest(%s::text[]) as a cross join unnest(%s::text[]) as b", (words, words)).fetchall()
    assert all(ext == fallback for _, _, ext, fallback in rows), [r for r in rows if r[2] != r[3]]


def test_char_pinyin_seed_is_pypinyin():
    """The homophone seed is what pypinyin gives for GB 2312 (regenerate: python -m govhub.reference_data), every
    reading of a heteronym included."""
    from govhub.reference_data import CHAR_PINYIN, char_pinyin_csv, gb2312_hanzi

    assert len(gb2312_hanzi()) == 6763
    text = CHAR_PINYIN.read_text(encoding="utf-8")
    assert text == char_pinyin_csv()
    rows = {tuple(line.split(",")) for line in text.splitlines()[1:]}
    assert {("王", "wang"), ("汪", "wang"), ("长", "chang"), ("长", "zhang"), ("陈", "chen"), ("辰", "chen")} <= rows
