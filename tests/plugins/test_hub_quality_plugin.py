"""The Airflow UI plugin loads, registers its FastAPI app and external views, and serves the scorecard."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest

from govhub.settings import REPO_ROOT


def load_plugin_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hub_quality_plugin", REPO_ROOT / "plugins" / "hub_quality_plugin.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def plugin(hub_env) -> ModuleType:
    from govhub import airflow_env

    airflow_env.configure()
    return load_plugin_module()


@pytest.fixture(scope="module")
def client(plugin):
    """A client as a logged-in Airflow user (authentication itself is tested below)."""
    from fastapi.testclient import TestClient

    plugin.app.dependency_overrides[plugin.authenticated] = lambda: None
    yield TestClient(plugin.app)
    plugin.app.dependency_overrides.clear()


def test_anonymous_requests_are_refused(plugin):
    from fastapi.testclient import TestClient

    anonymous = TestClient(plugin.app)
    for path in ("/", "/scorecard.json", "/data-docs/index.html"):
        assert anonymous.get(path).status_code == 401, path


def test_no_api_docs_or_schema_even_when_logged_in(plugin, client):
    from fastapi.testclient import TestClient

    for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
        assert client.get(path).status_code == 404, path
        assert TestClient(plugin.app).get(path).status_code in (401, 404), path


def test_plugin_registers_app_and_views(plugin):
    from airflow.plugins_manager import AirflowPlugin

    cls = plugin.HubQualityPlugin
    assert issubclass(cls, AirflowPlugin) and cls.name == "hub_quality"
    assert cls.fastapi_apps == [{"app": plugin.app, "url_prefix": "/hub-quality", "name": "govhub data quality"}]
    routes = {v["url_route"] for v in cls.external_views}
    assert routes == {"hub-quality", "hub-quality-data-docs"}
    assert all(v["href"].startswith("/hub-quality/") for v in cls.external_views)


def test_airflow_loads_the_plugin_from_the_plugins_folder(plugin, monkeypatch):
    # Airflow's own loader on the folder govhub.airflow_env configures (AIRFLOW__CORE__PLUGINS_FOLDER)
    from airflow import plugins_manager, settings

    from govhub import airflow_env

    assert airflow_env.airflow_environment()["AIRFLOW__CORE__PLUGINS_FOLDER"] == str(REPO_ROOT / "plugins")
    monkeypatch.setattr(settings, "PLUGINS_FOLDER", str(REPO_ROOT / "plugins"))
    caches = (plugins_manager._get_plugins, plugins_manager.get_fastapi_plugins, plugins_manager._get_ui_plugins)
    for cached in caches:  # load afresh from the folder, and leave no state behind for other tests
        cached.cache_clear()
    try:
        plugins, errors = plugins_manager._get_plugins()
        assert errors == {}
        assert "hub_quality" in [p.name for p in plugins]
        apps = [a["url_prefix"] for a in plugins_manager.get_fastapi_plugins()[0]]
        assert "/hub-quality" in apps
        views = [v["url_route"] for v in plugins_manager._get_ui_plugins()[0]]
        assert {"hub-quality", "hub-quality-data-docs"} <= set(views)
    finally:
        for cached in caches:
            cached.cache_clear()


def test_serves_the_scorecard_with_every_department(client):
    from govhub.extract.registry import load_registry
    from govhub.quality.scorecard import build_scorecard

    build_scorecard()
    response = client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    for feed in load_registry().values():
        assert feed.department in response.text
    data = client.get("/scorecard.json").json()
    assert [d["feed"] for d in data["departments"]] == list(load_registry())


def test_missing_scorecard_is_a_clear_404(client, monkeypatch, tmp_path):
    monkeypatch.setenv("HUB_HOME", str(tmp_path))
    response = client.get("/")
    assert response.status_code == 404 and "hub report" in response.text


def test_serves_data_docs_when_built(client):
    from govhub.quality.scorecard import data_docs_dir

    response = client.get("/data-docs/index.html")
    if (data_docs_dir() / "index.html").exists():
        assert response.status_code == 200 and "<html" in response.text.lower()
    else:
        assert response.status_code == 404
    assert client.get("/data-docs", follow_redirects=False).headers["location"] == "/hub-quality/data-docs/index.html"
    assert client.get("/data-docs/..%2F..%2F..%2Fgreat_expectations.yml").status_code == 404


class _User:
    def __init__(self, name: str) -> None:
        self.name = name

    def get_name(self) -> str:
        return self.name


def test_the_scorecard_is_scoped_to_the_users_role(plugin):
    """An officer's Airflow user (same name as its database login role) sees only its department, in the plugin
    and in the database (ops.scorecard under row-level security); an official sees all; anyone else is refused."""
    import psycopg
    from fastapi.testclient import TestClient

    from govhub import db, roles
    from govhub.extract.registry import load_registry
    from govhub.quality.scorecard import build_scorecard
    from govhub.settings import WAREHOUSE_DB

    officer, official = "plug_officer_police", "plug_official"
    build_scorecard()  # (ops and the roles exist)
    with db.connect(autocommit=True) as conn:
        for login, group in ((officer, roles.OFFICER), (official, roles.OFFICIAL)):
            if not conn.execute("select 1 from pg_roles where rolname = %s", (login,)).fetchone():
                conn.execute(f"create role {login} login")
            conn.execute(f"grant {group} to {login}")
        conn.execute("insert into ops.officer_department values (%s, 'police') on conflict do nothing", (officer,))
    build_scorecard()
    registry = load_registry()
    user: dict[str, str] = {}
    before = plugin.app.dependency_overrides.get(plugin.authenticated)
    plugin.app.dependency_overrides[plugin.authenticated] = lambda: _User(user["name"])
    try:
        client = TestClient(plugin.app)
        user["name"] = officer
        page = client.get("/")
        assert page.status_code == 200 and registry["police"].department in page.text
        assert not [f.department for f in registry.values() if f.name != "police" and f.department in page.text]
        assert [d["feed"] for d in client.get("/scorecard.json").json()["departments"]] == ["police"]
        assert client.get("/data-docs/index.html").status_code == 403
        user["name"] = official
        assert [d["feed"] for d in client.get("/scorecard.json").json()["departments"]] == list(registry)
        user["name"] = "someone_else"
        refused = client.get("/")
        assert refused.status_code == 403 and "HUB_SCORECARD_ENGINEERS" in refused.text
        assert client.get("/scorecard.json").status_code == 403
    finally:
        plugin.app.dependency_overrides.pop(plugin.authenticated, None)
        if before is not None:
            plugin.app.dependency_overrides[plugin.authenticated] = before
    # the database enforces the same: the officer's login reads its department's row of ops.scorecard only
    address = db.server()
    with psycopg.connect(address.as_user(officer).conninfo(WAREHOUSE_DB)) as conn:
        assert [r[0] for r in conn.execute("select feed from ops.scorecard")] == ["police"]
    with psycopg.connect(address.as_user(official).conninfo(WAREHOUSE_DB)) as conn:
        assert sorted(r[0] for r in conn.execute("select feed from ops.scorecard")) == sorted(registry)
