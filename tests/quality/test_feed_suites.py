"""Per-feed suites: a department's bad batch is reported against its feed (severity, object, column, the rate in
words) without blocking the other departments; a warn-level issue never blocks publication."""

from __future__ import annotations

import pytest

from govhub import db
from tests.conftest import reset_warehouse

WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def id_number(n: int, valid: bool = True) -> str:
    body = f"341123{1950 + n % 50}{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11]
    if not valid:  # a wrong check character
        check = "10X98765432"[("10X98765432".index(check) + 1) % 11]
    return body + check


def resident(n: int, prefix: str, valid: bool = True, sex: str = "1") -> dict[str, str]:
    return {"RYBH": f"{prefix}{n:06d}", "GMSFHM": id_number(n, valid), "XM": "测试" + "甲乙丙丁"[n % 4], "XB": sex,
            "CSRQ": f"{1950 + n % 50}{1 + n % 12:02d}{1 + n % 28:02d}", "MZ": "01", "HH": f"TH{n:06d}", "YHZGX": "01",
            "HJDZ_XZQH": "341123100200", "HJDZ": "开通镇红旗村3组15号", "XZZ": None, "RYZT": "0",
            "GXSJ": "20261120120000"}


def load_police_residents(records: list[dict[str, str]]) -> None:
    from govhub.extract.loader import load_batch, new_batch_id
    from govhub.extract.registry import feed

    police = feed("police")
    with db.connect() as conn, conn.transaction():
        load_batch(conn, police, police.objects["RK_CZRK"], records, batch_id=new_batch_id("police", "RK_CZRK"))


def results(run_id: str) -> list[tuple]:
    return db.query(
        """select feed, object, column_name, severity, success, expectation, observed from ops.validation_result
           where run_id = %s and feed is not null order by feed, object, column_name""", (run_id,))[1]


def feed_status(run_id: str) -> dict[str, str]:
    return dict(db.query("select feed, status from ops.feed_gate where run_id = %s", (run_id,))[1])


def last_publication() -> tuple:
    return db.query("select version, gate_success, message, run_id from ops.publication order by version desc limit 1")[1][0]


@pytest.fixture(scope="module")
def published_tiny(hub_env):
    from govhub.extract.registry import load_registry
    from govhub.pipeline import build, extract, gate_and_publish
    from govhub.sim import runner

    reset_warehouse()
    runner.generate("tiny", reset=True)
    for name in load_registry():
        extract(name)
    build()
    version = gate_and_publish("feed-setup")
    return version


def test_simulated_county_passes_every_feed_suite(published_tiny):
    statuses = feed_status("feed-setup")
    assert set(statuses) == {"police", "grid", "health", "civil", "petition", "justice"}
    assert "failed" not in statuses.values(), results("feed-setup")
    assert last_publication()[1] is True and last_publication()[2] is None
    kinds = {r[5].split(" ")[0] for r in results("feed-setup")}
    assert {"ID", "present", "code", "date", "every", "freshness:"} <= kinds


def test_invalid_ids_fail_their_feed_and_out_of_dictionary_code_warns(published_tiny):
    from govhub.pipeline import build, gate_and_publish

    records = [resident(n, "BAD", valid=n % 5 >= 2) for n in range(100)]  # 40 of 100 with a wrong check character
    records[7]["XB"] = "7"  # not in GB/T 2261.1 (1, 2, 0, 9)
    load_police_residents(records)
    build()
    version = gate_and_publish("feed-bad-ids")

    # the police feed failed; every other department is unaffected and the publication went ahead, naming police
    statuses = feed_status("feed-bad-ids")
    assert statuses["police"] == "failed"
    assert all(s != "failed" for f, s in statuses.items() if f != "police")
    v, ok, message, run_id = last_publication()
    assert (v, ok, run_id) == (version, True, "feed-bad-ids")
    assert "police" in message and "RK_CZRK" in message and "GMSFHM" in message and "grid" not in message

    rows = {(r[1], r[2], r[5].split(" ")[0]): r for r in results("feed-bad-ids") if r[0] == "police"}
    feed_, obj, column, severity, success, _, observed = rows[("RK_CZRK", "GMSFHM", "ID")]
    assert (feed_, obj, column, severity, success) == ("police", "RK_CZRK", "GMSFHM", "blocking", False)
    assert "40 of 100 ID numbers invalid" in observed and "40.0%" in observed and "10% allowed" in observed
    feed_, obj, column, severity, success, _, observed = rows[("RK_CZRK", "XB", "code")]
    assert (feed_, obj, column, severity, success) == ("police", "RK_CZRK", "XB", "warn", False)
    assert "1 of 100 values outside the dictionary" in observed

    # counts and rates only: no ID number, name or code value is rendered anywhere
    texts = " ".join(str(r[6]) for r in results("feed-bad-ids")) + message
    assert not any(rec["GMSFHM"] in texts for rec in records)
    assert "测试" not in texts and "'7'" not in texts


def test_warn_level_issue_does_not_block_publication(published_tiny):
    from govhub.pipeline import build, gate_and_publish

    before = last_publication()[0]
    records = [resident(n, "OK", valid=True) for n in range(60)]
    records[3]["XB"] = "7"
    load_police_residents(records)
    build()
    version = gate_and_publish("feed-warn-only")
    assert version > before
    assert feed_status("feed-warn-only")["police"] == "warn"
    assert "failed" not in feed_status("feed-warn-only").values()
    _, ok, message, _ = last_publication()
    assert ok is True and message is None
    police = [r for r in results("feed-warn-only") if r[0] == "police" and not r[4]]
    assert [(r[1], r[2], r[3]) for r in police] == [("RK_CZRK", "XB", "warn")]
