"""Alerts: a failed quality gate, a failed extract or a stale feed is logged and POSTed as JSON to a webhook.

The webhook URL comes from configuration, never from code: ``HUB_ALERT_WEBHOOK_URL``, else the Airflow
connection ``hub_alert_webhook`` (e.g. ``AIRFLOW_CONN_HUB_ALERT_WEBHOOK=https://chat.example/hook``; its
``host`` may hold the whole URL). Without either, alerts are only logged (the demo and most tests).

``HubAlertNotifier`` is an Airflow notifier (``airflow.sdk.BaseNotifier``) wired as ``on_failure_callback``
of the DAGs; ``send_alert`` is what the notifier and ``pipeline.stale_feeds`` call. Delivery problems are
logged, never raised: an unreachable chat server must not turn a gate failure into a different error.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import Any
from urllib.parse import urlsplit

from airflow.sdk import BaseNotifier

log = logging.getLogger(__name__)
WEBHOOK_ENV = "HUB_ALERT_WEBHOOK_URL"
WEBHOOK_CONN_ID = "hub_alert_webhook"
MAX_MESSAGE = 3000


def webhook_url() -> str | None:
    url = os.environ.get(WEBHOOK_ENV, "").strip()
    if url:
        return url
    try:
        from airflow.sdk import Connection

        conn = Connection.get(WEBHOOK_CONN_ID)
    except Exception as exc:  # no such connection: log-only alerts
        log.debug("no webhook connection %s: %s", WEBHOOK_CONN_ID, exc)
        return None
    if conn.host and "://" in conn.host:
        return conn.host
    try:
        return conn.get_uri()
    except Exception:
        return None


def send_alert(kind: str, subject: str, message: str, details: dict[str, Any] | None = None,
               timeout: float = 10.0) -> bool:
    """Log the alert and POST it to the webhook; return whether the webhook accepted it (2xx)."""
    from govhub.quality.scorecard import mask_text  # ID numbers never leave the hub in an alert

    payload = {
        "source": "govhub",
        "kind": kind,
        "subject": mask_text(subject),
        "message": mask_text(message)[:MAX_MESSAGE],
        "details": details or {},
        "at": dt.datetime.now(dt.UTC).isoformat(),
    }
    log.error("ALERT [%s] %s: %s", kind, payload["subject"], payload["message"])
    url = webhook_url()
    if not url:
        return False
    try:
        import httpx

        response = httpx.post(url, json=payload, timeout=timeout)
        if response.is_success:
            return True
        log.error("alert webhook answered %s", response.status_code)
    except Exception as exc:
        # the host only: a webhook's path and query often are its token, and an exception's text may quote the URL
        log.error("alert webhook at %s unreachable: %s", urlsplit(url).hostname, type(exc).__name__)
    return False


def _describe(context: dict[str, Any]) -> tuple[str, str, str, dict[str, Any]]:
    """kind, subject, message and details of a failure callback context (task- or DAG-level)."""
    from govhub.quality.gate import GateFailed

    ti = context.get("ti") or context.get("task_instance")
    dag = context.get("dag")
    dag_id = getattr(dag, "dag_id", None) or getattr(ti, "dag_id", None) or "?"
    task_id = getattr(ti, "task_id", None)
    run_id = context.get("run_id") or getattr(ti, "run_id", None)
    error = context.get("exception") or context.get("reason")
    details = {"dag_id": dag_id, "task_id": task_id, "run_id": run_id}
    if isinstance(error, GateFailed) or "quality gate failed" in str(error or ""):
        return "gate_failed", f"{dag_id}: quality gate failed, `published` unchanged", str(error), details
    return ("task_failed", f"{dag_id}.{task_id or ''} failed",
            f"{type(error).__name__ if isinstance(error, BaseException) else 'failure'}: {error}", details)


class HubAlertNotifier(BaseNotifier):
    """Airflow failure callback: log + webhook POST. Usable task-level and DAG-level."""

    def __init__(self, timeout: float = 10.0) -> None:
        super().__init__()
        self.timeout = timeout

    def notify(self, context: Any) -> None:
        kind, subject, message, details = _describe(dict(context))
        send_alert(kind, subject, message, details, timeout=self.timeout)


def alert_stale_feeds(stale: list[str], last_arrivals: dict[str, Any]) -> bool:
    lines = [f"{f}: last successful batch {last_arrivals.get(f) or 'never'}" for f in stale]
    return send_alert("stale_feeds", f"{len(stale)} stale feed(s): {', '.join(stale)}", "\n".join(lines),
                      {"feeds": stale})
