"""Justice (司法) as a live HTTP JSON API: community corrections, resettlement of released prisoners, mediations.

Contract section 4. Unlike the database and file systems nothing is written ahead of time: the server
reads the simulation clock (``hub simulate`` moves it) and answers with the state of the world as of that
clock, so a client sees new and changed records appear with later ``updatedAt`` exactly as it would from
the department's real API. It also misbehaves like one: tokens expire, calls too fast get 429 with
``Retry-After`` and a gateway answers 502/503 now and then. Every misbehaviour is an option, so tests can
switch it off or make it deterministic.

Run it in-process with :func:`start_server` (tests) or as a detached process with
:func:`start_background` / :func:`stop_background` (``hub up`` / ``hub down``), which record
``<HUB_HOME>/justice.json`` = ``{pid, url, clientId, clientSecret}`` for the extract side.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import math
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from govhub import embedded_pg
from govhub.sim import runner
from govhub.sim.dialect import DEFAULT, OFFENSE_CHINESE, OFFENSE_CRIME, Dialect
from govhub.sim.geography import COUNTY_CODE6, COUNTY_NAME
from govhub.sim.quirks import QuirkRates, quirky_address, quirky_id, quirky_name, record_rng
from govhub.sim.world import TZ, Person, World

API = "/api/v1"
RESOURCES = ("corrections", "resettlement", "mediations")
MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 100
DEFAULT_CLIENT_ID = "hub"
DEFAULT_CLIENT_SECRET = "sim-secret"
GENDER = {"1": "M", "2": "F"}
CORRECTION_TYPES = [("probation", 75), ("parole", 10), ("temporary_outside_execution", 5),
                    ("deprivation_of_political_rights", 10)]
# The contract leaves offenseCategory open; the department uses these codes.
OFFENSE_CATEGORIES = [("theft", 30), ("fraud", 15), ("intentional_injury", 12), ("drug_crime", 10),
                      ("dangerous_driving", 10), ("robbery", 5), ("gambling", 5), ("other", 13)]


def client_credentials() -> tuple[str, str]:
    """The credentials the simulated department issues to the hub (environment overrides the defaults)."""
    return (os.environ.get("HUB_JUSTICE_CLIENT_ID", DEFAULT_CLIENT_ID),
            os.environ.get("HUB_JUSTICE_CLIENT_SECRET", DEFAULT_CLIENT_SECRET))


def iso(t: dt.datetime, dialect: Dialect = DEFAULT) -> str:
    """ISO-8601 as this department writes it (default ``+08:00`` to the second)."""
    return dialect.justice_iso(t)


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), TZ) + dt.timedelta(minutes=minute)


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([c for c, _ in weighted], weights=[w for _, w in weighted])[0]


def _tag_end(p: Person, tag: str) -> dt.date | None:
    """The end of a special-population spell; the world draws ends independently of starts, so an end
    on or before the start is read as "ended the next day" (still ended, never before it began)."""
    end = p.tag_ends.get(tag)
    return None if end is None else max(end, p.tags[tag] + dt.timedelta(days=1))


# ------------------------------------------------------------------------------------------- records
def correction_case_id(p: Person) -> str:
    return f"SQJZ{COUNTY_CODE6}{p.tags['community_correction']:%Y}{p.pid:07d}"


def resettlement_record_id(p: Person) -> str:
    return f"AZBJ{COUNTY_CODE6}{p.pid:07d}"


def _person_fields(rng: random.Random, p: Person, rates: QuirkRates, dialect: Dialect = DEFAULT) -> dict[str, Any]:
    id_number = quirky_id(rng, p.id18, rates)
    name = dialect.justice_names.apply(rng, quirky_name(rng, p.name, rates))
    gender = GENDER.get(p.sex, "M")
    if dialect.justice_rare_rate and rng.random() < dialect.justice_rare_rate:
        gender = "U"  # unrecorded: a value the contract's M/F does not list
    return {"idNumber": id_number, "name": name, "gender": gender, "birthDate": p.birth.isoformat()}


def _office(dialect: Dialect, township: str) -> str:
    """supervisingOffice (the contract lists no values): how the department names its 司法所."""
    return {"township": f"{township}司法所", "county": f"{COUNTY_NAME}{township}司法所",
            "bureau": f"{COUNTY_NAME}司法局{township}司法所"}[dialect.justice_office]


def _offense(dialect: Dialect, code: str) -> str:
    if dialect.justice_offense == "code":
        return code
    return (OFFENSE_CRIME if dialect.justice_offense == "chinese_crime" else OFFENSE_CHINESE)[code]


def _corrections(world: World, rates: QuirkRates, clock: dt.datetime,
                 dialect: Dialect = DEFAULT) -> Iterable[dict[str, Any]]:
    for p in world.persons:
        start = p.tags.get("community_correction")
        if start is None:
            continue
        rng = record_rng(world.seed, "justice", "corrections", p.pid)
        listed = _at(start, 9, rng.randrange(480))
        if listed > clock:
            continue
        ctype = _pick(rng, CORRECTION_TYPES)
        # Without an end in the world the term outlasts the simulated future (the tag stays current).
        planned_end = world.end.date() + dt.timedelta(days=rng.randint(30, 900))
        end, end_status = _tag_end(p, "community_correction"), "revoked" if rng.random() < 0.3 else "ended"
        if p.death_at is not None and (end is None or p.death_at.date() < end):
            end, end_status = p.death_at.date() + dt.timedelta(days=rng.randint(1, 15)), "ended"  # 矫正终止
        if end is not None and end_status == "ended":
            planned_end = end  # a term that ends normally was always planned to end then
        item = {"caseId": correction_case_id(p), **_person_fields(rng, p, rates, dialect), "correctionType": ctype,
                "startDate": start.isoformat(), "endDate": planned_end.isoformat(),
                "supervisingOffice": _office(dialect, p.home.township_name),
                "residenceAddress": quirky_address(rng, p.home, rates, dialect.justice_address), "status": "active",
                "updatedAt": listed}
        ended_at = _at(end, 10, rng.randrange(420)) if end is not None else None
        if ended_at is not None and ended_at <= clock:
            item.update(status=end_status, endDate=end.isoformat(), updatedAt=ended_at)
        yield item


def _resettlement(world: World, rates: QuirkRates, clock: dt.datetime,
                  dialect: Dialect = DEFAULT) -> Iterable[dict[str, Any]]:
    for p in world.persons:
        released = p.tags.get("released_prisoner")
        if released is None:
            continue
        rng = record_rng(world.seed, "justice", "resettlement", p.pid)
        registered = _at(released, 10, rng.randrange(420))  # the prison notifies on the day of release
        if registered > clock:
            continue
        item = {"recordId": resettlement_record_id(p), **_person_fields(rng, p, rates, dialect),
                "releaseDate": released.isoformat(), "offenseCategory": _offense(dialect, _pick(rng, OFFENSE_CATEGORIES)),
                "residenceAddress": quirky_address(rng, p.home, rates, dialect.justice_address), "status": "helping",
                "updatedAt": registered}
        end, end_status = _tag_end(p, "released_prisoner"), "lost_contact" if rng.random() < 0.3 else "ended"
        if p.death_at is not None and (end is None or p.death_at.date() < end):
            end, end_status = p.death_at.date() + dt.timedelta(days=rng.randint(1, 30)), "ended"
        ended_at = _at(end, 10, rng.randrange(420)) if end is not None else None
        if ended_at is not None and ended_at <= clock:
            item.update(status=end_status, updatedAt=ended_at)
        yield item


def _mediations(world: World, rates: QuirkRates, clock: dt.datetime,
                dialect: Dialect = DEFAULT) -> Iterable[dict[str, Any]]:
    ids = {p.pid: p.id18 for p in world.persons}
    for m in world.mediations:
        if m.accepted_at > clock:
            continue
        rng = record_rng(world.seed, "justice", "mediations", m.case_id)
        closed = m.closed_at is not None and m.closed_at <= clock
        # A missing party number stays in place as "" so positions match the parties (and the truth links).
        parties = [quirky_id(rng, ids[pid], rates) or "" for pid in m.parties]
        yield {"caseId": m.case_id, "acceptedAt": iso(m.accepted_at, dialect), "disputeType": m.dispute_type,
               "partyIdNumbers": parties, "location": quirky_address(rng, m.building, rates, dialect.justice_address),
               "committee": m.committee, "outcome": m.outcome if closed else "ongoing",
               "closedAt": iso(m.closed_at, dialect) if closed else None,
               "updatedAt": m.closed_at if closed else m.accepted_at}


# resource -> (id field, builder (world, rates, clock, dialect) -> items)
BUILDERS: dict[str, tuple[str, Callable[..., Iterable[dict[str, Any]]]]] = {
    "corrections": ("caseId", _corrections),
    "resettlement": ("recordId", _resettlement),
    "mediations": ("caseId", _mediations),
}


def items_as_of(world: World, rates: QuirkRates, clock: dt.datetime, resource: str,
                dialect: Dialect = DEFAULT) -> list[dict[str, Any]]:
    """Every item of ``resource`` as of ``clock``, in API order (updatedAt, then id), ready to serialise.

    ``updatedAt`` is cut to whole seconds *before* ordering and filtering, so what a client reads back as
    its watermark compares exactly with what the server filters on.
    """
    key, build = BUILDERS[resource]
    items = []
    for item in build(world, rates, clock, dialect):
        item["updatedAt"] = item["updatedAt"].astimezone(TZ).replace(microsecond=0)
        items.append(item)
    items.sort(key=lambda i: (i["updatedAt"], i[key]))
    return items


def truth_links(world: World, dialect: Dialect = DEFAULT) -> Iterable[tuple[str, str, str, int]]:
    """(source, object, record id, true person id). A mediation's parties are linked per position in
    ``partyIdNumbers``: record id ``<caseId>#<index>`` (0-based)."""
    for p in world.persons:
        if "community_correction" in p.tags:
            yield ("justice", "corrections", correction_case_id(p), p.pid)
        if "released_prisoner" in p.tags:
            yield ("justice", "resettlement", resettlement_record_id(p), p.pid)
    for m in world.mediations:
        for i, pid in enumerate(m.parties):
            yield ("justice", "mediations", f"{m.case_id}#{i}", pid)


# -------------------------------------------------------------------------------------------- server
@dataclass
class ServerOptions:
    """How the server behaves. ``None`` for a random rate means "the county's quirk rates"."""

    client_id: str | None = None  # None: client_credentials()
    client_secret: str | None = None
    token_ttl: float = 3600.0  # seconds; reported as expiresIn
    token_max_uses: int | None = None  # a token expires after this many calls (makes expiry testable)
    rate_limit: float | None = 20.0  # sustained calls per second (None or 0: unlimited)
    burst: int = 20  # calls allowed at once before the rate limit bites
    random_429: float | None = None  # share of calls answered 429 at random (QuirkRates.api_429)
    random_5xx: float | None = None  # share answered 502/503 (QuirkRates.api_5xx)
    seed: int | None = None  # seeds the random 429/5xx so a test sees the same sequence every run
    state_ttl: float = 1.0  # seconds between re-reads of the simulation clock
    clock: Callable[[], float] = time.monotonic  # time source of token expiry and rate limiting


class _Snapshot:
    """The world's items as of one simulation clock, built lazily per resource."""

    def __init__(self, key: tuple, world: World, rates: QuirkRates, clock: dt.datetime, dialect: Dialect = DEFAULT):
        self.key, self.world, self.rates, self.clock, self.dialect = key, world, rates, clock, dialect
        self._items: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def items(self, resource: str) -> list[dict[str, Any]]:
        with self._lock:
            if resource not in self._items:
                self._items[resource] = items_as_of(self.world, self.rates, self.clock, resource, self.dialect)
            return self._items[resource]


class HttpError(Exception):
    def __init__(self, status: int, error: str, message: str = "", headers: dict[str, str] | None = None):
        super().__init__(message or error)
        self.status, self.error, self.message, self.headers = status, error, message, headers or {}


class JusticeApp:
    """Request handling without the socket: auth, throttling, listing."""

    def __init__(self, options: ServerOptions):
        self.options = options
        cid, secret = client_credentials()
        self.client_id = options.client_id or cid
        self.client_secret = options.client_secret or secret
        self._tokens: dict[str, list] = {}  # token -> [expires_at, uses_left or None]
        self._lock = threading.Lock()
        self._bucket = float(options.burst)
        self._bucket_at = options.clock()
        self._rng = random.Random(options.seed)
        self._snapshot: _Snapshot | None = None
        self._state_read_at = -math.inf
        self._state_lock = threading.Lock()

    # -- simulation state
    def snapshot(self) -> _Snapshot:
        with self._state_lock:
            now = time.monotonic()
            if self._snapshot is not None and now - self._state_read_at < self.options.state_ttl:
                return self._snapshot
            if not os.environ.get("HUB_DATABASE_URL") and embedded_pg.running_address() is None:
                # connecting would start the embedded server again behind `hub down`'s back
                raise HttpError(503, "service_unavailable", "the hub's database is not running", {"Retry-After": "5"})
            try:
                state = runner.load_state()
            except Exception as e:  # the database is down or being reset: a transient outage to the client
                raise HttpError(503, "service_unavailable", f"state unavailable: {e}", {"Retry-After": "5"}) from e
            if state is None:
                raise HttpError(503, "not_ready", "no simulated county yet (run `hub simulate --generate`)")
            key = (state.seed, state.scale, state.clock_days, json.dumps(state.rates, sort_keys=True),
                   json.dumps(state.dialect, sort_keys=True))
            if self._snapshot is None or self._snapshot.key != key:
                world = runner.world_for(state)
                self._snapshot = _Snapshot(key, world, QuirkRates(**state.rates), world.clock(state.clock_days),
                                           state.get_dialect())
            self._state_read_at = now
            return self._snapshot

    # -- misbehaviour
    def _throttle(self) -> None:
        opts = self.options
        p429, p5xx = self._random_rates()  # outside the lock: it may read the simulation state
        with self._lock:
            if opts.rate_limit:
                now = opts.clock()
                self._bucket = min(float(opts.burst), self._bucket + (now - self._bucket_at) * opts.rate_limit)
                self._bucket_at = now
                if self._bucket < 1.0:
                    wait = (1.0 - self._bucket) / opts.rate_limit
                    raise HttpError(429, "too_many_requests", "slow down",
                                    {"Retry-After": str(max(1, math.ceil(wait)))})
                self._bucket -= 1.0
            r = self._rng.random()
            if r < p5xx:
                status = self._rng.choice([502, 503])
                headers = {"Retry-After": "1"} if status == 503 else {}
                raise HttpError(status, "bad_gateway" if status == 502 else "service_unavailable", "", headers)
            if r < p5xx + p429:
                raise HttpError(429, "too_many_requests", "rate limit exceeded", {"Retry-After": "1"})

    def _random_rates(self) -> tuple[float, float]:
        opts = self.options
        if opts.random_429 is not None and opts.random_5xx is not None:
            return opts.random_429, opts.random_5xx
        rates = QuirkRates()
        try:
            rates = self.snapshot().rates
        except HttpError:
            pass
        return (rates.api_429 if opts.random_429 is None else opts.random_429,
                rates.api_5xx if opts.random_5xx is None else opts.random_5xx)

    # -- auth
    def issue_token(self, body: bytes) -> dict[str, Any]:
        try:
            creds = json.loads(body or b"{}")
        except ValueError as e:
            raise HttpError(400, "invalid_request", "body must be JSON {clientId, clientSecret}") from e
        if not isinstance(creds, dict) or not (
                secrets.compare_digest(str(creds.get("clientId", "")), self.client_id)
                and secrets.compare_digest(str(creds.get("clientSecret", "")), self.client_secret)):
            raise HttpError(401, "invalid_client", "unknown clientId or wrong clientSecret")
        token = secrets.token_urlsafe(24)
        now = self.options.clock()
        with self._lock:
            # drop expired tokens so a long-running server does not accumulate them
            self._tokens = {t: v for t, v in self._tokens.items() if v[0] > now}
            self._tokens[token] = [now + self.options.token_ttl, self.options.token_max_uses]
        return {"accessToken": token, "expiresIn": max(1, int(self.options.token_ttl))}

    def authorize(self, header: str | None) -> None:
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HttpError(401, "invalid_token", "missing bearer token", {"WWW-Authenticate": "Bearer"})
        with self._lock:
            entry = self._tokens.get(token.strip())
            if entry is None:
                raise HttpError(401, "invalid_token", "unknown token",
                                {"WWW-Authenticate": 'Bearer error="invalid_token"'})
            if entry[0] <= self.options.clock() or entry[1] == 0:
                raise HttpError(401, "token_expired", "the access token has expired",
                                {"WWW-Authenticate": 'Bearer error="invalid_token", error_description="expired"'})
            if entry[1] is not None:
                entry[1] -= 1

    # -- listing
    def list_items(self, resource: str, query: str) -> dict[str, Any]:
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        page = _int_param(params, "page", 1)
        page_size = _int_param(params, "pageSize", DEFAULT_PAGE_SIZE)
        if page < 1:
            raise HttpError(400, "invalid_request", "page must be >= 1")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise HttpError(400, "invalid_request", f"pageSize must be between 1 and {MAX_PAGE_SIZE}")
        since = parse_since(params["updatedSince"]) if params.get("updatedSince") else None
        snapshot = self.snapshot()
        items = snapshot.items(resource)
        if since is not None:  # inclusive: a client resuming from its last updatedAt loses nothing
            items = [i for i in items if i["updatedAt"] >= since]
        chunk = items[(page - 1) * page_size: page * page_size]
        return {"items": [{**i, "updatedAt": iso(i["updatedAt"], snapshot.dialect)} for i in chunk], "page": page,
                "pageSize": page_size, "total": len(items)}


def _int_param(params: dict[str, str], name: str, default: int) -> int:
    if name not in params:
        return default
    try:
        return int(params[name])
    except ValueError as e:
        raise HttpError(400, "invalid_request", f"{name} must be an integer") from e


def parse_since(text: str) -> dt.datetime:
    """ISO-8601; naive means Asia/Shanghai. A '+' sent unencoded arrives as a space: accept that too."""
    text = re.sub(r" (\d{2}(:?\d{2})?)$", r"+\1", text.strip())
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError as e:
        raise HttpError(400, "invalid_request", f"updatedSince is not ISO-8601: {text!r}") from e
    return t.replace(tzinfo=TZ) if t.tzinfo is None else t


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients such as httpx expect
    # Headers and body in one buffered write with Nagle off: otherwise every keep-alive response waits
    # for the client's delayed ACK (~40 ms per call).
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    server_version = "JusticeGateway/1.0"
    app: JusticeApp  # set on the subclass made per server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests and `hub up` do not want a line per request on stderr

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        try:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError as e:
                self.close_connection = True  # the rest of the stream cannot be framed
                raise HttpError(400, "invalid_request", "bad Content-Length") from e
            body = self.rfile.read(length) if length > 0 else b""
            self.app._throttle()
            if url.path == f"{API}/token":
                if method != "POST":
                    raise HttpError(405, "method_not_allowed", "use POST", {"Allow": "POST"})
                self._send(200, self.app.issue_token(body))
                return
            resource = url.path[len(API) + 1:] if url.path.startswith(API + "/") else ""
            if resource not in RESOURCES:
                raise HttpError(404, "not_found", f"no resource {url.path}")
            if method != "GET":
                raise HttpError(405, "method_not_allowed", "use GET", {"Allow": "GET"})
            self.app.authorize(self.headers.get("Authorization"))
            self._send(200, self.app.list_items(resource, url.query))
        except HttpError as e:
            if e.status == 502:  # the gateway in front of the service answers, not the service
                self._send(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", e.headers, "text/html")
            else:
                self._send(e.status, {"error": e.error, "message": e.message}, e.headers)
        except Exception as e:  # a bug must still answer, or the client hangs on keep-alive
            self._send(500, {"error": "internal_error", "message": str(e)})

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None,
              content_type: str = "application/json; charset=utf-8") -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


class JusticeServer:
    """A running server on 127.0.0.1 (in a thread); use as a context manager or call :meth:`stop`.

    ``host`` is 127.0.0.1 everywhere but in the compose stack's container (0.0.0.0 on its private network)."""

    def __init__(self, port: int = 0, options: ServerOptions | None = None, host: str = "127.0.0.1"):
        self.options = options or ServerOptions()
        self.app = JusticeApp(self.options)
        handler = type("Handler", (_Handler,), {"app": self.app})
        self._httpd = ThreadingHTTPServer((host, port), handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="justice-api", daemon=True)  # quick stop()
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> JusticeServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server(port: int = 0, host: str = "127.0.0.1", **options: Any) -> JusticeServer:
    """Start the API in this process; ``options`` are :class:`ServerOptions` fields."""
    known = {f.name for f in dataclasses.fields(ServerOptions)}
    bad = set(options) - known
    if bad:
        raise TypeError(f"unknown option(s) {sorted(bad)}; known: {sorted(known)}")
    return JusticeServer(port, ServerOptions(**options), host=host)


# -------------------------------------------------------------------------------- detached process
def info_path(home: Path | str | None = None) -> Path:
    from govhub.settings import hub_home

    return (Path(home) if home else hub_home()) / "justice.json"


def background_info(home: Path | str | None = None) -> dict[str, Any] | None:
    """``{pid, url, clientId, clientSecret}`` of the detached server, or None when it is not running."""
    path = info_path(home)
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return info if _is_our_server(int(info.get("pid", 0))) else None


def _is_our_server(pid: int) -> bool:
    """The pid is alive and (where /proc tells) is this server, not an unrelated process that reused it."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        try:
            text = cmdline.read_bytes()
        except OSError:
            return False
        if not text:  # a zombie has an empty command line
            return False
        return b"govhub.sim.justice" in text
    return True


def serve_forever_daemon(port: int = 0, host: str = "127.0.0.1") -> None:
    """Body of ``python -m govhub.sim.justice``: serve until SIGTERM/SIGINT, advertising in justice.json."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server = start_server(port, host=host)
    path = info_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.unlink(missing_ok=True)
    # it holds the client secret the hub's simulated connection uses: readable by the OS user only (0600, set at
    # creation, so there is no moment it is world-readable)
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
        f.write(json.dumps({"pid": os.getpid(), "url": server.url, "clientId": server.app.client_id,
                            "clientSecret": server.app.client_secret}))
    tmp.replace(path)  # atomic: a reader never sees half a file
    print(f"justice API at {server.url} (pid {os.getpid()})", flush=True)

    def warm_up() -> None:  # build the world now rather than on the first client call (minutes at city scale)
        try:
            for resource in RESOURCES:
                server.app.snapshot().items(resource)
        except HttpError:
            pass  # no county yet: the first call after `hub simulate --generate` builds it

    threading.Thread(target=warm_up, name="justice-warm-up", daemon=True).start()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        try:
            if json.loads(path.read_text()).get("pid") == os.getpid():
                path.unlink()
        except (OSError, ValueError):
            pass


def start_background(home: Path | str | None = None, port: int | None = None, timeout: float = 20.0) -> str:
    """Start the server as a detached process (idempotent); returns its URL."""
    from govhub.settings import hub_home

    home_path = Path(home) if home else hub_home()
    info = background_info(home_path)
    if info is not None:
        return info["url"]
    if port is None:
        port = int(os.environ.get("HUB_JUSTICE_PORT", "0"))
    (home_path / "logs").mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, HUB_HOME=str(home_path))
    with open(home_path / "logs" / "justice.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "govhub.sim.justice", "--port", str(port)], env=env,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)  # survives the `hub up` process
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = background_info(home_path)
        if info is not None and info.get("pid") == proc.pid:
            return info["url"]
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    if proc.poll() is None:
        proc.terminate()
    tail = (home_path / "logs" / "justice.log").read_text(errors="replace")[-2000:]
    raise RuntimeError(f"justice API did not start; log tail:\n{tail}")


def stop_background(home: Path | str | None = None, timeout: float = 10.0) -> bool:
    """Stop the detached server recorded in justice.json; False when none was running."""
    path = info_path(home)
    info = background_info(home)
    if info is None:
        path.unlink(missing_ok=True)  # stale file of a server that is gone
        return False
    pid = int(info["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child: reap it
                break
        except ChildProcessError:
            pass  # started by another process (the usual `hub up` / `hub down` case)
        if not _is_our_server(pid):
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
    path.unlink(missing_ok=True)
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Simulated justice department API")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1", help="bind address (0.0.0.0 only inside a container)")
    args = parser.parse_args(argv)
    serve_forever_daemon(args.port, args.host)


# Registration for the truth (no writer: the API is live). Not when run as a script: then this file is
# __main__, and the server process does not write truth.
if __name__ != "__main__" and all(getattr(f, "__module__", None) != __name__ for f in runner.TRUTH_LINKS):
    runner.TRUTH_LINKS.append(truth_links)

if __name__ == "__main__":
    main()
