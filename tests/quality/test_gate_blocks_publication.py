"""A bad batch is blocked by the GX gate: the DAG run fails and `published` stays byte-for-byte the same."""

from __future__ import annotations

import pytest

from govhub import db


def published_fingerprint() -> dict[str, str]:
    tables = [r[0] for r in db.query("select tablename from pg_tables where schemaname = 'published' order by 1")[1]]
    return {t: db.query(f'select md5(coalesce(string_agg(t::text, \'|\' order by t::text), \'\')) from published."{t}" t')[1][0][0]
            for t in tables}


@pytest.fixture(scope="module")
def published_once(tiny_county):
    return published_fingerprint()


def test_volume_drop_blocks_publication(published_once):
    from govhub.orchestrate import run_dag

    # a department's bad day: 90% of the incidents and grid events vanish from raw
    with db.connect() as conn:
        conn.execute("delete from raw.police__jq_jjxx where random() < 0.9")
        conn.execute("delete from raw.grid__grid_event where random() < 0.9")
    outcome = run_dag("warehouse_build", raise_on_failure=False)
    assert outcome.state == "failed"
    assert outcome.tasks["dbt_build"] == "success"
    assert outcome.tasks["gate_and_publish"] == "failed"
    assert published_fingerprint() == published_once
    blocked = db.query("select message from ops.publication where not gate_success order by version desc limit 1")[1]
    assert blocked and "fct_event" in blocked[0][0] and "volume" in blocked[0][0]
    failures = db.query("select table_name, expectation from ops.validation_result where not success and blocking")[1]
    assert ("fct_event", failures[0][1]) in failures


def test_clear_id_number_in_a_published_column_blocks(published_once):
    from govhub.pipeline import gate_and_publish
    from govhub.quality.gate import GateFailed
    from govhub.transform import build

    build(select="dim_resident")
    with db.connect() as conn:
        conn.execute("update audit.dim_resident set name_masked = '341126199001011234' where resident_key = "
                     "(select min(resident_key) from audit.dim_resident)")
    before = published_fingerprint()
    with pytest.raises(GateFailed) as err:
        gate_and_publish("test-clear-id")
    assert "no clear ID numbers" in str(err.value) and "name_masked" in str(err.value)
    assert "341126199001011234" not in str(err.value)
    assert published_fingerprint() == before


def test_failed_gate_in_the_dag_notifies_the_webhook(published_once, monkeypatch):
    """The DAG's on_failure_callback (HubAlertNotifier) POSTs the gate failure to the configured webhook."""
    from govhub.orchestrate import run_dag
    from tests.webhook import webhook_receiver

    with db.connect() as conn:  # the same bad day as above, once: a second 90% cut would empty tables
        for table, source in (("police__jq_jjxx", "police"), ("grid__grid_event", "grid")):
            raw = conn.execute(f"select count(*) from raw.{table}").fetchone()[0]
            published = conn.execute("select count(*) from published.fct_event where source = %s", (source,)).fetchone()[0]
            if raw > 0.5 * published:
                conn.execute(f"delete from raw.{table} where random() < 0.9")
    with webhook_receiver() as hook:
        monkeypatch.setenv("HUB_ALERT_WEBHOOK_URL", hook.url)
        outcome = run_dag("warehouse_build", raise_on_failure=False)
        posts = hook.wait(predicate=lambda p: p["kind"] == "gate_failed")
    assert outcome.tasks["gate_and_publish"] == "failed"
    assert posts, "no gate-failure notification arrived at the webhook"
    assert posts[0]["details"]["dag_id"] == "warehouse_build"
    assert posts[0]["details"]["task_id"] == "gate_and_publish"
    assert "fct_event" in posts[0]["message"] and "volume" in posts[0]["message"]
    assert published_fingerprint() == published_once
