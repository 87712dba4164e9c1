"""`hub report` rebuilds the scorecard and prints where it is (file and plugin URL)."""

from __future__ import annotations


def test_hub_report_prints_the_scorecard_path(hub_env, capsys):
    from govhub.cli import main
    from govhub.quality.scorecard import report_path

    report_path().unlink(missing_ok=True)
    assert main(["report"]) == 0
    out = capsys.readouterr().out
    assert f"scorecard: {report_path()}" in out and "/hub-quality/" in out
    assert report_path().exists() and "<html" in report_path().read_text(encoding="utf-8")
