"""The SQL ID-number functions agree with python-stdnum's cn.ric (the maintained reference)."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from stdnum.cn import ric

from govhub import db
from govhub.sim.idnumbers import distort_id, make_id, to_15


@pytest.fixture(scope="module")
def udfs(hub_env):
    from govhub.transform import run_dbt

    run_dbt(["run-operation", "install_udfs"])


def test_check_character_and_repair_match_stdnum(udfs):
    rng = random.Random(7)
    ids = [make_id("341126", dt.date(1930, 1, 1) + dt.timedelta(days=rng.randrange(30000)), rng.randrange(999),
                   rng.random() < 0.5) for _ in range(300)]
    with db.connect() as conn:
        for id18 in ids:
            assert ric.is_valid(id18) or ric.calc_check_digit(id18) == id18[-1]
            check = conn.execute("select util.hub_id_check(%s)", (id18[:17],)).fetchone()[0]
            assert check == ric.calc_check_digit(id18)
            if id18[6:8] == "19":  # 15-digit numbers were issued only to people born in the 1900s
                legacy = to_15(id18)
                clean, status = conn.execute("select util.hub_id_clean(%s), util.hub_id_status(%s)",
                                             (legacy, legacy)).fetchone()
                assert (clean, status) == (id18, "repaired")
            for kind in ("fullwidth", "spaces"):
                raw = distort_id(rng, id18, kind)
                assert conn.execute("select util.hub_id_clean(%s), util.hub_id_status(%s)", (raw, raw)).fetchone() == (
                    id18, "repaired")
            wrong = distort_id(rng, id18, "wrong_check")
            assert conn.execute("select util.hub_id_status(%s)", (wrong,)).fetchone()[0] == "invalid_check"


def test_status_of_bad_inputs(udfs):
    cases = {None: "missing", "": "missing", "  ": "missing", "abc": "malformed", "34112619901301123X": "invalid_date",
             "11010519491231002x": "repaired", "11010519491231002X": "valid"}
    with db.connect() as conn:
        for raw, expected in cases.items():
            assert conn.execute("select util.hub_id_status(%s)", (raw,)).fetchone()[0] == expected, raw


def test_chinese_numerals_and_address_key(udfs):
    with db.connect() as conn:
        assert conn.execute("select util.hub_addr_key('清河县开通镇红旗村三组十五号')").fetchone()[0] == \
            conn.execute("select util.hub_addr_key('开通镇红旗村3组15号')").fetchone()[0]
        assert conn.execute("select util.hub_cn_digits('一百二十号'), util.hub_cn_digits('二十号')").fetchone() == ("120号", "20号")
        assert conn.execute("select util.hub_mask_name('张三明'), util.hub_mask_name('李四')").fetchone() == ("张*明", "李*")


def test_id_status_is_the_same_in_a_parallel_plan(udfs):
    """County-scale tables get parallel plans; the functions must not depend on a subtransaction there."""
    from govhub.transform import run_dbt

    run_dbt(["run-operation", "install_time_udfs"])
    rng = random.Random(11)
    ids = [make_id("341126", dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(25000)), rng.randrange(999),
                   rng.random() < 0.5) for _ in range(2000)]
    ids += ["341126199902301234", "341126000001011234", "341126199913011234"]  # 30 Feb, year 0, month 13
    with db.connect() as conn:
        conn.execute("create temporary table ids (v text)")
        with conn.cursor().copy("copy ids from stdin") as copy:
            for v in ids:
                copy.write_row((v,))
        serial = conn.execute("select v, util.hub_id_status(v), util.hub_ts('2026-11-20 09:12') from ids "
                              "order by v").fetchall()
        conn.execute("create table public.ids_parallel as select * from ids")  # temp tables are never scanned in parallel
        try:
            for setting in ("debug_parallel_query = on", "parallel_setup_cost = 0", "parallel_tuple_cost = 0",
                            "min_parallel_table_scan_size = 0", "parallel_leader_participation = off"):
                conn.execute(f"set local {setting}")
            parallel = conn.execute("select v, util.hub_id_status(v), util.hub_ts('2026-11-20 09:12') "
                                    "from public.ids_parallel order by v").fetchall()
        finally:
            conn.execute("drop table public.ids_parallel")
    assert parallel == serial
    status = {v: s for v, s, _ in serial}
    assert status["341126199902301234"] == status["341126000001011234"] == status["341126199913011234"] == "invalid_date"
    assert sum(s == "valid" for s in status.values()) == 2000
