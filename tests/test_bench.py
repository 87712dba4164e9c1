"""`hub bench`: the raw load comparison loads the same N rows every way; the stage meter measures time and memory."""

from __future__ import annotations

from govhub import db


def test_raw_load_comparison_loads_the_same_rows(hub_env):
    from govhub.bench import format_results, raw_load_comparison, synthetic_rows

    n = 2000
    rows = synthetic_rows(n)
    result = raw_load_comparison(rows, methods=(None,), rounds=1)
    assert result["rows"] == n
    assert result["copy"]["loaded"] == n and result["copy"]["batch_loaded"] == n
    assert result["copy_plain"]["loaded"] == n and result["to_sql_default"]["loaded"] == n
    # ratios, not speed thresholds: timings drift on a shared machine
    assert result["ratio"] is not None and result["ratio"] > 0
    assert result["loader_over_bare_copy"] == round(result["copy"]["rows_per_s"] / result["copy_plain"]["rows_per_s"], 3)
    text = format_results({"raw_load": {"source": "synthetic", **result}})
    assert "to_sql" in text and "loader / bare COPY" in text
    # scratch tables and bookkeeping are gone
    assert db.query("select to_regclass('raw.bench__rk_czrk'), to_regnamespace('bench')")[1][0] == (None, None)
    assert db.query("select count(*) from ops.batch where feed = 'bench'")[1][0][0] == 0


def test_stage_meter_sees_time_and_each_stage_s_own_peak_memory():
    import time

    from govhub.bench import StageMeter

    meter = StageMeter()
    with meter.stage("outer"):
        with meter.stage("big"):
            block = bytearray(300 * 2**20)  # touched: resident, not just reserved
            block[::4096] = b"\x01" * len(block[::4096])
            del block
        with meter.stage("small"):
            time.sleep(0.2)
    stages = meter.stages
    assert stages["small"]["seconds"] >= 0.2 and stages["outer"]["seconds"] >= stages["small"]["seconds"]
    assert stages["big"]["peak_rss_mb"] >= 300
    assert stages["outer"]["peak_rss_mb"] >= stages["big"]["peak_rss_mb"]  # a stage's peak includes its parts'
    if meter.resettable:  # Linux: the peak is reset per stage, so the small stage does not inherit the big one's
        assert stages["small"]["peak_rss_mb"] < stages["big"]["peak_rss_mb"] - 200
    assert meter.seconds("big", "small") <= stages["outer"]["seconds"] + 0.01


def test_slowest_nodes_ranks_dbt_nodes_and_totals_them_by_resource_type():
    from govhub.bench import slowest_nodes
    from govhub.transform import NodeResult

    nodes = [NodeResult("model.govhub.a", "success", 3.0, None), NodeResult("test.govhub.t1", "pass", 0.5, None),
             NodeResult("model.govhub.b", "success", 7.25, None), NodeResult("test.govhub.t2", "pass", 1.0, None)]
    out = slowest_nodes(nodes, top=3)
    assert [n["node"] for n in out["slowest"]] == ["model.govhub.b", "model.govhub.a", "test.govhub.t2"]
    assert out["by_type"] == {"model": {"nodes": 2, "seconds": 10.25}, "test": {"nodes": 2, "seconds": 1.5}}


def test_reuse_refuses_a_county_of_another_scale_and_reports_a_reused_one(hub_env):
    import pytest

    from govhub.bench import format_results, reused_generation

    # whatever this HUB_HOME holds (nothing, or the tests' tiny county), it is not a city
    with pytest.raises(RuntimeError, match="not 'city'.*Fix: run the bench without --reuse"):
        reused_generation("city")
    reused = {"scale": "city", "seed": 7, "persons": 3_500_003, "reused": True, "simulated_days": 730,
              "seconds": None, "world_seconds": None, "source_rows_written": None, "peak_rss_mb": None}
    text = format_results({"scales": {"city": {"generation": reused}}})
    assert "3,500,003 persons (seed 7), generated before (--reuse)" in text
