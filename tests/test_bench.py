"""`hub bench`'s raw load comparison on a small N: both methods load exactly the same N rows."""

from __future__ import annotations

from govhub import db


def test_raw_load_comparison_loads_the_same_rows(hub_env):
    from govhub.bench import format_results, raw_load_comparison, synthetic_rows

    n = 2000
    rows = synthetic_rows(n)
    result = raw_load_comparison(rows, methods=(None,))
    assert result["rows"] == n
    assert result["copy"]["loaded"] == n and result["copy"]["batch_loaded"] == n
    assert result["to_sql_default"]["loaded"] == n
    assert result["ratio"] is not None and result["ratio"] > 0  # a ratio, not a speed threshold: timings drift
    assert "to_sql" in format_results({"raw_load": {"source": "synthetic", **result}})
    # scratch tables and bookkeeping are gone
    assert db.query("select to_regclass('raw.bench__rk_czrk'), to_regnamespace('bench')")[1][0] == (None, None)
    assert db.query("select count(*) from ops.batch where feed = 'bench'")[1][0][0] == 0
