"""`hub serve`: the real Airflow service (api-server, scheduler, dag-processor, triggerer) on the embedded stack.

The scheduler — not ``dag.test()`` — runs the police extract by its schedule; its Asset event triggers
``warehouse_build``, which publishes a new version. Everything is driven and read through Airflow's REST API with
a JWT from ``/auth/token`` (simple auth manager, generated password). The UI's login page and the scorecard in
the UI's navigation are loaded in headless Chromium behind that login. The service must leave no process behind.

To cost one warehouse build, not three: every DAG starts paused (existing ones are paused in the metadata
database, new ones by ``hub serve --paused``), the events earlier test modules' ``dag.test()`` runs left queued
are cleared, the build's daily fallback is off (``HUB_BUILD_FALLBACK_CRON=""``, else unpausing it starts the
missed 03:00 build at once), and the other feeds are extracted in-process before the service starts.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time

import httpx
import pytest

from govhub import db, service
from govhub.settings import AIRFLOW_DB
from tests.conftest import reset_warehouse

BUILD_TIMEOUT = 600  # seconds; a first (full) tiny build on a busy 2-core machine took 200 s in `hub run`
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _pause_everything() -> None:
    """Existing DAGs paused, queued asset events of earlier in-process runs dropped (Airflow's metadata tables)."""
    with db.connect(AIRFLOW_DB) as conn:
        exists = conn.execute("select to_regclass('public.dag') is not null").fetchone()[0]
        if exists:
            conn.execute("update dag set is_paused = true")
            conn.execute("delete from asset_dag_run_queue")


@pytest.fixture(scope="module")
def served(hub_env):
    from govhub import airflow_env, pipeline
    from govhub.extract.registry import load_registry
    from govhub.sim import runner

    reset_warehouse()
    runner.generate("tiny", reset=True)
    for name in load_registry():  # the police extract is the scheduler's
        if name != "police":
            pipeline.extract(name)
    airflow_env.ensure_metadata_db()
    _pause_everything()
    saved = os.environ.get("HUB_BUILD_FALLBACK_CRON")
    os.environ["HUB_BUILD_FALLBACK_CRON"] = ""
    svc = None
    try:
        svc = service.start(service._free_port(), paused=True)
        service.wait_healthy(svc, timeout=300)
        yield svc
    finally:
        if saved is None:
            os.environ.pop("HUB_BUILD_FALLBACK_CRON", None)
        else:
            os.environ["HUB_BUILD_FALLBACK_CRON"] = saved
        if svc is not None:
            service.stop(svc)
            leftovers = [c for c, pid in svc.pids.items() if service._group_alive(pid)]
            assert leftovers == [], f"processes left behind by {leftovers}"
            assert service.load() is None


@pytest.fixture(scope="module")
def api(served):
    """An httpx client on the REST API, authenticated with a JWT of the generated admin password."""
    answer = httpx.post(f"{served.url}/auth/token", json={"username": "admin", "password": service.password("admin")},
                        timeout=60)
    assert answer.status_code in (200, 201), answer.text
    token = answer.json()["access_token"]
    with httpx.Client(base_url=f"{served.url}/api/v2", headers={"Authorization": f"Bearer {token}"},
                      timeout=60) as client:
        yield client


def _wait(what: str, probe, timeout: float, every: float = 3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _runs(api: httpx.Client, dag_id: str) -> list[dict]:
    answer = api.get(f"/dags/{dag_id}/dagRuns", params={"order_by": "-run_after", "limit": 20})
    return answer.json()["dag_runs"] if answer.status_code == 200 else []


@pytest.fixture(scope="module")
def scheduled_pass(api):
    """Unpause the build and the police extract through the REST API; the scheduler runs the extract's latest
    scheduled time (catchup off), its Asset event triggers the build."""
    published_before = db.query("select coalesce(max(version), 0) from ops.publication where gate_success")[1][0][0]
    _wait("the dag-processor to register the DAGs",
          lambda: all(api.get(f"/dags/{d}").status_code == 200 for d in ("extract_police", "warehouse_build")), 240)
    for dag_id in ("warehouse_build", "extract_police"):
        answer = api.patch(f"/dags/{dag_id}", json={"is_paused": False})
        assert answer.status_code == 200 and answer.json()["is_paused"] is False, answer.text
    extract = _wait("a finished scheduled extract_police run", lambda: next(
        (r for r in _runs(api, "extract_police") if r["run_type"] == "scheduled" and r["state"] in ("success", "failed")),
        None), BUILD_TIMEOUT)
    build = _wait("a finished asset-triggered warehouse_build run", lambda: next(
        (r for r in _runs(api, "warehouse_build")
         if r["run_type"] == "asset_triggered" and r["state"] in ("success", "failed")), None), BUILD_TIMEOUT)
    return {"extract": extract, "build": build, "published_before": published_before}


def test_every_component_is_healthy_and_hub_status_says_so(served, capsys):
    from govhub.cli import print_service_status

    assert service.health(served.port) == {"metadatabase": "healthy", "scheduler": "healthy",
                                           "triggerer": "healthy", "dag_processor": "healthy"}
    print_service_status()
    line = capsys.readouterr().out
    assert line.startswith(f"Airflow service: up at {served.url}"), line


def test_the_generated_password_is_private_and_in_no_log(served, scheduled_pass):
    from pathlib import Path

    assert service.passwords_file().stat().st_mode & 0o777 == 0o600
    secret = service.password("admin")
    for log in served.logs.values():
        assert secret not in Path(log).read_text(errors="replace"), log


def test_the_rest_api_refuses_a_wrong_password_and_no_token(served):
    wrong = httpx.post(f"{served.url}/auth/token", json={"username": "admin", "password": "not-it"}, timeout=60)
    assert wrong.status_code == 401
    assert httpx.get(f"{served.url}/api/v2/dags", timeout=60).status_code == 401


def test_the_scheduler_runs_an_extract_whose_asset_triggers_a_build_that_publishes(api, scheduled_pass):
    extract, build = scheduled_pass["extract"], scheduled_pass["build"]
    assert extract["state"] == "success", extract
    assert build["state"] == "success", build
    events = api.get(f"/dags/warehouse_build/dagRuns/{build['dag_run_id']}/upstreamAssetEvents").json()["asset_events"]
    assert any(e["source_dag_id"] == "extract_police" and e["source_run_id"] == extract["dag_run_id"] for e in events), \
        events
    version, published_at = db.query(
        "select version, published_at from ops.publication where gate_success order by version desc limit 1")[1][0]
    assert version > scheduled_pass["published_before"]
    assert published_at >= dt.datetime.fromisoformat(extract["end_date"].replace("Z", "+00:00"))


def test_task_logs_say_rows_and_batches_in_words(api, scheduled_pass):
    run_id = scheduled_pass["extract"]["dag_run_id"]
    answer = api.get(f"/dags/extract_police/dagRuns/{run_id}/taskInstances/extract_RK_CZRK/logs/1",
                     headers={"Accept": "application/json"})
    assert answer.status_code == 200, answer.text
    text = str(answer.json()["content"])
    # the batch this run loaded (a later scheduled run, at an hour's turn, may have loaded another since)
    received = db.query("select received from ops.batch where feed = 'police' and object = 'RK_CZRK' "
                        "and started_at between %s and %s order by started_at desc limit 1",
                        (scheduled_pass["extract"]["start_date"], scheduled_pass["extract"]["end_date"]))[1][0][0]
    assert f"police.RK_CZRK: {received:,} records received in batch" in text, text[-2000:]


def test_each_dag_documents_its_department_contact_contract_and_failures(api):
    from govhub.extract.registry import load_registry

    for name, feed in load_registry().items():
        doc = api.get(f"/dags/extract_{name}/details").json()["doc_md"]
        assert feed.department in doc and feed.contact["email"] in doc, name
        assert feed.options["contract"] in doc, name
        for failure in ("Late", "Drifted", "Held", "Refused"):
            assert f"**{failure}**" in doc, (name, failure)
        assert f"hub release {name}" in doc
    build_doc = api.get("/dags/warehouse_build/details").json()["doc_md"]
    assert all(feed.department in build_doc for feed in load_registry().values())
    assert "hub release FEED" in build_doc


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("no chromium on PATH: `make browser` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def _log_in(page, user: str, password: str, attempts: int = 3) -> None:
    """Sign in through the UI's login form. On a loaded machine the form can be filled and submitted before its
    script has taken over (the submit then reloads the empty form): when the page is still the login form after
    the submit, fill it again — a wrong password fails every attempt, and the last one says what the page shows."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(1, attempts + 1):
        page.wait_for_selector('input[name="username"]', timeout=60_000)
        page.fill('input[name="username"]', user)
        page.fill('input[name="password"]', password)
        page.locator("button[type=submit]").click()
        try:
            page.wait_for_url(lambda url: "/auth/login" not in url, timeout=30_000)
            return
        except PlaywrightTimeout:
            if attempt == attempts:
                raise AssertionError(f"still on the login page after {attempts} sign-ins: "
                                     f"{page.inner_text('body')[:500]!r}") from None


def test_the_ui_login_page_and_the_scorecard_in_its_navigation_load_in_a_browser(served, scheduled_pass, browser):
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []  # console errors and uncaught exceptions, of the UI and of the scorecard's frame
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    try:
        # anonymous: the scorecard is refused, the UI sends the visitor to its login page
        assert page.goto(f"{served.url}/hub-quality/").status == 401
        errors.clear()
        page.goto(f"{served.url}/", wait_until="load")
        page.wait_for_selector('input[name="username"]', timeout=60_000)
        assert "/auth/login" in page.url
        assert "Sign into Airflow" in page.inner_text("body")
        # the UI asks who is signed in before showing its form: the anonymous answer (401) is all it may log
        assert all("status of 401" in e for e in errors), errors
        _log_in(page, "admin", service.password("admin"))
        errors.clear()
        # the navigation: Plugins -> govhub -> Data quality scorecard, shown inside the UI
        page.get_by_role("button", name="Plugins").click()
        page.get_by_role("menuitem", name="govhub").hover()
        page.get_by_role("menuitem", name="Data quality scorecard").click()
        # the UI routes the plugin page to /plugin/hub-quality (and may settle on a longer path below it)
        page.wait_for_url(lambda url: "/plugin/hub-quality" in url, timeout=60_000)
        frame = page.frame_locator("iframe").first
        frame.locator("text=县公安局").first.wait_for(timeout=60_000)
        assert "Data-quality scorecard" in frame.locator("body").inner_text()
        assert errors == []  # signed in: the UI, the plugin page and the scorecard log no error
    finally:
        context.close()


def test_the_registry_schedules_apply_unless_compressed_for_a_demo(monkeypatch):
    from croniter import croniter

    from govhub import runbook
    from govhub.extract.registry import load_registry

    feeds = list(load_registry().values())
    monkeypatch.delenv(runbook.EXTRACT_EVERY_ENV, raising=False)
    assert [runbook.extract_schedule(f) for f in feeds] == [f.schedule for f in feeds]
    monkeypatch.setenv(runbook.EXTRACT_EVERY_ENV, "5")
    compressed = [runbook.extract_schedule(f) for f in feeds]
    start = dt.datetime(2026, 12, 3, 10, 0)
    for cron in compressed:  # every 5 minutes, and the feeds do not all start in the same minute
        times = croniter(cron, start).all_next(dt.datetime)
        first, second = next(times), next(times)
        assert second - first == dt.timedelta(minutes=5), cron
    assert len({croniter(c, start).get_next(dt.datetime) for c in compressed}) > 1
    monkeypatch.setenv(runbook.EXTRACT_EVERY_ENV, "90")
    with pytest.raises(ValueError, match="HUB_EXTRACT_EVERY_MINUTES=90"):
        runbook.extract_schedule(feeds[0])
