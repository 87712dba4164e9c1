"""The pseudonymisation key of ``id_hash`` / ``resident_key``: HMAC-SHA256 of the ID number (RFC 2104).

Where the key lives, and why there. The embedded PostgreSQL 18 has no pgcrypto (``pg_available_extensions``
lists none), so ``hmac()`` is not available; HMAC is built from the core ``sha256(bytea)`` instead:
``HMAC(K, m) = H((K' xor opad) || H((K' xor ipad) || m))``. The two padded keys are computed here, in Python,
and stored in ``hub_secret.id_hash_key``, a table only the transformer role (and the admin) may read;
``util.hub_id_hash(id)`` (dbt macro ``create_udfs``) reads them as its caller (security invoker), and only the
transformer may execute it. So the key is

* not in dbt's compiled SQL or ``target/`` (the models call ``util.hub_id_hash(id_number)``, no key argument),
* not in ``pg_stat_statements`` or the statement log: it is written with a parameterised statement (the text
  holds ``$1``; ``pg_stat_statements`` never records parameter values), with statement and parameter logging
  switched off for that transaction,
* not in the hub's logs or HUB_HOME: only its fingerprint (an HMAC of a fixed label, 12 hex digits) is.

A GUC (``set hub.key``) was the alternative: it would have to be set in every dbt session (in the compiled
``on-run-start`` SQL, or in ``PGOPTIONS``, which ``ps`` shows), and any role can read its own settings. A table
has grants.

The default key ``demo-only-key`` is accepted only on the embedded server (the demo and the tests); with
``HUB_DATABASE_URL`` (a real server) the build refuses it. docs/security.md describes rotation.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os

import psycopg

from govhub.db import TRANSFORMER

log = logging.getLogger(__name__)
ENV = "HUB_ID_HASH_KEY"
DEMO_KEY = "demo-only-key"
MIN_LENGTH = 16


class KeyRefused(RuntimeError):
    """No usable pseudonymisation key for this server."""


def embedded() -> bool:
    return not os.environ.get("HUB_DATABASE_URL")


def configured_key() -> tuple[str, bool]:
    """(key, is_demo) from ``HUB_ID_HASH_KEY``; raise KeyRefused when the demo key would be used on a real server."""
    key = os.environ.get(ENV, "")
    if not key or key == DEMO_KEY:
        if embedded():
            return DEMO_KEY, True
        raise KeyRefused(
            f"refusing to build with {'the public demo key' if key else 'no key'}: set {ENV} to a secret of at "
            f"least {MIN_LENGTH} characters in the hub's environment (compose: the .env file next to "
            f"docker-compose.yml), e.g. {ENV}=$(python -c 'import secrets; print(secrets.token_urlsafe(32))'). "
            "The demo key is accepted only on the embedded server of `hub demo` and the tests")
    if len(key) < MIN_LENGTH and not embedded():
        raise KeyRefused(f"{ENV} is shorter than {MIN_LENGTH} characters: use a random secret "
                         f"(python -c 'import secrets; print(secrets.token_urlsafe(32))')")
    return key, False


def padded_keys(key: str) -> tuple[bytes, bytes]:
    """(K' xor ipad, K' xor opad) of RFC 2104 for SHA-256 (block size 64)."""
    k = key.encode("utf-8")
    if len(k) > 64:
        k = hashlib.sha256(k).digest()
    k = k.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in k), bytes(b ^ 0x5C for b in k)


def fingerprint(key: str) -> str:
    """Identifies a key in logs and tables without revealing it."""
    return hmac.new(key.encode("utf-8"), b"govhub id_hash key fingerprint", "sha256").hexdigest()[:12]


def id_hash(key: str, id_number: str) -> str:
    """What ``util.hub_id_hash`` computes (for tests and for re-keying during a rotation)."""
    return hmac.new(key.encode("utf-8"), id_number.encode("utf-8"), "sha256").hexdigest()


KEY_DDL = f"""
create schema if not exists hub_secret;
revoke all on schema hub_secret from public;
create table if not exists hub_secret.id_hash_key (
    singleton boolean primary key default true check (singleton),
    fingerprint text not null,
    inner_key bytea not null,
    outer_key bytea not null,
    is_demo boolean not null,
    installed_at timestamptz not null default now()
);
revoke all on hub_secret.id_hash_key from public;
grant usage on schema hub_secret to {TRANSFORMER};
grant select on hub_secret.id_hash_key to {TRANSFORMER};
"""


def ensure_id_hash_key(conn: psycopg.Connection) -> str:
    """Install the configured key (admin connection) when it differs from the installed one; return its
    fingerprint. Raises KeyRefused before anything is built when no acceptable key is configured."""
    key, is_demo = configured_key()
    fp = fingerprint(key)
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtextextended('govhub id_hash key', 0))")
        conn.execute(KEY_DDL)
        row = conn.execute("select fingerprint from hub_secret.id_hash_key").fetchone()
        if row and row[0] == fp:
            return fp
        # keep the key out of the server's logs: no statement or parameter logging in this transaction
        for setting in ("log_statement = 'none'", "log_min_duration_statement = -1",
                        "log_parameter_max_length = 0", "log_parameter_max_length_on_error = 0"):
            conn.execute(f"set local {setting}")
        inner, outer = padded_keys(key)
        conn.execute(
            """insert into hub_secret.id_hash_key (fingerprint, inner_key, outer_key, is_demo) values (%s, %s, %s, %s)
               on conflict (singleton) do update set fingerprint = excluded.fingerprint, inner_key = excluded.inner_key,
                   outer_key = excluded.outer_key, is_demo = excluded.is_demo, installed_at = now()""",
            (fp, inner, outer, is_demo), prepare=False)
    if row:
        log.warning("id_hash key changed (fingerprint %s -> %s): every id_hash and resident_key changes; run "
                    "`hub run --full-refresh` (docs/security.md, key rotation)", row[0], fp)
    else:
        log.info("id_hash key installed (fingerprint %s%s)", fp, ", demo key" if is_demo else "")
    return fp
