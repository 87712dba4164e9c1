"""Airflow 3 UI plugin: the data-quality scorecard and the gate's GX Data Docs inside the Airflow UI.

A FastAPI app mounted by the API server under ``/hub-quality`` serves the static pages the pipeline writes
(``$HUB_HOME/reports/scorecard.html``, rebuilt after every gate, and the GX Data Docs site); an external
view adds "Data quality" to the navigation. The app only reads files: no database access from the API
server, so a slow warehouse never slows the UI, and a page is never half-written (atomic rename).

Plugin apps are not protected by Airflow automatically: every route requires an authenticated Airflow
user (the UI's JWT cookie or a bearer token). The pages hold masked examples only, but they are still
internal quality data. Data Docs are served by a route, not a StaticFiles mount, because mounts bypass
route dependencies (and so would bypass the authentication).
"""

from __future__ import annotations

from pathlib import Path

from airflow.api_fastapi.core_api.security import requires_authenticated
from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse

from govhub.quality.scorecard import DATA_DOCS_DIR, PLUGIN_URL_PREFIX, report_dir

NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>scorecard not built</title>
<p>The data-quality scorecard has not been built yet. It is rebuilt by every warehouse build;
run <code>hub report</code> to build it now.</p>"""

# Module attribute so that tests can override it (app.dependency_overrides[authenticated]).
authenticated = requires_authenticated()
# No /docs, /redoc or /openapi.json: the API server's own docs describe Airflow's API; this app's routes are
# pages for people who logged in, not an API to advertise to whoever can reach the server.
app = FastAPI(title="govhub data quality", description="Per-department scorecard and GX Data Docs",
              dependencies=[Depends(authenticated)], docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/", response_class=HTMLResponse, response_model=None)
def scorecard() -> HTMLResponse | FileResponse:
    path: Path = report_dir() / "scorecard.html"
    if not path.exists():
        return HTMLResponse(NOT_BUILT, status_code=404)
    return FileResponse(path, media_type="text/html; charset=utf-8")


@app.get("/scorecard.json", response_model=None)
def scorecard_json() -> JSONResponse | FileResponse:
    path = report_dir() / "scorecard.json"
    if not path.exists():
        return JSONResponse({"detail": "scorecard not built; run `hub report`"}, status_code=404)
    return FileResponse(path, media_type="application/json")


@app.get("/data-docs", response_model=None)
def data_docs_root() -> RedirectResponse:
    return RedirectResponse(f"{PLUGIN_URL_PREFIX}/data-docs/index.html")


@app.get("/data-docs/{path:path}", response_model=None)
def data_docs(path: str) -> FileResponse:
    root = DATA_DOCS_DIR.resolve()
    target = (root / (path or "index.html")).resolve()
    if target.is_dir():
        target = target / "index.html"
    # no escaping the Data Docs site with ../ (the site exists only after the first gate run)
    if not target.is_relative_to(root) or not target.is_file():
        raise HTTPException(status_code=404, detail="not found; Data Docs are written by each gate run")
    return FileResponse(target)


class HubQualityPlugin(AirflowPlugin):
    name = "hub_quality"
    fastapi_apps = [{"app": app, "url_prefix": PLUGIN_URL_PREFIX, "name": "govhub data quality"}]
    external_views = [
        {"name": "Data quality scorecard", "href": f"{PLUGIN_URL_PREFIX}/", "destination": "nav",
         "category": "govhub", "url_route": "hub-quality"},
        {"name": "GX Data Docs", "href": f"{PLUGIN_URL_PREFIX}/data-docs/index.html", "destination": "nav",
         "category": "govhub", "url_route": "hub-quality-data-docs"},
    ]
