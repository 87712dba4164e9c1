"""Airflow 3 UI plugin: the data-quality scorecard and the gate's GX Data Docs inside the Airflow UI.

A FastAPI app mounted by the API server under ``/hub-quality`` serves the static pages the pipeline writes
(``$HUB_HOME/reports/scorecard.html``, rebuilt after every gate, and the GX Data Docs site); an external
view adds "Data quality" to the navigation. The app only reads files: no database access from the API
server, so a slow warehouse never slows the UI, and a page is never half-written (atomic rename).

Plugin apps are not protected by Airflow automatically: every route requires an authenticated Airflow
user (the UI's JWT cookie or a bearer token). The pages hold masked examples only, but they are still
internal quality data. Data Docs are served by a route, not a StaticFiles mount, because mounts bypass
route dependencies (and so would bypass the authentication).

Who sees what (docs/security.md): an Airflow user is matched to the database login role of the same name.
Officials (members of ``hub_official``), the database's administrators, and the Airflow users listed in
``HUB_SCORECARD_ENGINEERS`` (comma-separated; default ``admin``, the demo's Airflow user) see every department
and the Data Docs; a department officer (a login role in ``hub_department_officer`` with rows in
``ops.officer_department``) sees only the page of its departments; anyone else is refused (403). The map is
written by every scorecard build (``reports/access.json``, from the database's roles), and the same rows sit in
``ops.scorecard`` under row-level security for whoever reads the database directly.

GX's Data Docs pages load jQuery, Bootstrap, bootstrap-table, Vega and Font Awesome from CDNs; a county data
centre has no internet access. Every Data Docs page is served with those links rewritten to vendored copies
under ``/hub-quality/vendor/`` (govhub.quality.data_docs_assets; sources and licences in its README).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

from airflow.api_fastapi.core_api.security import GetUserDep
from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse

from govhub.quality import data_docs_assets
from govhub.quality.scorecard import ACCESS_FILE, PLUGIN_URL_PREFIX, data_docs_dir, officer_page, report_dir

NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>scorecard not built</title>
<p>The data-quality scorecard has not been built yet. It is rebuilt by every warehouse build;
run <code>hub report</code> to build it now.</p>"""



def authenticated(request: Request, user: GetUserDep) -> Any:
    """The logged-in Airflow user (Airflow's JWT check refuses anyone else with 401). A module attribute so that
    tests can override it (app.dependency_overrides[authenticated]); an override returning None names no user
    and is treated as an engineer."""
    return user


ALL = "all"


def scope(user: Annotated[Any, Depends(authenticated)]) -> str:
    """``ALL``, or the database role whose officer page this user may see; 403 for anyone else."""
    if user is None:
        return ALL
    name = user.get_name()
    engineers = {u.strip() for u in os.environ.get("HUB_SCORECARD_ENGINEERS", "admin").split(",") if u.strip()}
    path = report_dir() / ACCESS_FILE
    access = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"all": [], "officers": {}}
    if name in engineers or name in access["all"]:
        return ALL
    if name in access["officers"]:
        return name
    raise HTTPException(status_code=403, detail=(
        f"Airflow user {name!r} may not see the data-quality scorecard: it is shown to an Airflow user whose name "
        "is a database login role in hub_official or hub_department_officer (with its departments in "
        "ops.officer_department), or listed in HUB_SCORECARD_ENGINEERS; ask the hub's administrator"))


def everything(who: Annotated[str, Depends(scope)]) -> None:
    if who != ALL:
        raise HTTPException(status_code=403, detail="the gate's Data Docs cover every department: officials and "
                                                    "engineers only")


# No /docs, /redoc or /openapi.json: the API server's own docs describe Airflow's API; this app's routes are
# pages for people who logged in, not an API to advertise to whoever can reach the server.
app = FastAPI(title="govhub data quality", description="Per-department scorecard and GX Data Docs",
              dependencies=[Depends(authenticated)], docs_url=None, redoc_url=None, openapi_url=None)


def _page(who: str, suffix: str) -> Path:
    return report_dir() / f"scorecard{suffix}" if who == ALL else officer_page(report_dir(), who, suffix)


@app.get("/", response_class=HTMLResponse, response_model=None)
def scorecard(who: Annotated[str, Depends(scope)]) -> HTMLResponse | FileResponse:
    path = _page(who, ".html")
    if not path.exists():
        return HTMLResponse(NOT_BUILT, status_code=404)
    return FileResponse(path, media_type="text/html; charset=utf-8")


@app.get("/scorecard.json", response_model=None)
def scorecard_json(who: Annotated[str, Depends(scope)]) -> JSONResponse | FileResponse:
    path = _page(who, ".json")
    if not path.exists():
        return JSONResponse({"detail": "scorecard not built; run `hub report`"}, status_code=404)
    return FileResponse(path, media_type="application/json")


@app.get("/data-docs", response_model=None, dependencies=[Depends(everything)])
def data_docs_root() -> RedirectResponse:
    return RedirectResponse(f"{PLUGIN_URL_PREFIX}/data-docs/index.html")


@app.get("/data-docs/{path:path}", response_model=None, dependencies=[Depends(everything)])
def data_docs(path: str, request: Request) -> FileResponse | HTMLResponse:
    root = data_docs_dir().resolve()
    target = (root / (path or "index.html")).resolve()
    if target.is_dir():
        target = target / "index.html"
    # no escaping the Data Docs site with ../ (the site exists only after the first gate run)
    if not target.is_relative_to(root) or not target.is_file():
        raise HTTPException(status_code=404, detail="not found; Data Docs are written by each gate run")
    if target.suffix == ".html":  # CDN links -> the vendored copies (works without internet access)
        # where this app is mounted (Airflow: /hub-quality; a test serving the app alone: the root)
        root = request.scope.get("root_path", "").rstrip("/")
        html = data_docs_assets.rewrite(target.read_text(encoding="utf-8"), f"{root}/vendor",
                                        f"{root}/data-docs/static/images")
        return HTMLResponse(html)
    return FileResponse(target)


@app.get("/vendor/{path:path}", response_model=None)
def vendored(path: str) -> FileResponse:
    target = data_docs_assets.vendored_file(path)
    if target is None:
        raise HTTPException(status_code=404, detail="not a vendored Data Docs asset")
    return FileResponse(target, headers={"Cache-Control": "max-age=86400"})


class HubQualityPlugin(AirflowPlugin):
    name = "hub_quality"
    fastapi_apps = [{"app": app, "url_prefix": PLUGIN_URL_PREFIX, "name": "govhub data quality"}]
    external_views = [
        {"name": "Data quality scorecard", "href": f"{PLUGIN_URL_PREFIX}/", "destination": "nav",
         "category": "govhub", "url_route": "hub-quality"},
        {"name": "GX Data Docs", "href": f"{PLUGIN_URL_PREFIX}/data-docs/index.html", "destination": "nav",
         "category": "govhub", "url_route": "hub-quality-data-docs"},
    ]
