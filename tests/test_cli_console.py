"""The console of `hub run` / `hub demo`: internals in a log file, one line per DAG and task, a failure once
with its fix, tables aligned by display width. (The line budget of a whole pass is checked on the tiny county
in tests/test_pipeline_e2e.py, where the real DAGs run.)"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from types import SimpleNamespace

from rich.cells import cell_len
from rich.console import Console

from govhub.console import PipelineView, internals_to_log
from govhub.db import format_table


def test_internals_go_to_the_log_and_people_see_the_console(tmp_path, capfd):
    log = tmp_path / "run.log"
    with internals_to_log(log) as out:
        out.print("for people")
        # (sys.__stdout__: pytest swaps sys.stdout for its own object; the CLI's writes to fd 1)
        print("dbt: 10:00:01  1 of 273 START sql table model ...", file=sys.__stdout__, flush=True)
        os.write(2, b"Calculating Metrics: 100%|##########| 8/8\n")
        subprocess.run([sys.executable, "-c", "print('airflow db migrate: done')"], check=True)
    shown = capfd.readouterr()
    assert "for people" in shown.out
    assert "dbt" not in shown.out + shown.err and "Calculating" not in shown.out + shown.err
    internals = log.read_text()
    assert "1 of 273 START" in internals and "Calculating Metrics" in internals and "db migrate" in internals
    print("after", file=sys.__stdout__, flush=True)  # restored
    assert "after" in capfd.readouterr().out


def _ti(dag_id, task_id, try_number=1, retries=2):
    return SimpleNamespace(dag_id=dag_id, task_id=task_id, try_number=try_number, task=SimpleNamespace(retries=retries))


def test_one_line_per_dag_and_task_and_a_failure_once_with_its_fix():
    buffer = io.StringIO()
    with PipelineView(Console(file=buffer, width=120), live=False) as view:
        view.dag_started("extract_police", ["extract_RK_CZRK", "extract_ZDRY"])
        ok, bad = _ti("extract_police", "extract_RK_CZRK"), _ti("extract_police", "extract_ZDRY")
        view.task_running(ok)
        view.task_succeeded(ok)
        view.task_running(bad)
        view.task_failed(bad, RuntimeError("feed police, object ZDRY: source database unreachable. "
                                           "Fix: check connection police_db / ask 县公安局"))
        assert view.lines[("extract_police", "extract_ZDRY")].state == "retry 1/2"
        for attempt in (2, 3):
            view.task_running(_ti("extract_police", "extract_ZDRY", attempt))
            view.task_failed(_ti("extract_police", "extract_ZDRY", attempt),
                             RuntimeError("feed police, object ZDRY: source database unreachable. "
                                          "Fix: check connection police_db / ask 县公安局"))
        view.dag_finished("extract_police", "failed", {"extract_RK_CZRK": "success", "extract_ZDRY": "failed"}, 3.0)
    text = buffer.getvalue().splitlines()
    assert [line.split()[0] for line in text[1:4]] == ["extract_police", "extract_RK_CZRK", "extract_ZDRY"]
    assert text[2].split()[1] == "success" and text[3].split()[1] == "failed"
    assert "total: 1 DAGs, 2 tasks (1 ok, 1 failed)" in text[4]
    failures = [line for line in text if "✗" in line]
    assert failures == ["✗ extract_police › extract_ZDRY failed: feed police, object ZDRY: source database unreachable"]
    assert text[-1] == "  fix: check connection police_db / ask 县公安局"
    assert len(text) == 7


def test_tables_align_by_display_width():
    table = format_table(["feed", "object", "rows"], [("civil", "低保对象", 3), ("police", "RK_CZRK", 12345),
                                                      ("civil", "很长的对象名" * 10, 1)])
    widths = {cell_len(line) for line in table.splitlines()[:-1]}
    assert len(widths) == 1, table
