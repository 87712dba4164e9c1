"""http feeds (the Justice API): full and incremental paging, token expiry, 429/5xx, budget, schema drift."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from govhub import db
from govhub.extract.http_connector import ApiClient, _Retryable, extract_http_object, http_endpoint
from govhub.extract.loader import FeedError, new_batch_id
from govhub.extract.registry import Feed, FeedObject
from govhub.ops import ensure_ops
from govhub.settings import WAREHOUSE_DB
from tests.conftest import reset_warehouse

INCREMENTAL = {"column": "updatedAt", "overlap_minutes": 120}
COLUMNS = {
    "corrections": ("caseId", ["caseId", "idNumber", "name", "gender", "birthDate", "correctionType", "startDate",
                               "endDate", "supervisingOffice", "residenceAddress", "status", "updatedAt"]),
    "resettlement": ("recordId", ["recordId", "idNumber", "name", "gender", "birthDate", "releaseDate",
                                  "offenseCategory", "residenceAddress", "status", "updatedAt"]),
    "mediations": ("caseId", ["caseId", "acceptedAt", "disputeType", "partyIdNumbers", "location", "committee",
                              "outcome", "closedAt", "updatedAt"]),
}
FAST = {"retry_after_cap": 0.05, "backoff_seconds": 0.02}  # honour Retry-After, but bounded for the tests


def justice_feed(name: str, page_size: int = 200, **options) -> Feed:
    objects = {res: FeedObject(res, [pk], {c: "jsonb" if c == "partyIdNumbers" else "text" for c in cols},
                               dict(INCREMENTAL), {"page_size": page_size, **FAST, **options})
               for res, (pk, cols) in COLUMNS.items()}
    return Feed(name, "http", "县司法局 (justice)", {}, "justice_api", "@hourly", objects)


def run(feed: Feed, obj: str, server, budget: int = 2000, stats: dict | None = None, interval=None):
    from govhub.sim import justice

    cid, secret = justice.client_credentials()
    return extract_http_object(feed, feed.objects[obj], new_batch_id(feed.name, obj), db.server().conninfo(WAREHOUSE_DB),
                               interval, server.url, cid, secret, request_budget=budget, stats=stats)


def api_total(server, resource: str, since: str | None = None) -> int:
    from govhub.sim import justice

    cid, secret = justice.client_credentials()
    with httpx.Client(base_url=server.url) as c:
        token = c.post("/api/v1/token", json={"clientId": cid, "clientSecret": secret}).json()["accessToken"]
        params = {"page": 1, "pageSize": 1, **({"updatedSince": since} if since else {})}
        resp = c.get(f"/api/v1/{resource}", params=params, headers={"Authorization": f"Bearer {token}"})
        return resp.json()["total"]


def raw_keys(feed: str, obj: str) -> int:
    return db.query(f"select count(distinct _record_key) from raw.{feed}__{obj}")[1][0][0]


@pytest.fixture(scope="module")
def county(hub_env):
    from govhub.sim import runner

    reset_warehouse()
    state = runner.generate("tiny", reset=True)
    with db.connect() as conn:
        ensure_ops(conn)
    return state


@pytest.fixture(scope="module")
def server(county):
    from govhub.sim import justice

    srv = justice.start_server(rate_limit=None, random_429=0.0, random_5xx=0.0, seed=1, state_ttl=0.0)
    yield srv
    srv.stop()


def test_full_then_unchanged_then_incremental(server):
    from govhub.sim import runner

    feed = justice_feed("jt_main")
    first = {obj: run(feed, obj, server) for obj in COLUMNS}
    for obj, r in first.items():
        assert r.received == r.loaded + r.quarantined
        assert r.received == api_total(server, obj) > 0, obj
        assert raw_keys("jt_main", obj) == r.loaded
        assert r.watermark and r.watermark.endswith("+00:00")
    assert first["mediations"].loaded > 0
    stored = db.query("select partyidnumbers from raw.jt_main__mediations limit 1")[1][0][0]
    assert stored.startswith("[")  # list values stored as JSON text

    again = {obj: run(feed, obj, server) for obj in COLUMNS}
    assert all(r.inserted == 0 for r in again.values())
    assert all(r.received < first[obj].received or first[obj].received < 50 for obj, r in again.items())

    runner.advance(30)  # the tiny county has few justice items: a month brings new and changed ones
    later = {}
    for obj in COLUMNS:
        mark = db.query("select value from ops.watermark where feed = 'jt_main' and object = %s", (obj,))[1][0][0]
        stats: dict = {}
        later[obj] = r = run(feed, obj, server, stats=stats)
        since = dt.datetime.fromisoformat(mark) - dt.timedelta(minutes=INCREMENTAL["overlap_minutes"])
        assert r.received == api_total(server, obj, since.isoformat())  # only the changed window is read
        assert raw_keys("jt_main", obj) == api_total(server, obj)  # and raw still has every item
    assert sum(r.inserted for r in later.values()) > 0
    assert all(later[obj].received < raw_keys("jt_main", obj) for obj in COLUMNS)  # not a full re-read

    backfill = run(feed, "mediations", server, interval=("2000-01-01T00:00:00+08:00", "2099-01-01T00:00:00+08:00"))
    assert backfill.received == api_total(server, "mediations") and backfill.inserted == 0


def test_token_expiry_is_survived(county):
    from govhub.sim import justice

    with justice.start_server(rate_limit=None, random_429=0.0, random_5xx=0.0, token_max_uses=2,
                              state_ttl=0.0) as srv:
        stats: dict = {}
        r = run(justice_feed("jt_token", page_size=2), "mediations", srv, stats=stats)
        assert r.received == api_total(srv, "mediations") > 4
    assert stats["token_refreshes"] >= 1


def test_429_and_5xx_are_survived_and_counted(county):
    from govhub.sim import justice

    with justice.start_server(rate_limit=None, random_429=0.2, random_5xx=0.2, seed=7, state_ttl=0.0) as srv:
        stats: dict = {}
        r = run(justice_feed("jt_flaky", page_size=1), "mediations", srv, stats=stats)
        with justice.start_server(rate_limit=None, random_429=0.0, random_5xx=0.0) as clean:
            assert r.received == api_total(clean, "mediations")
    assert stats["throttled_429"] > 0 and stats["server_errors"] > 0
    assert "throttled_429=" in (r.message or "")


def test_request_budget_exhaustion_fails_loudly(server):
    with pytest.raises(FeedError) as err:
        run(justice_feed("jt_budget", page_size=1), "mediations", server, budget=3)
    text = str(err.value)
    assert "feed jt_budget, object mediations" in text and "budget" in text and "Fix:" in text
    assert db.query("select to_regclass('raw.jt_budget__mediations')")[1][0][0] is None  # rolled back


class _DriftStub(BaseHTTPRequestHandler):
    """A department API that added a field: the token works, the listing has an extra key."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def _send(self, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._send({"accessToken": "t", "expiresIn": 3600})

    def do_GET(self) -> None:
        item = {c: None for c in COLUMNS["resettlement"][1]} | {
            "recordId": "AZBJ1", "updatedAt": "2026-01-01T10:00:00+08:00", "riskLevel": "high"}
        self._send({"items": [item], "page": 1, "pageSize": 500, "total": 1})


def test_unexpected_new_field_is_a_drift_warning_and_the_items_load(county):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _DriftStub)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        stub = type("Stub", (), {"url": f"http://127.0.0.1:{httpd.server_address[1]}"})()
        result = run(justice_feed("jt_drift"), "resettlement", stub)
        assert result.loaded == 1 and result.received == result.loaded + result.quarantined
        drift = db.query("""select kind, severity, actual from ops.schema_drift
                            where feed = 'jt_drift' and object = 'resettlement'""")[1]
        assert drift == [("unexpected", "warning", "riskLevel")]
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_endpoint_from_the_airflow_connection_only(monkeypatch, hub_env):
    feed = justice_feed("jt_ep")
    monkeypatch.setenv("AIRFLOW_CONN_JUSTICE_API", "https://hub%40x:s%2Fecret@api.example:8443")
    assert http_endpoint(feed) == ("https://api.example:8443", "hub@x", "s/ecret")
    # a client secret over plain http leaves this machine only when explicitly allowed
    monkeypatch.setenv("AIRFLOW_CONN_JUSTICE_API", "http://hub%40x:s%2Fecret@api.example:8443")
    with pytest.raises(FeedError, match="plain http.*HUB_ALLOW_INSECURE_HTTP=justice_api"):
        http_endpoint(feed)
    monkeypatch.setenv("HUB_ALLOW_INSECURE_HTTP", "justice_api")
    assert http_endpoint(feed) == ("http://api.example:8443", "hub@x", "s/ecret")
    monkeypatch.delenv("HUB_ALLOW_INSECURE_HTTP")
    monkeypatch.setenv("AIRFLOW_CONN_JUSTICE_API", "http://a:b@127.0.0.1:8090")
    assert http_endpoint(feed) == ("http://127.0.0.1:8090", "a", "b")
    # no connection: an error naming it, never a guess at the simulator's justice.json
    with pytest.raises(FeedError, match="airflow connections add justice_gone"):
        http_endpoint(dataclasses.replace(feed, connection="justice_gone"))


def test_retry_after_as_seconds_or_http_date_is_honoured():
    from email.utils import format_datetime

    from govhub.extract.http_connector import _retry_after

    now = dt.datetime(2026, 12, 3, 8, 0, tzinfo=dt.UTC)

    def after(value: str | None) -> float | None:
        return _retry_after(httpx.Response(429, headers={} if value is None else {"Retry-After": value}), now=now)

    assert after("7") == 7.0
    assert after(format_datetime(now + dt.timedelta(seconds=42), usegmt=True)) == 42.0
    assert after("Thu, 03 Dec 2026 08:00:30 GMT") == 30.0
    assert after(format_datetime(now - dt.timedelta(seconds=5), usegmt=True)) == 0.0  # a date in the past: now
    assert after("-3") == 0.0
    assert after("soon") is None and after(None) is None  # unreadable: the backoff applies
    # bounded: a date far ahead waits the cap, not an hour
    client = ApiClient.__new__(ApiClient)
    client.retry_after_cap, client.backoff_seconds = 60.0, 1.0
    far = format_datetime(now + dt.timedelta(hours=1), usegmt=True)
    state = type("S", (), {"outcome": type("O", (), {"exception": lambda self: _Retryable(
        "throttled", "429", after(far))})(), "attempt_number": 1})()
    assert client._wait(state) == 60.0


def test_an_oversize_api_page_is_refused_with_the_limit(server):
    with pytest.raises(FeedError, match=r"page of \d+ bytes, over the limit of 300.*max_page_bytes"):
        run(justice_feed("jt_big_page", page_size=50, max_page_bytes=300), "mediations", server)
