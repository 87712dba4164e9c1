"""One warehouse build at a time: the feed gate → dbt build → gate → publish sequence of one run holds the lock.

The sequence spans several Airflow tasks — one process under `hub run` (``dag.test()`` runs tasks in-process),
one process per task under a scheduler's executor — so the lock has two parts:

* ``ops.build_lock``: one row naming the run that holds the build (run id, host, pid, stage, since when).
  It outlives a task; the ``release_build_lock`` teardown task deletes it, whatever the tasks before it did.
* A session-level PostgreSQL advisory lock (``pg_try_advisory_lock``) on a connection the run's process keeps
  open (the *keeper*, ``application_name`` "govhub build <run id>", visible in ``pg_stat_activity``). Only the
  advisory-lock holder reads or writes the row, and it is released by PostgreSQL when the process dies or the
  server restarts — so a crash never leaves a lock that nobody can take.

A second build *waits*, logging every ``NOTICE_EVERY`` seconds which run holds the lock and at what stage; after
``HUB_BUILD_LOCK_TIMEOUT_SECONDS`` (default 6 h) it fails saying so. When it gets the advisory lock and the row
still names another run, that run is gone if it kept the advisory lock between tasks (scope ``process``, `hub
run`) or died inside a task (stage is not ``between``); a ``task``-scope run between two tasks is presumed
alive for ``HUB_BUILD_LOCK_GRACE_SECONDS`` (default 600). A gone run is *taken over* (``ops.build_run`` says
so); its feed-gate scratch schema is dropped by the next feed gate and its half-built ``audit`` is rebuilt by
the next dbt build (a gate never publishes an ``audit`` it did not validate in the same run).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg

from govhub import db
from govhub.ops import ensure_ops

log = logging.getLogger(__name__)
KEY_SQL = "hashtextextended('govhub.warehouse_build', 0)"
NOTICE_EVERY = 30.0  # seconds between "waiting for …" messages
POLL = 1.0
# Set by govhub.orchestrate when DAG tasks run in this process one after the other (dag.test): the keeper
# connection then holds the advisory lock between tasks too (scope 'process'); otherwise scope 'task'.
IN_PROCESS = False
_keeper: psycopg.Connection | None = None
_keeper_run: str | None = None


class BuildLockTimeout(RuntimeError):
    """Another run held the build lock longer than this run was willing to wait."""


class BuildLockLost(RuntimeError):
    """This run's lock was taken over (it was presumed gone): it must not build or publish any more."""


@dataclass
class Holder:
    run_id: str
    host: str
    pid: int
    scope: str
    stage: str
    acquired_at: Any
    updated_at: Any
    idle_seconds: float

    def describe(self) -> str:
        return (f"run {self.run_id} (host {self.host}, pid {self.pid}, stage {self.stage}, "
                f"holding since {self.acquired_at:%Y-%m-%d %H:%M:%S %Z})")


def _say(message: str) -> None:
    """A message for the operator: the log (the task log under Airflow) and, under `hub run`, the console too —
    there a task's log records do not reach the terminal."""
    log.warning(message)
    if IN_PROCESS:
        print(message, file=sys.stderr, flush=True)


def _setting(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def _holder(conn: psycopg.Connection) -> Holder | None:
    row = conn.execute(
        """select run_id, host, pid, scope, stage, acquired_at, updated_at,
                  extract(epoch from now() - updated_at)::float8 from ops.build_lock""").fetchone()
    return Holder(*row) if row else None


def holder() -> Holder | None:
    """The run named in ``ops.build_lock`` (None when no build runs), for `hub status` and messages."""
    with db.connect() as conn:
        ensure_ops(conn)
        return _holder(conn)


def _gone(h: Holder, grace: float) -> str | None:
    """Why the holder named in the row is presumed gone, given that nobody holds the advisory lock; else None."""
    if h.scope == "process":
        return "its process no longer holds the advisory lock (killed, or its server connection was lost)"
    if h.stage != "between":
        return f"it died inside task {h.stage} (its task process no longer holds the advisory lock)"
    if h.idle_seconds > grace:
        return f"no task of it started for {h.idle_seconds:.0f} s (grace {grace:.0f} s)"
    return None


def _keeper_alive() -> bool:
    if _keeper is None or _keeper.closed:
        return False
    try:
        _keeper.execute("select 1")
        return True
    except psycopg.Error:
        return False


def _open_keeper(run_id: str) -> psycopg.Connection:
    conn = db.connect(autocommit=True, application_name=f"govhub build {run_id}"[:63])
    ensure_ops(conn)
    return conn


def _drop_keeper() -> None:
    global _keeper, _keeper_run
    if _keeper is not None:
        try:
            _keeper.close()
        except Exception:  # a broken connection: closing it is all we wanted
            pass
    _keeper, _keeper_run = None, None


def acquire(run_id: str, stage: str = "acquire") -> None:
    """Hold the build lock for ``run_id`` (waiting while another run holds it); idempotent for the same run."""
    global _keeper, _keeper_run
    if _keeper_run == run_id and _keeper_alive():
        _set_stage(run_id, stage)
        return
    _drop_keeper()
    timeout = _setting("HUB_BUILD_LOCK_TIMEOUT_SECONDS", 6 * 3600)
    grace = _setting("HUB_BUILD_LOCK_GRACE_SECONDS", 600)
    started = time.monotonic()
    noticed = -NOTICE_EVERY
    conn = _open_keeper(run_id)
    try:
        while True:
            if conn.execute(f"select pg_try_advisory_lock({KEY_SQL})").fetchone()[0]:
                h = _holder(conn)
                if h is None or h.run_id == run_id:
                    break
                why = _gone(h, grace)
                if why:
                    _say(f"warehouse build lock: {h.describe()} is gone — {why}; run {run_id} takes over (its "
                         "feed-gate scratch state is dropped, dbt rebuilds audit)")
                    conn.execute("""update ops.build_run set released_at = now(), outcome = 'taken over',
                                    note = %s where run_id = %s and released_at is null""", (why, h.run_id))
                    break
                conn.execute(f"select pg_advisory_unlock({KEY_SQL})")  # alive between two tasks: let it go on
            else:
                h = _holder(conn)
            waited = time.monotonic() - started
            who = h.describe() if h else "a run that is just starting or finishing"
            if waited > timeout:
                raise BuildLockTimeout(f"warehouse build of run {run_id} gave up after waiting {waited:.0f} s: the "
                                       f"build lock is held by {who}. Nothing was built or published by this run.")
            if waited - noticed >= NOTICE_EVERY and not (h and h.run_id == run_id):  # (our own: a moment's wait)
                _say(f"warehouse build of run {run_id} waits: one build at a time, and the lock is held by {who} "
                     f"(waited {waited:.0f} s; `hub status` shows the holder)")
                noticed = waited
            time.sleep(POLL)
        waited = time.monotonic() - started
        scope = "process" if IN_PROCESS else "task"
        conn.execute("""insert into ops.build_lock as l (run_id, host, pid, scope, stage)
                        values (%s, %s, %s, %s, %s)
                        on conflict (lock_name) do update set run_id = excluded.run_id, host = excluded.host,
                          pid = excluded.pid, scope = excluded.scope, stage = excluded.stage,
                          acquired_at = case when l.run_id = excluded.run_id then l.acquired_at else now() end,
                          updated_at = now()""",
                     (run_id, socket.gethostname(), os.getpid(), scope, stage))
        conn.execute("""insert into ops.build_run (run_id, waited_seconds) values (%s, %s)
                        on conflict (run_id) do nothing""", (run_id, round(waited, 1)))
        if waited >= 1:
            _say(f"warehouse build of run {run_id} has the build lock after waiting {waited:.0f} s")
    except BaseException:
        conn.close()
        raise
    _keeper, _keeper_run = conn, run_id


def _set_stage(run_id: str, stage: str) -> None:
    assert _keeper is not None
    row = _keeper.execute("update ops.build_lock set stage = %s, pid = %s, updated_at = now() where run_id = %s "
                          "returning run_id", (stage, os.getpid(), run_id)).fetchone()
    if row is None:
        raise BuildLockLost(f"run {run_id} no longer holds the warehouse build lock (held now by "
                            f"{(_holder(_keeper) or 'nobody')}); it stops without building or publishing")


@contextmanager
def stage(run_id: str | None, name: str) -> Iterator[None]:
    """Run one task of the build sequence under the lock: (re)acquire for ``run_id``, mark the stage, and mark
    ``between`` afterwards. The keeper stays open: under `hub run` the next task runs in this process."""
    run_id = run_id or "manual"
    acquire(run_id, name)
    try:
        yield
    finally:
        if _keeper_run == run_id and _keeper_alive():
            _keeper.execute("update ops.build_lock set stage = 'between', updated_at = now() where run_id = %s",
                            (run_id,))


def release(run_id: str | None) -> bool:
    """Give the build lock up (the teardown task; also after a failed task). Returns whether this run held it."""
    run_id = run_id or "manual"
    try:
        if _keeper_run == run_id and _keeper_alive():
            return _release(_keeper, run_id)
        _drop_keeper()
        with _open_keeper(run_id) as conn:  # a teardown in a process of its own
            h = _holder(conn)
            if h is None or h.run_id != run_id:  # never held, or taken over: nothing of ours to release
                return False
            # our tasks are over, so only a contender checking the row can hold the advisory lock: a moment's wait
            conn.execute(f"select pg_advisory_lock({KEY_SQL})")
            return _release(conn, run_id)
    finally:
        _drop_keeper()


def release_own() -> bool:
    """Release whatever build lock this process still holds (`hub run` calls it after the DAG, whatever
    happened): a process that goes on living must not keep the advisory lock, or other builds would wait."""
    return release(_keeper_run) if _keeper_run else False


def _release(conn: psycopg.Connection, run_id: str) -> bool:
    held = conn.execute("delete from ops.build_lock where run_id = %s returning run_id", (run_id,)).fetchone()
    conn.execute("update ops.build_run set released_at = now(), outcome = 'released' "
                 "where run_id = %s and released_at is null", (run_id,))
    conn.execute(f"select pg_advisory_unlock({KEY_SQL})")
    if held:
        log.info("warehouse build lock released by run %s", run_id)
    return held is not None


def holds_lock(run_id: str) -> bool:
    """Whether this process holds the build lock for ``run_id`` (then any other run's scratch state is stale)."""
    return _keeper_run == run_id and _keeper_alive()
