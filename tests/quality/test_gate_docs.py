"""Data Docs retention: the index reads every stored validation result, so the gate keeps the last runs only."""

from __future__ import annotations

from pathlib import Path

from govhub.quality.gate import prune_validation_results


def _run(root: Path, suite: str, stamp: str) -> tuple[Path, Path]:
    result = root / "validations" / suite / "__none__" / stamp / "warehouse-audit.t.json"
    page = root / "data_docs" / "local_site" / "validations" / suite / "__none__" / stamp / "warehouse-audit.t.html"
    for path in (result, page):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    return result, page


def test_prune_keeps_the_last_runs_of_each_suite_with_their_pages(tmp_path):
    stamps = [f"202611{day:02d}T030000.000000Z" for day in range(1, 13)]
    runs = {suite: [_run(tmp_path, suite, s) for s in stamps] for suite in ("published/fct_event", "published/dim_grid")}
    _run(tmp_path, "published/dim_place", stamps[0])  # a suite with few runs keeps them all

    assert prune_validation_results(keep=5, root=tmp_path) == 2 * 7
    for suite_runs in runs.values():
        assert [r.exists() and p.exists() for r, p in suite_runs] == [False] * 7 + [True] * 5
    assert (tmp_path / "validations" / "published/dim_place" / "__none__" / stamps[0]).is_dir()
    assert prune_validation_results(keep=5, root=tmp_path) == 0
