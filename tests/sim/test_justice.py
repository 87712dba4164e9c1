"""The simulated justice API (contract section 4): a real HTTP server over the simulated county."""

from __future__ import annotations

import datetime as dt
import re

import httpx
import pytest

from govhub import db
from govhub.sim import justice, runner
from govhub.sim.world import FUTURE_DAYS, SCALES, TZ, generate_world

CREDS = {"clientId": "hub", "clientSecret": "sim-secret"}
FIELDS = {
    "corrections": {"caseId", "idNumber", "name", "gender", "birthDate", "correctionType", "startDate", "endDate",
                    "supervisingOffice", "residenceAddress", "status", "updatedAt"},
    "resettlement": {"recordId", "idNumber", "name", "gender", "birthDate", "releaseDate", "offenseCategory",
                     "residenceAddress", "status", "updatedAt"},
    "mediations": {"caseId", "acceptedAt", "disputeType", "partyIdNumbers", "location", "committee", "outcome",
                   "closedAt", "updatedAt"},
}
KEY = {"corrections": "caseId", "resettlement": "recordId", "mediations": "caseId"}
ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
QUIET = {"rate_limit": None, "random_429": 0.0, "random_5xx": 0.0, "state_ttl": 0.0}


class Api:
    """A minimal client: token, bearer header, JSON."""

    def __init__(self, url: str):
        self.http = httpx.Client(base_url=url, timeout=10)
        self.token = ""

    def login(self) -> httpx.Response:
        r = self.http.post("/api/v1/token", json=CREDS)
        if r.status_code == 200:
            self.token = r.json()["accessToken"]
        return r

    def get(self, resource: str, **params) -> httpx.Response:
        return self.http.get(f"/api/v1/{resource}", params=params, headers={"Authorization": f"Bearer {self.token}"})

    def all(self, resource: str, page_size: int = 500, **params) -> list[dict]:
        items, page = [], 1
        while True:
            body = self.get(resource, page=page, pageSize=page_size, **params).json()
            items += body["items"]
            if page * page_size >= body["total"]:
                return items
            page += 1


def _t(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.fixture(scope="module")
def county(hub_env):
    # Other modules regenerate the shared county with their own quirk rates and clock: start afresh.
    return runner.generate("tiny", reset=True)


@pytest.fixture(scope="module")
def server(county):
    with justice.start_server(**QUIET) as s:
        yield s


@pytest.fixture
def api(server):
    client = Api(server.url)
    assert client.login().status_code == 200
    return client


def test_token_flow(server):
    client = Api(server.url)
    assert client.http.post("/api/v1/token", json={**CREDS, "clientSecret": "nope"}).status_code == 401
    assert client.http.post("/api/v1/token", json={"clientId": "hub"}).status_code == 401
    assert client.http.post("/api/v1/token", content=b"not json").status_code == 400
    assert client.http.get("/api/v1/corrections").status_code == 401  # no Authorization header
    client.token = "forged"
    assert client.get("corrections").status_code == 401
    r = client.login()
    assert r.status_code == 200 and r.json()["expiresIn"] > 0 and r.json()["accessToken"]
    assert client.get("corrections").status_code == 200
    assert client.get("nothing").status_code == 404


def test_token_expires_after_n_calls_then_refresh_works(county):
    with justice.start_server(token_max_uses=2, **QUIET) as s:
        client = Api(s.url)
        client.login()
        assert [client.get("mediations").status_code for _ in range(3)] == [200, 200, 401]
        assert client.get("mediations").json()["error"] == "token_expired"
        client.login()
        assert client.get("mediations").status_code == 200


def test_token_expires_after_expires_in_seconds(county):
    now = [1000.0]
    with justice.start_server(token_ttl=60, clock=lambda: now[0], **QUIET) as s:
        client = Api(s.url)
        assert client.login().json()["expiresIn"] == 60
        now[0] += 59
        assert client.get("corrections").status_code == 200
        now[0] += 2
        r = client.get("corrections")
        assert r.status_code == 401 and r.json()["error"] == "token_expired"
        client.login()
        assert client.get("corrections").status_code == 200


def test_credentials_come_from_the_environment(county, monkeypatch):
    monkeypatch.setenv("HUB_JUSTICE_CLIENT_ID", "county-hub")
    monkeypatch.setenv("HUB_JUSTICE_CLIENT_SECRET", "s3cret")
    with justice.start_server(**QUIET) as s:
        http = httpx.Client(base_url=s.url)
        assert http.post("/api/v1/token", json=CREDS).status_code == 401
        assert http.post("/api/v1/token", json={"clientId": "county-hub", "clientSecret": "s3cret"}).status_code == 200


@pytest.mark.parametrize("resource", sorted(FIELDS))
def test_paging_is_complete_and_ordered(api, resource):
    whole = api.get(resource, pageSize=500).json()
    assert whole["page"] == 1 and whole["pageSize"] == 500 and whole["total"] == len(whole["items"]) > 0
    pages, page = [], 1
    while True:
        body = api.get(resource, page=page, pageSize=2).json()
        assert body["total"] == whole["total"] and body["page"] == page and body["pageSize"] == 2
        if not body["items"]:
            break
        pages += body["items"]
        page += 1
    assert pages == whole["items"]  # no gaps, no duplicates, same order
    keys = [(_t(i["updatedAt"]), i[KEY[resource]]) for i in pages]
    assert keys == sorted(keys) and len({k for _, k in keys}) == len(keys)


@pytest.mark.parametrize("resource", sorted(FIELDS))
def test_items_follow_the_contract(api, resource):
    for item in api.all(resource):
        assert set(item) == FIELDS[resource]
        assert ISO.fullmatch(item["updatedAt"])
        if resource == "mediations":
            assert item["disputeType"] in {"marriage_family", "neighbor", "land", "labor", "property", "contract",
                                           "other"}
            assert item["outcome"] in {"ongoing", "success", "failed", "transferred"}
            assert isinstance(item["partyIdNumbers"], list) and ISO.fullmatch(item["acceptedAt"])
            assert (item["closedAt"] is None) == (item["outcome"] == "ongoing")
            if item["closedAt"]:
                assert ISO.fullmatch(item["closedAt"]) and item["updatedAt"] == item["closedAt"]
            assert item["committee"].endswith("人民调解委员会") and item["location"]
            continue
        assert item["gender"] in {"M", "F"} and DATE.fullmatch(item["birthDate"])
        if resource == "corrections":
            assert item["correctionType"] in {"probation", "parole", "temporary_outside_execution",
                                              "deprivation_of_political_rights"}
            assert item["status"] in {"active", "ended", "revoked"}
            assert item["startDate"] < item["endDate"]
        else:
            assert item["status"] in {"helping", "ended", "lost_contact"} and DATE.fullmatch(item["releaseDate"])


def test_items_describe_the_hidden_world(api):
    state = runner.load_state()
    world = generate_world(SCALES[state.scale], state.seed)
    clock = world.clock(state.clock_days)
    by_case = {justice.correction_case_id(p): p for p in world.persons if "community_correction" in p.tags}
    corrections = api.all("corrections")
    assert {i["caseId"] for i in corrections} == {
        k for k, p in by_case.items() if dt.datetime.combine(p.tags["community_correction"], dt.time(17), TZ) <= clock}
    for i in corrections:
        p = by_case[i["caseId"]]
        assert i["birthDate"] == p.birth.isoformat() and i["startDate"] == p.tags["community_correction"].isoformat()
    accepted = {m.case_id: m for m in world.mediations if m.accepted_at <= clock}
    mediations = api.all("mediations")
    assert {i["caseId"] for i in mediations} == set(accepted)
    ids = {p.pid: p.id18 for p in world.persons}
    for i in mediations:
        m = accepted[i["caseId"]]
        assert len(i["partyIdNumbers"]) == len(m.parties) and i["disputeType"] == m.dispute_type
        clean = [x.replace(" ", "").upper() for x in i["partyIdNumbers"]]
        assert sum(c == ids[pid] for c, pid in zip(clean, m.parties, strict=True)) >= len(m.parties) - 1


def test_updated_since_filters_inclusively(api, server):
    items = api.all("mediations")
    since = items[len(items) // 2]["updatedAt"]
    expected = [i for i in items if _t(i["updatedAt"]) >= _t(since)]
    assert api.all("mediations", updatedSince=since) == expected
    # the same instant in UTC, and with the '+' of the offset sent unencoded (it arrives as a space)
    utc = _t(since).astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    assert api.all("mediations", updatedSince=utc) == expected
    raw = api.http.get(f"/api/v1/mediations?pageSize=500&updatedSince={since}",
                       headers={"Authorization": f"Bearer {api.token}"})
    assert raw.json()["items"] == expected
    assert api.get("mediations", updatedSince="yesterday").status_code == 400
    far = (_t(items[-1]["updatedAt"]) + dt.timedelta(seconds=1)).isoformat()
    assert api.get("mediations", updatedSince=far).json() == {"items": [], "page": 1, "pageSize": 100, "total": 0}


def test_page_size_is_capped(api):
    assert api.get("corrections", pageSize=500).status_code == 200
    r = api.get("corrections", pageSize=501)
    assert r.status_code == 400 and "pageSize" in r.json()["message"]
    assert api.get("corrections", pageSize=0).status_code == 400
    assert api.get("corrections", page=0).status_code == 400
    assert api.get("corrections", page="x").status_code == 400


def test_too_fast_gets_429_with_retry_after(county):
    now = [0.0]
    options = {**QUIET, "rate_limit": 1.0, "burst": 1, "clock": lambda: now[0]}
    with justice.start_server(**options) as s:
        client = Api(s.url)
        assert client.login().status_code == 200
        r = client.get("corrections")
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        now[0] += int(r.headers["Retry-After"])
        assert client.get("corrections").status_code == 200


def test_random_failures_are_seedable(county):
    def statuses(seed: int) -> list[tuple[int, str | None]]:
        opts = {**QUIET, "random_429": 0.3, "random_5xx": 0.2, "seed": seed}
        with justice.start_server(**opts) as s:
            http = httpx.Client(base_url=s.url)
            out = []
            for _ in range(40):
                r = http.post("/api/v1/token", json=CREDS)
                out.append((r.status_code, r.headers.get("Retry-After")))
            return out

    first = statuses(7)
    assert first == statuses(7)
    codes = {c for c, _ in first}
    assert {200, 429} <= codes and codes & {502, 503} and codes <= {200, 429, 502, 503}
    assert all(ra and int(ra) >= 1 for c, ra in first if c == 429)


def test_truth_links_cover_the_api_records(api):
    state = runner.load_state()
    world = generate_world(SCALES[state.scale], state.seed)
    links = {(o, r): pid for _, o, r, pid in justice.truth_links(world)}
    assert justice.truth_links in runner.TRUTH_LINKS
    with db.connect("sim_truth") as conn:  # what runner.generate stored
        stored = {(o, r): pid for o, r, pid in conn.execute(
            "select object, record_id, pid from truth_record where source = 'justice'")}
    assert stored == links
    for i in api.all("corrections"):
        assert ("corrections", i["caseId"]) in links
    for i in api.all("resettlement"):
        assert ("resettlement", i["recordId"]) in links
    for i in api.all("mediations"):
        assert all(("mediations", f"{i['caseId']}#{k}") in links for k in range(len(i["partyIdNumbers"])))


def test_advancing_the_clock_reveals_changes(api):
    """`hub simulate --days N` moves the clock; the live API shows the new and changed records."""
    before = {r: {i[KEY[r]]: i for i in api.all(r)} for r in FIELDS}
    state = runner.load_state()
    changed: dict[str, list[dict]] = {}
    old_clock = None
    while not any(changed.values()):
        if state.clock_days + 3 > FUTURE_DAYS:
            pytest.fail("no justice record changed in the whole simulated future")
        old_clock = generate_world(SCALES[state.scale], state.seed).clock(state.clock_days)
        runner.advance(3)
        state = runner.load_state()
        after = {r: {i[KEY[r]]: i for i in api.all(r)} for r in FIELDS}
        changed = {r: [i for k, i in after[r].items() if before[r].get(k) != i] for r in FIELDS}
        before = after
    for resource, items in changed.items():
        incremental = api.all(resource, updatedSince=old_clock.isoformat())
        assert {i[KEY[resource]] for i in items} <= {i[KEY[resource]] for i in incremental}
        assert all(_t(i["updatedAt"]) > old_clock for i in items)
        assert all(_t(i["updatedAt"]) <= old_clock + dt.timedelta(days=3) for i in items)


def test_background_process_start_and_stop(county):
    url = justice.start_background()
    try:
        info = justice.background_info()
        assert info["url"] == url and info["clientId"] == "hub" and info["clientSecret"] == "sim-secret"
        assert justice.start_background() == url  # idempotent
        client = Api(url)
        for _ in range(5):  # the default server keeps the county's random 429/5xx: retry a little
            if client.login().status_code == 200:
                break
        statuses = [client.get("corrections").status_code for _ in range(3)]
        assert 200 in statuses
    finally:
        assert justice.stop_background()
    assert justice.background_info() is None and not justice.info_path().exists()
    assert not justice.stop_background()
    justice.start_background()  # the session's server (conftest) serves the tests that follow
    from govhub.extract.connections import define_simulator_connections

    define_simulator_connections()  # its new port
