"""Alerts reach a real HTTP webhook: notifier callback (gate failure), stale feeds, configuration paths."""

from __future__ import annotations

import datetime as dt
import socket
from types import SimpleNamespace

import pytest

from tests.webhook import webhook_receiver

CLEAR_ID = "341126199001011234"


@pytest.fixture
def no_webhook_env(monkeypatch):
    monkeypatch.delenv("HUB_ALERT_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_HUB_ALERT_WEBHOOK", raising=False)
    return monkeypatch


def test_notifier_posts_a_failed_gate_without_clear_ids(no_webhook_env):
    from govhub.notify import HubAlertNotifier
    from govhub.quality.gate import GateFailed

    with webhook_receiver() as hook:
        no_webhook_env.setenv("HUB_ALERT_WEBHOOK_URL", hook.url)
        ti = SimpleNamespace(dag_id="warehouse_build", task_id="gate_and_publish", run_id="r1")
        error = GateFailed(f"quality gate failed, `published` left unchanged: value {CLEAR_ID} in name_masked")
        HubAlertNotifier()({"ti": ti, "exception": error, "run_id": "r1"})
        posts = hook.wait()
    assert len(posts) == 1, "no notification arrived at the webhook"
    post = posts[0]
    assert post["kind"] == "gate_failed"
    assert post["details"] == {"dag_id": "warehouse_build", "task_id": "gate_and_publish", "run_id": "r1"}
    assert "quality gate failed" in post["message"]
    assert CLEAR_ID not in str(post) and "3411**********1234" in post["message"]


def test_other_task_failures_are_task_failed(no_webhook_env):
    from govhub.notify import HubAlertNotifier

    with webhook_receiver() as hook:
        no_webhook_env.setenv("HUB_ALERT_WEBHOOK_URL", hook.url)
        ti = SimpleNamespace(dag_id="extract_police", task_id="extract", run_id="r2")
        HubAlertNotifier()({"ti": ti, "exception": RuntimeError("column GXSJ is missing")})
        posts = hook.wait()
    assert [p["kind"] for p in posts] == ["task_failed"]
    assert "extract_police.extract" in posts[0]["subject"] and "GXSJ" in posts[0]["message"]


def test_webhook_url_from_an_airflow_connection(no_webhook_env):
    from govhub.notify import send_alert

    with webhook_receiver() as hook:
        no_webhook_env.setenv("AIRFLOW_CONN_HUB_ALERT_WEBHOOK", hook.url)
        assert send_alert("test", "subject", "message") is True
        assert hook.wait()[0]["subject"] == "subject"


def test_unreachable_webhook_is_logged_not_raised_and_its_token_never(no_webhook_env, caplog, capfd):
    """A webhook's path and query are often its secret (Slack, DingTalk, WeCom): the log names the host only."""
    import logging

    from govhub import notify
    from govhub.notify import send_alert

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path_token, query_token = "T0KEN-in-the-path-9f3a7c", "T0KEN-in-the-query-5d1e2b"
    no_webhook_env.setenv("HUB_ALERT_WEBHOOK_URL",
                          f"http://127.0.0.1:{port}/hooks/{path_token}?access_token={query_token}")
    # every level, on the module's logger itself (Airflow's logging setup may stop propagation to the root
    # logger, where caplog listens); what reaches the console is checked too
    logger = logging.getLogger(notify.__name__)
    logger.addHandler(caplog.handler)
    try:
        caplog.set_level(logging.DEBUG, logger=notify.__name__)
        assert send_alert("test", "subject", "message", timeout=2) is False
    finally:
        logger.removeHandler(caplog.handler)
    console = "".join(capfd.readouterr())
    assert "unreachable" in caplog.text and "127.0.0.1" in caplog.text
    for token in (path_token, query_token):
        assert token not in caplog.text and token not in console


def test_without_configuration_alerts_are_only_logged(no_webhook_env, caplog):
    from govhub.notify import send_alert

    assert send_alert("test", "nothing configured", "m") is False
    assert "ALERT [test] nothing configured" in caplog.text


def test_stale_feeds_alert(hub_env, no_webhook_env):
    from govhub.extract.registry import load_registry
    from govhub.pipeline import stale_feeds

    with webhook_receiver() as hook:
        no_webhook_env.setenv("HUB_ALERT_WEBHOOK_URL", hook.url)
        # a week from now every feed is stale, whatever this session loaded so far
        stale = stale_feeds(now=dt.datetime.now(dt.UTC) + dt.timedelta(days=7))
        posts = hook.wait(predicate=lambda p: p["kind"] == "stale_feeds")
    assert set(stale) == set(load_registry())
    assert posts, "no stale-feed notification arrived at the webhook"
    assert set(posts[0]["details"]["feeds"]) == set(load_registry())
