"""Readers of `published` during publications see the old or the new version: never an error, never a mix."""

from __future__ import annotations

import threading
import time

import pytest

from govhub import db
from tests.conftest import reset_warehouse, write_audit

PUBLICATIONS = 12
# version k: fact has 1000 + k rows, dim has 2000 + k rows, and marker.version = k in both
CONSISTENT = "select (select count(*) from published.fact), (select count(*) from published.dim), " \
             "(select max(version) from published.fact), (select max(version) from published.dim)"


@pytest.fixture
def clean(hub_env):
    from govhub.ops import ensure_ops

    reset_warehouse()
    with db.connect() as conn:
        ensure_ops(conn)
    yield
    reset_warehouse()


READERS = (
    "select count(*) from published.fact",
    CONSISTENT,
    "select count(*), max(f.version), max(d.version) from published.fact f join published.dim d using (id)",
)


def read_during_publications(publish_version) -> tuple[list[tuple], list[str]]:
    """Three reader threads query `published` in a loop while ``publish_version(k)`` runs k = 1..N."""
    done = threading.Event()
    seen: list[tuple] = []
    errors: list[str] = []

    def reader(statement: str) -> None:
        with db.connect(autocommit=True) as conn:
            while not done.is_set():
                try:
                    seen.append((statement, *conn.execute(statement).fetchone()))
                except Exception as exc:  # any error is a failure of the atomic swap
                    errors.append(f"{type(exc).__name__}: {exc}")

    readers = [threading.Thread(target=reader, args=(s,), daemon=True) for s in READERS]
    for t in readers:
        t.start()
    time.sleep(0.3)
    try:
        for k in range(1, PUBLICATIONS + 1):
            write_audit(k)
            publish_version(k)
            time.sleep(0.05)  # let readers run against each version
    finally:
        done.set()
        for t in readers:
            t.join(timeout=30)
    return seen, errors


def mixes(seen: list[tuple]) -> list[tuple]:
    bad = []
    for statement, *values in seen:
        if statement == CONSISTENT:
            fact, dim, vf, vd = values
            ok = vf == vd and fact == 1000 + vf and dim == 2000 + vd
        elif "join" in statement:
            rows, vf, vd = values
            ok = vf == vd and rows == 1000 + vf
        else:
            ok = 1000 <= values[0] <= 1000 + PUBLICATIONS
        if not ok:
            bad.append(values)
    return bad


def test_readers_see_whole_versions_only(clean):
    from govhub.publish import publish

    write_audit(0)
    publish("v0")
    seen, errors = read_during_publications(lambda k: publish(f"v{k}"))
    assert errors == [], errors[:5]
    assert mixes(seen) == []
    # the readers really ran across publications, not just before or after them
    versions = {values[2] for _, *values in seen if len(values) == 4}
    assert len(versions) >= 3, versions
    assert db.query("select count(*) from published.fact")[1][0][0] == 1000 + PUBLICATIONS


def test_the_harness_catches_a_non_atomic_swap(clean):
    """Control: the same readers against a swap in two transactions do see errors (so the test above can fail)."""
    from govhub.publish import publish

    write_audit(0)
    publish("v0")

    def naive(k: int) -> None:
        with db.connect(autocommit=True) as conn:
            conn.execute("drop schema published cascade")
            time.sleep(0.02)
            conn.execute("alter schema audit rename to published")

    seen, errors = read_during_publications(naive)
    assert errors and any("does not exist" in e for e in errors)
