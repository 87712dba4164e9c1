"""Petition XML exports (contract section 5): structure, malformed files, reappearance, determinism."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path
from xml.etree.ElementTree import Element

import pytest
from defusedxml import ElementTree

from govhub.sim import petition, runner
from govhub.sim.quirks import QuirkRates
from govhub.sim.world import BASE_END, SCALES, generate_world

CHILDREN = ["channel", "petitioner", "headcount", "receivedAt", "category", "targetDept", "isFirst",
            "escalation", "status", "closedAt", "oneTimeResolved", "satisfaction", "updatedAt"]
PETITIONER = ["idNumber", "name", "phone", "address"]
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$")
ENUMS = {"channel": {"来信", "来访", "网上", "电话"},
         "category": {"征地拆迁", "劳动社保", "涉法涉诉", "城乡建设", "农村农业", "民政", "卫生健康", "其他"},
         "isFirst": {"true", "false"}, "escalation": {"本级", "越级", "赴省", "进京"},
         "status": {"受理", "办理中", "办结", "不予受理"}, "oneTimeResolved": {"true", "false"},
         "satisfaction": {"满意", "基本满意", "不满意", "未评价"}}


@pytest.fixture(scope="module", autouse=True)
def default_county_afterwards(hub_env):
    """Other test modules reuse the county they find (generate without reset): leave a default one."""
    yield
    runner.generate("tiny", reset=True)


@pytest.fixture
def exchange(hub_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private petition exchange directory per test."""
    out = tmp_path / "petition"
    monkeypatch.setenv("HUB_EXCHANGE_PETITION", str(out))
    monkeypatch.setenv("HUB_EXCHANGE_CIVIL", str(tmp_path / "civil"))
    return out


def parse(path: Path) -> Element | None:
    try:
        return ElementTree.fromstring(path.read_bytes())
    except ElementTree.ParseError:
        return None


def day_of(path: Path) -> dt.date:
    return dt.datetime.strptime(path.stem.split("_")[1], "%Y%m%d").date()


def test_exports_follow_the_contract(exchange: Path) -> None:
    runner.generate("tiny", reset=True)
    world, rates = generate_world(SCALES["tiny"]), QuirkRates()
    files = sorted(exchange.glob("xinfang_*.xml"))
    assert [day_of(f) for f in files] == [world.start.date() + dt.timedelta(days=i)
                                          for i in range((BASE_END.date() - world.start.date()).days + 1)]
    malformed = set(petition.malformed_days(world, rates, world.start.date(), BASE_END.date()))
    seen = 0
    for f in files:
        assert f.read_bytes().decode("utf-8").startswith('<?xml version="1.0" encoding="UTF-8"?>')
        root = parse(f)
        assert (root is None) == (day_of(f) in malformed), f.name
        if root is None:
            continue
        assert root.tag == "petitions"
        assert root.get("exportedAt") == f"{day_of(f)}T23:00:00+08:00"
        ids = [p.get("id") for p in root]
        assert len(ids) == len(set(ids))
        for p in root:
            seen += 1
            assert p.tag == "petition" and re.fullmatch(r"XF341126\d{10}", p.get("id"))
            assert [c.tag for c in p] == CHILDREN
            assert [c.tag for c in p.find("petitioner")] == PETITIONER
            for tag, allowed in ENUMS.items():
                assert p.findtext(tag) in allowed, tag
            assert int(p.findtext("headcount")) >= 1
            for tag in ("receivedAt", "updatedAt"):
                assert ISO.match(p.findtext(tag)), tag
            closed = p.findtext("closedAt")
            assert (closed != "") == (p.findtext("status") == "办结")
            assert closed == "" or ISO.match(closed)
            assert p.findtext("updatedAt") <= root.get("exportedAt")
    assert seen > 0


def test_malformed_at_rate_one_and_none_at_zero(exchange: Path) -> None:
    runner.generate("tiny", reset=True, rates={"malformed_xml": 1.0})
    assert all(parse(f) is None for f in exchange.glob("*.xml"))
    runner.generate("tiny", reset=True, rates={"malformed_xml": 0.0})
    assert all(parse(f) is not None for f in exchange.glob("*.xml"))


def test_petitions_reappear_when_they_change_and_latest_wins(exchange: Path) -> None:
    runner.generate("tiny", reset=True, rates={"malformed_xml": 0.0})
    world = generate_world(SCALES["tiny"])
    latest: dict[str, tuple[str, str]] = {}
    appearances: dict[str, int] = {}
    for f in sorted(exchange.glob("*.xml")):
        for p in parse(f):
            appearances[p.get("id")] = appearances.get(p.get("id"), 0) + 1
            now = (p.findtext("updatedAt"), p.findtext("status"))
            latest[p.get("id")] = max(latest.get(p.get("id"), ("", "")), now)
    clock = world.clock(0)
    expected = {p.petition_id: p for p in world.petitions if p.received_at <= clock}
    assert set(latest) == set(expected)
    for pid, p in expected.items():
        changes = [t for t, _ in petition.history(p) if t <= clock]
        assert appearances[pid] == len({petition._export_day(t) for t in changes})
        assert latest[pid][1] == max(h for h in petition.history(p) if h[0] <= clock)[1]


def test_advance_writes_one_file_per_day(exchange: Path) -> None:
    runner.generate("tiny", reset=True)
    before = {f.name for f in exchange.iterdir()}
    result = runner.advance(2)
    assert result["written"]["petition"]["files"] == 2
    new = {f.name for f in exchange.iterdir()} - before
    assert new == {f"xinfang_{BASE_END.date() + dt.timedelta(days=d):%Y%m%d}.xml" for d in (1, 2)}


def test_same_seed_gives_byte_identical_exports(exchange: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def hashes(out: Path) -> dict[str, str]:
        return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(out.iterdir())}

    runner.generate("tiny", reset=True)
    first = hashes(exchange)
    other = tmp_path / "petition2"
    monkeypatch.setenv("HUB_EXCHANGE_PETITION", str(other))
    runner.generate("tiny", reset=True)
    assert hashes(other) == first
    assert len(first) > 100
