"""``kind: http`` feeds: a paged JSON API behind a bearer token (the Justice API of contract section 4).

One object is one warehouse transaction holding the feed-object lock: read the watermark, page through
``GET <resource>?updatedSince=<watermark - overlap>&page=N&pageSize=M`` and stream the items into
:func:`govhub.extract.loader.load_batch`. The client survives what real department APIs do: an expired token
(401: one refresh per request), 429 with ``Retry-After`` (slept, bounded), 502/503/504 and dropped
connections (bounded exponential backoff). Every HTTP call counts against a per-run request budget, so a
misbehaving API cannot keep a run (and its lock) busy forever.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import os
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import psycopg
from tenacity import RetryCallState, Retrying, retry_if_exception_type

from govhub.extract.drift import Drift, record_drift_autocommit
from govhub.extract.loader import (
    BatchResult,
    FeedError,
    SchemaDriftError,
    SourceUnavailable,
    load_batch,
    lock_feed_object,
    read_watermark,
)
from govhub.extract.registry import Feed, FeedObject

log = logging.getLogger(__name__)

API = "/api/v1"
RETRY_STATUSES = {502, 503, 504}
MAX_FAILURE_ATTEMPTS = 5  # attempts of one call when the gateway fails or the connection drops
MAX_THROTTLE_ATTEMPTS = 10  # attempts of one call answered 429
RETRY_AFTER_CAP = 60.0  # seconds: never sleep longer than this on one Retry-After
MAX_PAGE_BYTES = 32 << 20  # one API page (feed option max_page_bytes): a page of 200 items is ~100 KB
BACKOFF_SECONDS = 1.0  # first backoff on 5xx / connection errors, doubling
BACKOFF_MAX = 30.0


class _Retryable(Exception):
    """A call worth repeating: 429, a gateway error or a connection failure."""

    def __init__(self, kind: str, detail: str, retry_after: float | None = None):
        super().__init__(detail)
        self.kind, self.detail, self.retry_after = kind, detail, retry_after


def _retry_after(resp: httpx.Response, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (RFC 9110 10.2.3): delay-seconds or an HTTP-date; None when absent or
    unreadable (the backoff applies). Never negative; the caller bounds it (retry_after_cap)."""
    value = (resp.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP-date is GMT by definition
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def refuse_cleartext_secret(feed: Feed, url: str) -> None:
    """A client secret never travels over plain http:// unless the API is on this machine (loopback) or the feed
    explicitly allows it: option ``allow_insecure_http: true`` of the feed in sources.yml, or the connection id in
    ``HUB_ALLOW_INSECURE_HTTP`` (comma-separated; compose's simulated API on its private network)."""
    parts = urlsplit(url)
    allowed = {c.strip().lower() for c in os.environ.get("HUB_ALLOW_INSECURE_HTTP", "").split(",") if c.strip()}
    if parts.scheme == "http" and (parts.hostname or "") not in LOOPBACK and not feed.options.get(
            "allow_insecure_http") and feed.connection.lower() not in allowed:
        raise FeedError(feed.name, "*", None,
                        f"connection {feed.connection} would send the client secret over plain http to {parts.hostname}",
                        f"use https:// in AIRFLOW_CONN_{feed.connection.upper()}, or, if this network is trusted, "
                        f"HUB_ALLOW_INSECURE_HTTP={feed.connection}")


def http_endpoint(feed: Feed) -> tuple[str, str, str]:
    """(base_url, client_id, client_secret) of ``feed``: its Airflow connection (govhub.extract.connections);
    a client secret is refused over plain http to another machine (``refuse_cleartext_secret``)."""
    from govhub.extract.connections import http_endpoint as from_airflow

    base, client_id, client_secret = from_airflow(feed)
    if client_secret:
        refuse_cleartext_secret(feed, base)
    return base, client_id, client_secret


class ApiClient:
    """Token handling, retries and the request budget for one feed object's run."""

    def __init__(self, feed: Feed, obj: FeedObject, base_url: str, client_id: str, client_secret: str,
                 request_budget: int, *, retry_after_cap: float = RETRY_AFTER_CAP,
                 backoff_seconds: float = BACKOFF_SECONDS, timeout: float = 30.0):
        self.feed, self.obj = feed, obj
        self.client_id, self.client_secret = client_id, client_secret
        self.budget = request_budget
        self.retry_after_cap, self.backoff_seconds = retry_after_cap, backoff_seconds
        self.http = httpx.Client(base_url=base_url.rstrip("/"), timeout=httpx.Timeout(timeout, connect=10.0))
        self.token: str | None = None
        self.stats = {"requests": 0, "pages": 0, "throttled_429": 0, "server_errors": 0, "connection_errors": 0,
                      "token_refreshes": 0}

    def close(self) -> None:
        self.http.close()

    def _error(self, problem: str, fix: str, column: str | None = None) -> FeedError:
        return FeedError(self.feed.name, self.obj.name, column, problem, fix)

    # -- one HTTP call, repeated while it is worth repeating
    def _attempt(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if self.stats["requests"] >= self.budget:
            raise SourceUnavailable(self.feed.name, self.obj.name, None,
                                    f"request budget of {self.budget} calls exhausted ({self.stats})",
                              "raise request_budget for this feed (or a larger page_size), or check why the API "
                              "throttles/fails so often; nothing was loaded, the next run starts from the same "
                              "watermark")
        self.stats["requests"] += 1
        try:
            resp = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            self.stats["connection_errors"] += 1
            raise _Retryable("connection", f"{type(exc).__name__}: {exc}") from exc
        if resp.status_code == 429:
            self.stats["throttled_429"] += 1
            raise _Retryable("throttled", "429 Too Many Requests", _retry_after(resp))
        if resp.status_code in RETRY_STATUSES:
            self.stats["server_errors"] += 1
            raise _Retryable("failure", f"{resp.status_code} {resp.reason_phrase}", _retry_after(resp))
        return resp

    @staticmethod
    def _stop_after_limits() -> Any:
        counts = {"throttled": 0, "failure": 0}

        def stop(state: RetryCallState) -> bool:
            exc = state.outcome.exception() if state.outcome else None
            if not isinstance(exc, _Retryable):
                return True
            key = "throttled" if exc.kind == "throttled" else "failure"
            counts[key] += 1
            return counts[key] >= (MAX_THROTTLE_ATTEMPTS if key == "throttled" else MAX_FAILURE_ATTEMPTS)

        return stop

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            return min(exc.retry_after, self.retry_after_cap)
        return min(self.backoff_seconds * 2 ** (state.attempt_number - 1), BACKOFF_MAX)

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        retrying = Retrying(retry=retry_if_exception_type(_Retryable), stop=self._stop_after_limits(), wait=self._wait,
                            reraise=True, before_sleep=self._log_retry)
        try:
            return retrying(self._attempt, method, path, **kwargs)
        except _Retryable as exc:
            raise SourceUnavailable(self.feed.name, self.obj.name, None,
                                    f"API {self.http.base_url}{path} still failing after retries ({exc.detail})",
                                    f"check the API of {self.feed.department} (connection {self.feed.connection}) "
                                    "and run the feed again") from exc

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("%s.%s: %s, retrying in %.1fs (attempt %d)", self.feed.name, self.obj.name, exc,
                    state.next_action.sleep if state.next_action else 0.0, state.attempt_number)

    # -- token and listing
    def refresh_token(self) -> None:
        resp = self.call("POST", f"{API}/token", json={"clientId": self.client_id, "clientSecret": self.client_secret})
        if resp.status_code != 200:
            raise self._error(f"token request answered {resp.status_code}: {resp.text[:200]}",
                              f"check clientId/clientSecret of connection {self.feed.connection}")
        try:
            self.token = str(resp.json()["accessToken"])
        except (ValueError, KeyError, TypeError) as exc:
            raise self._error(f"token response without accessToken: {resp.text[:200]}",
                              f"ask {self.feed.department} about the token endpoint") from exc

    def get_json(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        if self.token is None:
            self.refresh_token()
        refreshed = False
        while True:
            resp = self.call("GET", path, params=params, headers={"Authorization": f"Bearer {self.token}"})
            if resp.status_code == 401 and not refreshed:  # expired or revoked: one new token per request
                self.stats["token_refreshes"] += 1
                refreshed = True
                self.refresh_token()
                continue
            limit = int(self.obj.options.get("max_page_bytes", self.feed.options.get("max_page_bytes", MAX_PAGE_BYTES)))
            if len(resp.content) > limit:
                raise self._error(f"GET {path} answered a page of {len(resp.content)} bytes, over the limit of {limit}",
                                  f"ask {self.feed.department} about the API, or lower page_size (the limit is the "
                                  "option max_page_bytes)")
            if resp.status_code != 200:
                raise self._error(f"GET {path} answered {resp.status_code}: {resp.text[:200]}",
                                  f"check the request (params {params}) with {self.feed.department}"
                                  + (" and the credentials" if resp.status_code == 401 else ""))
            try:
                body = resp.json()
            except ValueError as exc:
                raise self._error(f"GET {path} answered non-JSON: {resp.text[:200]}",
                                  f"ask {self.feed.department} about the API") from exc
            if not isinstance(body, dict) or not isinstance(body.get("items"), list):
                raise SchemaDriftError(self.feed.name, self.obj.name, "items",
                                       f"page without an items list: {str(body)[:200]}",
                                       f"ask {self.feed.department} whether the API envelope changed")
            return body


def parse_timestamp(value: Any, naive_tz: dt.tzinfo) -> dt.datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        t = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return t.replace(tzinfo=naive_tz) if t.tzinfo is None else t


def check_item_keys(feed: Feed, obj: FeedObject, item: dict[str, Any]) -> list[Drift]:
    """A missing expected field fails the object (not retryable), naming the field; an unexpected new one is a
    drift warning (not loaded until registered) and is returned."""
    keys = set(item)
    for column in obj.columns:
        if column not in keys:
            exc = SchemaDriftError(feed.name, obj.name, column, "expected field is missing from the API items",
                                   f"ask {feed.department} whether it was renamed or dropped, or update sources.yml "
                                   f"(present: {sorted(keys)})")
            exc.drifts = [Drift(feed.name, obj.name, column, "key_missing" if column in obj.primary_key else "missing",
                                "blocking", obj.columns[column], None, str(exc))]
            raise exc
    unexpected = sorted(keys - set(obj.columns))
    if unexpected:
        return [Drift(feed.name, obj.name, None, "unexpected", "warning", None, ", ".join(unexpected),
                      f"new field(s) {unexpected} in the API items: not loaded. Fix: register them in sources.yml "
                      "(and staging) once their meaning is agreed with the department")]
    return []


def extract_http_object(feed: Feed, obj: FeedObject, batch_id: str, warehouse_conninfo: str,
                        interval: tuple[str, str] | None, base_url: str, client_id: str, client_secret: str,
                        request_budget: int = 2000, stats: dict[str, Any] | None = None) -> BatchResult:
    """Extract one API resource (``obj.options['resource']``, default the object name) into raw.

    ``interval`` = (from, to] re-reads that range (backfill; ``to`` bounds the items kept). ``stats``, when
    given, is filled with the call counts (requests, pages, throttled_429, server_errors, token_refreshes ...).
    """
    resource = str(obj.options.get("resource", obj.name))
    page_size = int(obj.options.get("page_size", 500))
    column = str(obj.incremental.get("column", "updatedAt"))
    overlap = dt.timedelta(minutes=int(obj.incremental.get("overlap_minutes", 0)))
    naive_tz = ZoneInfo(str(obj.options.get("naive_timezone", "Asia/Shanghai")))
    id_fields = list(obj.primary_key)
    client = ApiClient(feed, obj, base_url, client_id, client_secret, request_budget,
                       retry_after_cap=float(obj.options.get("retry_after_cap", RETRY_AFTER_CAP)),
                       backoff_seconds=float(obj.options.get("backoff_seconds", BACKOFF_SECONDS)))

    def validate(item: dict[str, Any]) -> list[str]:
        reasons = [f"id field {k} is missing" for k in id_fields if k not in item]
        if parse_timestamp(item.get(column), naive_tz) is None:
            reasons.append(f"update field {column} = {item.get(column)!r} is not an ISO-8601 timestamp")
        return reasons

    def watermark_of(item: dict[str, Any]) -> str | None:
        t = parse_timestamp(item.get(column), naive_tz)
        return None if t is None else t.astimezone(dt.UTC).isoformat()

    def items(since: str | None, upper: dt.datetime | None) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            params: dict[str, Any] = {"page": page, "pageSize": page_size}
            if since:
                params["updatedSince"] = since
            body = client.get_json(f"{API}/{resource}", params)
            client.stats["pages"] += 1
            chunk = body["items"]
            if not chunk:
                return
            if isinstance(chunk[0], dict) and not drifts_seen:
                drifts_seen.extend(check_item_keys(feed, obj, chunk[0]) or [])
                drifts_seen.append(None)  # checked once per run (the marker is dropped before recording)
            for item in chunk:
                if not isinstance(item, dict):
                    raise SchemaDriftError(feed.name, obj.name, None, f"item is not an object: {str(item)[:200]}",
                                           f"ask {feed.department} whether the API changed")
                if upper is not None:
                    t = parse_timestamp(item.get(column), naive_tz)
                    if t is not None and t > upper:
                        return  # items come ordered by updatedAt: the rest is after the interval
                yield item
            try:
                total = int(body.get("total", 0))
            except (TypeError, ValueError):
                total = 0
            if page * page_size >= total:
                return
            page += 1

    drifts_seen: list[Drift | None] = []
    started = time.monotonic()
    try:
        with psycopg.connect(warehouse_conninfo) as conn, conn.transaction():
            lock_feed_object(conn, feed.name, obj.name)
            upper: dt.datetime | None = None
            if interval:
                lower_t = parse_timestamp(interval[0], naive_tz)
                upper = parse_timestamp(interval[1], naive_tz) if interval[1] else None
                if lower_t is None:
                    raise FeedError(feed.name, obj.name, column, f"interval start {interval[0]!r} is not ISO-8601",
                                    "pass the interval as ISO-8601 timestamps")
                since: str | None = lower_t.isoformat()
            else:
                mark = read_watermark(conn, feed.name, obj.name)
                since = (dt.datetime.fromisoformat(mark) - overlap).isoformat() if mark else None
            result = load_batch(conn, feed, obj, items(since, upper), batch_id=batch_id, validate=validate,
                                window=(since, interval[1] if interval else None), watermark_of=watermark_of)
    except FeedError as exc:
        record_drift_autocommit(warehouse_conninfo, exc.drifts)
        raise
    finally:
        client.close()
        if stats is not None:
            stats.update(client.stats)
    record_drift_autocommit(warehouse_conninfo, [d for d in drifts_seen if d is not None])
    result.message = "http " + ", ".join(f"{k}={v}" for k, v in client.stats.items())
    log.info("%s.%s: %s in %.1fs", feed.name, obj.name, result.message, time.monotonic() - started)
    return result
