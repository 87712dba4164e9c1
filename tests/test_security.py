"""Issue 14: roles, row-level security, the pseudonymisation key, restricted data behind the gate, secrets.

One tiny county, one pipeline pass, with a non-default key and component passwords set, so that the scan of
logs, Airflow metadata and HUB_HOME has something real to look for.
"""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest

from govhub import db, keys, roles
from govhub.settings import AIRFLOW_DB, WAREHOUSE_DB, hub_home
from tests.conftest import reset_warehouse

KEY = "sec-test-key-" + "k3y" * 8
PASSWORD = "pw'with space@and:colon"
OFFICIAL_LOGIN, NONE_LOGIN, DASH_LOGIN, OFFICER_LOGIN = "sec_official", "sec_official_none", "sec_dash", "sec_officer"
WEBHOOK_TOKEN = "hook-t0ken-" + "w3b" * 6  # the path of the alert webhook: its secret


def closed_port() -> int:
    import socket

    with socket.socket() as s:  # nobody listens there: an alert fails fast, and is logged
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def county(hub_env):
    from govhub.orchestrate import run_pipeline
    from govhub.sim import runner

    env = {"HUB_ID_HASH_KEY": KEY, "HUB_PG_PASSWORD_LOADER": PASSWORD, "HUB_PG_PASSWORD_TRANSFORMER": PASSWORD,
           "HUB_PG_PASSWORD_PUBLISHER": PASSWORD, "HUB_PG_PASSWORD_GATE": PASSWORD, "HUB_PG_PASSWORD_READER": PASSWORD,
           "HUB_ALERT_WEBHOOK_URL": f"http://127.0.0.1:{closed_port()}/hooks/{WEBHOOK_TOKEN}"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    reset_warehouse()
    runner.generate("tiny", reset=True)
    run_pipeline()
    with db.connect(autocommit=True) as conn:
        for login, group in ((OFFICIAL_LOGIN, roles.OFFICIAL), (NONE_LOGIN, roles.OFFICIAL),
                             (DASH_LOGIN, roles.DASHBOARD), (OFFICER_LOGIN, roles.OFFICER)):
            if not conn.execute("select 1 from pg_roles where rolname = %s", (login,)).fetchone():
                conn.execute(f"create role {login} login")
            conn.execute(f"grant {group} to {login}")
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def as_login(user: str) -> psycopg.Connection:
    return psycopg.connect(db.server().as_user(user).conninfo(WAREHOUSE_DB), autocommit=True)


def refused(conn: psycopg.Connection, statement: str) -> bool:
    try:
        conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege:
        return True
    return False


def scalar(statement: str, params=None):
    return db.query(statement, params)[1][0][0]


# --- the pseudonymisation key ---------------------------------------------------------------------------------

def test_id_hash_is_hmac_sha256_with_the_configured_key(county):
    id_number, resident_key = db.query("select id_number, resident_key from restricted.restricted_resident "
                                       "where id_number ~ '^[0-9]{17}[0-9X]$' limit 1")[1][0]
    id_hash = scalar("select id_hash from published.dim_resident where resident_key = %s", (resident_key,))
    assert id_hash == keys.id_hash(KEY, id_number)  # RFC 2104, as Python's hmac computes it
    assert id_hash != keys.id_hash(keys.DEMO_KEY, id_number)
    # a key longer than SHA-256's block is hashed first, as RFC 2104 says
    long_key = "x" * 100
    inner, outer = keys.padded_keys(long_key)
    got = scalar("select encode(sha256(%s || sha256(%s || convert_to('110101199003074514', 'UTF8'))), 'hex')",
                 (outer, inner))
    assert got == keys.id_hash(long_key, "110101199003074514")


def test_the_key_is_nowhere_in_dbt_output(county):
    from govhub.transform import dbt_log_dir, target_dir

    inner, outer = keys.padded_keys(KEY)
    needles = [KEY.encode(), inner.hex().encode(), outer.hex().encode()]
    for path in [*target_dir().rglob("*"), *dbt_log_dir().rglob("*")]:
        if path.is_file():
            data = path.read_bytes()
            assert not any(n in data for n in needles), path
    # the models call the function without a key
    assert "util.hub_id_hash(id_number)" in (target_dir() / "compiled" / "govhub" / "models" / "marts" /
                                             "dim_resident.sql").read_text()


def test_no_statement_in_pg_stat_statements_holds_the_key_or_a_password(county):
    """The embedded server preloads pg_stat_statements (as production servers usually do): after a build with the
    key installed and role passwords set, no statement it recorded holds the key, its padded forms or a password."""
    with db.connect(autocommit=True) as conn:
        assert "pg_stat_statements" in conn.execute("show shared_preload_libraries").fetchone()[0]
        conn.execute("create extension if not exists pg_stat_statements")
        texts = [r[0] for r in conn.execute("select query from pg_stat_statements")]
    # what the scan must see: the key's install (parameterised), role passwords set, the models hashing IDs
    assert any(t.lstrip().lower().startswith("insert into hub_secret.id_hash_key") and "$2" in t for t in texts)
    assert any("alter role" in t.lower() and "password" in t.lower() for t in texts)
    assert any("util.hub_id_hash(" in t for t in texts)
    inner, outer = keys.padded_keys(KEY)
    for secret in (KEY, inner.hex(), outer.hex(), PASSWORD):
        assert not [t for t in texts if secret in t]


def test_build_refuses_the_demo_key_outside_the_embedded_stack(county, monkeypatch):
    from govhub import transform

    address = db.server()
    monkeypatch.setenv("HUB_DATABASE_URL", f"postgresql://postgres@/?host={address.host}&port={address.port}")
    for configured in (None, keys.DEMO_KEY):
        if configured is None:
            monkeypatch.delenv("HUB_ID_HASH_KEY", raising=False)
        else:
            monkeypatch.setenv("HUB_ID_HASH_KEY", configured)
        with pytest.raises(keys.KeyRefused, match="HUB_ID_HASH_KEY.*secrets.token_urlsafe"):
            transform.build(select="dim_resident")
    monkeypatch.setenv("HUB_ID_HASH_KEY", "short")
    with pytest.raises(keys.KeyRefused, match="shorter than"):
        transform.build(select="dim_resident")
    # on the embedded stack (demo, tests) the demo key is accepted
    monkeypatch.delenv("HUB_DATABASE_URL")
    monkeypatch.delenv("HUB_ID_HASH_KEY")
    assert keys.configured_key() == (keys.DEMO_KEY, True)
    # and dbt itself refuses a demo key it is not told is embedded (dbt run outside `hub`)
    with db.connect() as conn:
        conn.execute("update hub_secret.id_hash_key set is_demo = true")
    monkeypatch.setattr(transform, "prepare", lambda: None)
    monkeypatch.setenv("HUB_ID_HASH_KEY", KEY)
    real_env = transform.dbt_environment
    monkeypatch.setattr(transform, "dbt_environment", lambda: {**real_env(), "HUB_DEMO_KEY_ALLOWED": ""})
    try:
        with pytest.raises(transform.TransformError, match="demo key outside the embedded stack"):
            transform.build(select="dim_resident")
    finally:
        with db.connect() as conn:
            conn.execute("update hub_secret.id_hash_key set is_demo = false")


# --- roles ----------------------------------------------------------------------------------------------------

def test_every_role_is_refused_what_it_must_not_do(county):
    with as_login(db.LOADER) as c:
        assert refused(c, "select 1 from published.dim_resident limit 1")
        assert refused(c, "select 1 from restricted.restricted_resident limit 1")
        assert refused(c, "select 1 from hub_secret.id_hash_key")
        assert refused(c, "insert into ops.official_jurisdiction values ('x', 'y')")
        assert refused(c, "insert into ops.publication (run_id, tables, batches, gate_success) values ('x', '{}', '{}', true)")
        assert refused(c, "copy (select 1) to program 'true'")
        assert refused(c, "create schema sec_loader")
        assert c.execute("select count(*) from raw.police__rk_czrk").fetchone()[0] > 0  # what it may
    with as_login(db.TRANSFORMER) as c:
        assert refused(c, "delete from published.fct_event")
        assert refused(c, "select 1 from restricted.restricted_resident limit 1")
        assert refused(c, "delete from raw.police__rk_czrk")
        assert refused(c, "insert into ops.publication (run_id, tables, batches, gate_success) values ('x', '{}', '{}', true)")
        assert refused(c, "copy (select 1) to program 'true'")
        assert refused(c, "alter schema published rename to sec_stolen")
    with as_login(db.PUBLISHER) as c:
        assert refused(c, "select 1 from hub_secret.id_hash_key")
        assert refused(c, "select 1 from raw.police__rk_czrk limit 1")
        assert refused(c, "select util.hub_id_hash('110101199003074514')")
        assert refused(c, "copy (select 1) to program 'true'")
    with as_login(DASH_LOGIN) as c:
        assert c.execute("select count(*) from published.fct_event").fetchone()[0] > 0
        for table in ("restricted.restricted_resident", "raw.police__rk_czrk", "ops.batch", "ops.quarantine",
                      "intermediate.int_residents__profiled", "linkage.resident_xref", "hub_secret.id_hash_key"):
            assert refused(c, f"select 1 from {table} limit 1"), table
        assert refused(c, "select util.hub_id_hash('110101199003074514')")  # no hashing oracle
        assert refused(c, "delete from published.fct_event")
    with as_login(OFFICIAL_LOGIN) as c:
        assert refused(c, "select 1 from published.dim_resident limit 1")
        assert refused(c, "select 1 from raw.police__rk_czrk limit 1")
        assert refused(c, "insert into ops.official_jurisdiction values ('sec_official', '0')")
        assert refused(c, "update restricted.restricted_resident set person_name = 'x'")
    with as_login(OFFICER_LOGIN) as c:
        assert refused(c, "select 1 from raw.police__rk_czrk limit 1")
        assert refused(c, "select 1 from published.fct_event limit 1")
        assert refused(c, "select 1 from restricted.restricted_resident limit 1")
        assert refused(c, "delete from ops.batch")


def test_the_gate_and_reader_roles_are_refused_what_they_must_not_do(county):
    with as_login(db.GATE) as c:
        for statement in ("select 1 from restricted.restricted_resident limit 1", "select 1 from hub_secret.id_hash_key",
                          "select util.hub_id_hash('110101199003074514')", "delete from published.fct_event",
                          "delete from raw.police__rk_czrk", "delete from ops.validation_result",
                          "update ops.batch set status = 'failed'",
                          "insert into ops.official_jurisdiction values ('x', 'y')",
                          "insert into ops.publication (run_id, tables, batches, gate_success) values ('x', '{}', '{}', true)",
                          "copy (select 1) to program 'true'", "create role sec_gate_made"):
            assert refused(c, statement), statement
        # what it needs: raw and the built tables to check, its results to write
        assert c.execute("select count(*) from raw.police__rk_czrk").fetchone()[0] > 0
        assert c.execute("select count(*) from published.fct_event").fetchone()[0] > 0
        assert c.execute("select count(*) from linkage.resident_xref").fetchone()[0] > 0
    with as_login(db.READER) as c:
        for statement in ("select 1 from raw.police__rk_czrk limit 1", "select 1 from ops.quarantine limit 1",
                          "select 1 from published.fct_event limit 1", "select 1 from restricted.restricted_resident",
                          "select 1 from intermediate.int_person_records__unioned limit 1",
                          "select 1 from linkage.resident_xref limit 1", "insert into ops.batch_hold (batch_id, feed, "
                          "object, run_id, reason) values ('x', 'x', 'x', 'x', 'x')", "delete from ops.batch"):
            assert refused(c, statement), statement
        assert c.execute("select count(*) from ops.batch").fetchone()[0] > 0


def test_gates_scorecard_and_status_run_without_the_admins_login(county, monkeypatch, tmp_path, capsys):
    """They log in as hub_gate / hub_reader: with every admin login failing they still run, and write results."""
    from govhub import cli
    from govhub.quality import feed_gate, gate
    from govhub.quality.scorecard import build_scorecard

    published = [r[0] for r in db.query("select tablename from pg_tables where schemaname = 'published'")[1]]
    with db.connect() as conn:  # a build in audit, as dbt leaves it (its grants: dbt_project.yml)
        for t in published:
            conn.execute(f"create table audit.{t} as table published.{t}")
            conn.execute(f"grant select on audit.{t} to {roles.DASHBOARD}, {db.GATE}")
    real = db.server()
    monkeypatch.setattr(db, "server", lambda start=True: real.as_user("sec_no_such_admin"))
    with pytest.raises(psycopg.OperationalError, match="sec_no_such_admin"):
        db.connect_admin().close()
    report = feed_gate.run_feed_gate("sec-roles-feed-gate")
    assert "police" in report.verdicts
    try:
        outcomes = gate.run_gate("sec-roles-gate")
    finally:
        with psycopg.connect(real.conninfo(WAREHOUSE_DB)) as conn:  # (the admin, unpatched)
            for t in published:
                conn.execute(f"drop table audit.{t}")
    assert outcomes and not [o for o in outcomes if o.error]
    assert "县公安局" in build_scorecard(tmp_path).read_text(encoding="utf-8")
    assert cli.main(["status"]) == 0
    assert "Last batch per feed object" in capsys.readouterr().out
    monkeypatch.undo()
    written = dict(db.query("select run_id, count(*) from ops.validation_result where run_id like 'sec-roles-%' "
                            "group by 1")[1])
    assert written.get("sec-roles-feed-gate", 0) > 0 and written.get("sec-roles-gate", 0) > 0


def test_a_department_officer_reads_only_its_departments_rows(county):
    feeds = dict(db.query("select feed, count(*) from ops.batch group by 1")[1])
    assert len(feeds) > 1
    with db.connect() as conn:
        conn.execute("insert into ops.officer_department values (%s, 'police') on conflict do nothing",
                     (OFFICER_LOGIN,))
    with as_login(OFFICER_LOGIN) as c:
        seen = dict(c.execute("select feed, count(*) from ops.batch group by 1").fetchall())
        assert seen == {"police": feeds["police"]}
        assert {r[0] for r in c.execute("select distinct feed from ops.quarantine")} <= {"police"}
        assert {r[0] for r in c.execute("select distinct feed from ops.validation_result")} <= {"police"}


def test_an_official_sees_its_jurisdiction_only_and_so_does_the_owner(county):
    township, in_township = db.query("""select township_code, count(*) from restricted.restricted_resident
                                        where township_code is not null group by 1 order by 2 desc limit 1""")[1][0]
    total = scalar("select count(*) from restricted.restricted_resident")
    assert total > in_township
    with db.connect() as conn:
        conn.execute("insert into ops.official_jurisdiction values (%s, %s) on conflict do nothing",
                     (OFFICIAL_LOGIN, township))
    with as_login(OFFICIAL_LOGIN) as c:
        assert c.execute("select count(*), count(distinct township_code) from restricted.restricted_resident"
                         ).fetchone() == (in_township, 1)
    with as_login(NONE_LOGIN) as c:
        assert c.execute("select count(*) from restricted.restricted_resident").fetchone()[0] == 0
    # FORCE: the tables' owner (the transformer), even given the schema, reads nothing the policy does not grant
    owner = scalar("select tableowner from pg_tables where schemaname = 'restricted' and tablename = 'restricted_resident'")
    assert owner == db.TRANSFORMER
    with db.connect() as conn:  # rolled back: the grant never outlives the check
        conn.execute(f"grant usage on schema restricted to {db.TRANSFORMER}")
        conn.execute(f"set role {db.TRANSFORMER}")
        assert conn.execute("select count(*) from restricted.restricted_resident").fetchone()[0] == 0
        conn.rollback()


def test_grants_and_policies_are_checked_and_drift_is_refused(county):
    with db.connect() as conn:
        assert roles.privilege_problems(conn) == []
        assert scalar("select count(*) from pg_policies where schemaname = 'restricted' "
                      "and policyname = 'by_jurisdiction'") == 2
        for drift, expected in [
            ("alter table restricted.restricted_resident no force row level security", "forced=False"),
            (f"grant select on restricted.restricted_resident to {roles.DASHBOARD}", "dashboard_reader holds SELECT"),
            ("grant select on published.fct_event to public", "PUBLIC holds SELECT"),
            (f"grant usage on schema published to {db.TRANSFORMER}", "may use schema published"),
            ("alter view staging.stg_police__key_persons reset (security_invoker)", "not security_invoker"),
            ("drop policy officer_own_feed on ops.quarantine", "ops.quarantine: officer"),
        ]:
            conn.execute("savepoint drift")
            conn.execute(drift)
            with pytest.raises(roles.PrivilegeDrift, match=expected):
                roles.check_privileges(conn)
            conn.execute("rollback to savepoint drift")
        conn.rollback()


def copy_live_version_into_audit(conn) -> tuple[list[str], list[str]]:
    """The live version's tables copied into the audit schemas, as a new build (cheaper than dbt); returns the
    published and the restricted table names."""
    published, restricted = ([r[0] for r in conn.execute("select tablename from pg_tables where schemaname = %s",
                                                         (schema,)).fetchall()] for schema in ("published", "restricted"))
    for t in published:
        conn.execute(f"create table audit.{t} as table published.{t}")
    for t in restricted:
        conn.execute(f"create table audit_restricted.{t} as table restricted.{t}")
    return published, restricted


def test_a_blocked_gate_leaves_restricted_unchanged(county):
    from govhub.pipeline import gate_and_publish
    from govhub.quality.gate import GateFailed

    def fingerprint() -> list:
        return db.query("""select md5(string_agg(t::text, '|' order by t::text)) from restricted.restricted_resident t
                           union all select md5(coalesce(string_agg(t::text, '|' order by t::text), ''))
                           from restricted.restricted_warning_subject t""")[1]

    before = fingerprint()
    with db.connect() as conn:
        # a new build in the audit schemas (cheaper than dbt, same effect): new restricted rows (every name
        # changed) and a volume drop the gate blocks
        published, restricted = copy_live_version_into_audit(conn)
        for t in published:
            conn.execute(f"grant select on audit.{t} to {db.GATE}")  # as dbt's grants do: the gate reads audit
        conn.execute("delete from audit.fct_event where random() < 0.95")
        changed = conn.execute("update audit_restricted.restricted_resident set person_name = 'NEW'").rowcount
    assert changed > 0
    try:
        with pytest.raises(GateFailed, match="fct_event"):
            gate_and_publish("sec-blocked")
        assert fingerprint() == before
        assert scalar("select count(*) from restricted.restricted_resident where person_name = 'NEW'") == 0
        assert scalar("select count(*) from audit_restricted.restricted_resident where person_name = 'NEW'") == changed
    finally:
        with db.connect() as conn:
            for schema, tables in (("audit", published), ("audit_restricted", restricted)):
                for t in tables:
                    conn.execute(f"drop table if exists {schema}.{t}")


# --- secrets --------------------------------------------------------------------------------------------------

def test_connection_strings_escape_and_never_show_the_password():
    from govhub.settings import ServerAddress, server_from_url

    a = ServerAddress("db.example", 5432, "hub", "p' host=evil.example")
    assert psycopg.conninfo.conninfo_to_dict(a.conninfo("warehouse"))["host"] == "db.example"
    assert server_from_url(a.url("warehouse").rsplit("/", 1)[0]).password == a.password
    assert a.password not in a.display_url("warehouse") and a.password not in repr(a)


def test_hub_up_prints_no_password(county, monkeypatch, capsys):
    from urllib.parse import quote

    from govhub import cli

    address = db.server()
    monkeypatch.setenv("HUB_DATABASE_URL",
                       f"postgresql://postgres:{quote(PASSWORD, safe='')}@/?host={address.host}&port={address.port}")
    assert db.server().password == PASSWORD
    assert cli.main(["up"]) == 0
    out = capsys.readouterr().out
    assert "PostgreSQL ready" in out and "***" in out and PASSWORD not in out and quote(PASSWORD, safe="") not in out


def _secrets(county_rows: int = 300) -> dict[str, str]:
    rows = db.query("select id_number, person_name from restricted.restricted_resident where id_number is not null "
                    "and char_length(person_name) >= 3 order by resident_key limit %s", (county_rows,))[1]
    from govhub.sim import justice

    # the simulated justice API's client secret (the session's server: conftest starts it) and the webhook's token
    client_secret = (justice.background_info(hub_home()) or {}).get("clientSecret")
    assert client_secret
    found = {"key": KEY, "password": PASSWORD, "justice client secret": client_secret, "webhook token": WEBHOOK_TOKEN}
    for i, (id_number, name) in enumerate(rows):  # (reported by position: the report itself must not leak)
        found[f"ID number #{i}"] = id_number
        found[f"full name #{i}"] = name
    return found


def test_logs_airflow_metadata_and_hub_home_hold_no_secret_or_person(county):
    from urllib.parse import quote

    secrets = _secrets()
    assert len(secrets) > 10
    home = hub_home()
    # the departments' deliveries (exchange/) and the database's own files (pgdata/) hold people by design; the
    # server's log (pgdata/log) is a log and is scanned
    skip = {home / "exchange", home / "pgdata"}
    # the simulator's own file: it hands the hub the client secret of the simulated API (docs/security.md), so it
    # holds that secret by design, readable by the OS user only; every other file is scanned
    simulator_file = home / "justice.json"
    assert simulator_file.stat().st_mode & 0o777 == 0o600
    leaks = []
    for path in home.rglob("*"):
        if not path.is_file() or (any(s in path.parents for s in skip) and path != home / "pgdata" / "log"):
            continue
        if path == simulator_file:
            continue
        text = path.read_bytes().decode("utf-8", "replace")
        leaks += [f"{what} in {path.relative_to(home)}" for what, s in secrets.items() if s in text]
    with db.connect(AIRFLOW_DB) as conn:
        tables = [r[0] for r in conn.execute(
            "select format('%I.%I', schemaname, tablename) from pg_tables where schemaname = 'public'")]
        for table in tables:
            text = conn.execute(f"select coalesce(string_agg(t::text, '|'), '') from {table} t").fetchone()[0]
            leaks += [f"{what} in airflow {table}" for what, s in secrets.items() if s in text]
    # GX's file context (expectations/gx) keeps the gate's data source: a reference to its URL, never the URL
    from govhub.quality.gate import gx_root

    for path in (gx_root() / "gx").rglob("*.yml"):
        text = path.read_text(encoding="utf-8", errors="replace")
        leaks += [f"{what} in {path}" for what, s in secrets.items() if s in text]
        leaks += [f"a password in {path}" for needle in (PASSWORD, quote(PASSWORD, safe="")) if needle in text]
    assert not leaks, leaks[:10]
    assert "postgresql" not in (home / "airflow" / ".migrated").read_text()


def test_the_scan_can_fail(county, tmp_path):
    """The scan above would see a leak: a log line in HUB_HOME with an ID number, the justice API's client secret
    or the webhook's token is found."""
    secrets = _secrets(5)
    leak = Path(hub_home()) / "logs" / "sec-canary.log"
    leak.write_text(f"loaded {secrets['ID number #0']} via {secrets['justice client secret']} "
                    f"alerting {secrets['webhook token']}\n", encoding="utf-8")
    try:
        with pytest.raises(AssertionError, match="sec-canary") as found:
            test_logs_airflow_metadata_and_hub_home_hold_no_secret_or_person(county)
        for what in ("ID number #0", "justice client secret", "webhook token"):
            assert f"{what} in logs/sec-canary.log" in str(found.value)
    finally:
        leak.unlink()


def test_installing_a_key_or_a_role_password_leaves_no_trace_in_the_server_log(county, monkeypatch):
    """With every statement logged, rotating the key and setting a role password still log neither."""
    import secrets
    import time

    server_log = hub_home() / "pgdata" / "log"
    start = server_log.stat().st_size
    key2, password2 = "rotated-" + secrets.token_hex(16), "pw-" + secrets.token_hex(8)
    with db.connect(autocommit=True) as conn:
        conn.execute("alter system set log_statement = 'all'")
        conn.execute("select pg_reload_conf()")
    try:
        time.sleep(0.3)
        monkeypatch.setenv("HUB_ID_HASH_KEY", key2)
        monkeypatch.setenv("HUB_PG_PASSWORD_LOADER", password2)
        with db.connect() as conn:
            assert keys.ensure_id_hash_key(conn) == keys.fingerprint(key2)
            with conn.transaction():
                roles.ensure_roles(conn)
    finally:
        with db.connect(autocommit=True) as conn:
            conn.execute("alter system reset log_statement")
            conn.execute("select pg_reload_conf()")
        monkeypatch.setenv("HUB_ID_HASH_KEY", KEY)
        with db.connect() as conn:
            keys.ensure_id_hash_key(conn)
    with server_log.open("rb") as f:
        f.seek(start)
        text = f.read().decode("utf-8", "replace")
    assert "hub_secret.id_hash_key" in text and "alter role" in text  # the statements around them were logged
    inner, outer = keys.padded_keys(key2)
    for secret in (key2, inner.hex(), outer.hex(), password2):
        assert secret not in text


# --- last: a refused publication (it leaves every schema as it was, but runs after the scans all the same) --

def test_a_privilege_drift_in_the_new_build_refuses_the_publication(county):
    """publish checks grants and policies inside the swap, as the publisher: a new restricted table without FORCE
    ROW LEVEL SECURITY is never swapped in; published, restricted and ops.publication stay as they were."""
    from govhub import publish

    def state() -> list:
        return db.query("""select (select array_agg(oid order by nspname) from pg_namespace
                                   where nspname in ('published', 'restricted')),
                                  (select md5(string_agg(t::text, '|' order by t::text))
                                   from restricted.restricted_resident t),
                                  (select md5(string_agg(t::text, '|' order by t::text)) from published.dim_resident t),
                                  (select count(*) from ops.publication), (select max(version) from ops.publication)
                        """)[1]

    before = state()
    with db.connect() as conn:
        # a new build in the audit schemas, as dbt leaves it (RLS enabled and forced, the jurisdiction policy on
        # every restricted table: copied from the live one), with new restricted rows
        published, restricted = copy_live_version_into_audit(conn)
        for t in restricted:
            qual = conn.execute("select qual from pg_policies where schemaname = 'restricted' and tablename = %s "
                                "and policyname = 'by_jurisdiction'", (t,)).fetchone()[0]
            conn.execute(f"alter table audit_restricted.{t} enable row level security")
            conn.execute(f"alter table audit_restricted.{t} force row level security")
            conn.execute(f"create policy by_jurisdiction on audit_restricted.{t} for select using ({qual})")
        assert conn.execute("update audit_restricted.restricted_resident set person_name = 'NEW'").rowcount > 0
        # the drift: the owner (the transformer) would read every row of the new restricted_resident
        conn.execute("alter table audit_restricted.restricted_resident no force row level security")
    try:
        with pytest.raises(roles.PrivilegeDrift) as refused:
            publish.publish("sec-drift", [], message="must not be published")
        # this drift alone refused it (the rest of the hand-made build is in order)
        assert str(refused.value).split("refused: ", 1)[1] == (
            "restricted.restricted_resident: row-level security enabled=True forced=False policy by_jurisdiction=True")
        assert state() == before
        assert scalar("select count(*) from ops.publication where run_id = 'sec-drift'") == 0
        assert scalar("select count(*) from restricted.restricted_resident where person_name = 'NEW'") == 0
        with db.connect() as conn:
            assert roles.privilege_problems(conn) == []
    finally:
        with db.connect() as conn:
            for schema, tables in (("audit", published), ("audit_restricted", restricted)):
                for t in tables:
                    conn.execute(f"drop table if exists {schema}.{t}")
