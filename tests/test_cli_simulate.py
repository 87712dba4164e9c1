"""`hub simulate --live`: the real loop, with the clock's sleep replaced so two simulated days pass at once."""

from __future__ import annotations

import re

import pytest

from govhub import cli, db
from tests.conftest import reset_warehouse


@pytest.fixture(scope="module")
def tiny_county(hub_env):
    from govhub.sim import runner

    reset_warehouse()
    runner.generate("tiny", reset=True)
    return runner


def _police_rows() -> int:
    """Rows in every table of the simulated police system (its table names follow the county's dialect)."""
    from psycopg import sql

    with db.connect("src_police") as conn:
        tables = conn.execute("select table_schema, table_name from information_schema.tables "
                              "where table_schema not in ('pg_catalog', 'information_schema')").fetchall()
        return sum(conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(*t))).fetchone()[0]
                   for t in tables)


def test_live_advances_one_simulated_day_per_interval_and_writes_each_day(tiny_county, monkeypatch, capsys):
    before, police_before = tiny_county.load_state().clock_days, _police_rows()
    slept: list[float] = []

    def clock_sleep(seconds: float) -> None:  # the third interval is Ctrl-C
        slept.append(seconds)
        if len(slept) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(cli.time, "sleep", clock_sleep)
    assert cli.main(["simulate", "--live", "--speed", "2880"]) == 0
    out = capsys.readouterr().out
    assert slept == [30.0, 30.0, 30.0]  # 86,400 / 2,880 real seconds per simulated day
    assert tiny_county.load_state().clock_days == before + 2
    days = re.findall(r"simulated clock (\S+ \S+|\S+): ([\d,]+) new or changed source records", out)
    assert len(days) == 2 and all(int(n.replace(",", "")) > 0 for _, n in days), out
    assert _police_rows() > police_before  # the police system holds the new days' records
    assert "more days" in out.splitlines()[0] and "stopped" in out.splitlines()[-1]


def test_live_refuses_a_speed_that_is_not_positive(tiny_county):
    with pytest.raises(SystemExit, match="--speed must be positive"):
        cli.main(["simulate", "--live", "--speed", "0"])
