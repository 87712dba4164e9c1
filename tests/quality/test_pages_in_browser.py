"""The quality pages in a real browser: headless Chromium (Debian's `chromium`) driven by Playwright.

The plugin's FastAPI app is served by uvicorn as the Airflow API server mounts it; the scorecard and the GX Data
Docs must load without console errors, show Chinese text in a CJK font, carry their charts, and refuse an
anonymous visitor. Where the browser cannot be installed the tests skip and say how to run them.
"""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time

import pytest
from fastapi import HTTPException, Request

from tests.plugins.test_hub_quality_plugin import load_plugin_module

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HOW = ("headless-browser tests need Debian's chromium and Playwright: `apt-get install -y chromium fonts-noto-cjk` "
       "and `pip install playwright` (`playwright install` downloads its own browser and cannot work offline)")
TOKEN = "hub-browser-test"


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip(f"no chromium on PATH: {HOW}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip(f"playwright is not installed: {HOW}")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def site(hub_env):
    """The plugin app on 127.0.0.1; a request is authenticated when it carries the test's bearer token (the
    real dependency — Airflow's JWT check — is exercised by tests/plugins)."""
    import uvicorn

    from govhub import airflow_env
    from govhub.quality.scorecard import build_scorecard

    airflow_env.configure()
    build_scorecard()
    plugin = load_plugin_module()
    plugin.app.dependency_overrides[plugin.authenticated] = authenticated
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(plugin.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)
    plugin.app.dependency_overrides.clear()


def authenticated(request: Request) -> None:
    if request.headers.get("authorization") != f"Bearer {TOKEN}":
        raise HTTPException(status_code=401, detail="Not authenticated")


def visit(browser, url: str, logged_in: bool = True, blocked: list[str] | None = None):
    """Open ``url``; with ``blocked`` (a list) every request off this machine is aborted and recorded there, as
    in a county data centre without internet access."""
    context = browser.new_context(extra_http_headers={"Authorization": f"Bearer {TOKEN}"} if logged_in else {})
    if blocked is not None:
        def offline(route) -> None:
            if route.request.url.startswith(("http://127.0.0.1", "data:", "blob:")):
                route.continue_()
            else:
                blocked.append(route.request.url)
                route.abort()

        context.route("**/*", offline)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    response = page.goto(url, wait_until="load")
    return context, page, response, errors


CJK_FONT = re.compile(r"CJK|Hei|Song|Ming|Kai|WenQuanYi|Droid Sans Fallback|Noto Sans (SC|TC|HK|JP|KR)", re.I)


def cjk_fonts_drawing(context, page, text: str) -> dict[str, int]:
    """Platform fonts (CJK ones only) that rendered the DOM nodes holding ``text``, with their glyph counts."""
    cdp = context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    cdp.send("DOM.getDocument", {"depth": -1})
    search = cdp.send("DOM.performSearch", {"query": text})
    found = cdp.send("DOM.getSearchResults", {"searchId": search["searchId"], "fromIndex": 0,
                                              "toIndex": search["resultCount"]})["nodeIds"]
    fonts: dict[str, int] = {}
    for node in found:
        for font in cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]:
            if CJK_FONT.search(font["familyName"]):
                fonts[font["familyName"]] = fonts.get(font["familyName"], 0) + font["glyphCount"]
    return fonts


def test_scorecard_loads_with_chinese_text_and_charts(browser, site):
    context, page, response, errors = visit(browser, f"{site}/")
    try:
        assert response.status == 200
        assert errors == []
        assert "县公安局" in page.inner_text("body")
        # the glyphs are drawn by a CJK font, not as boxes: the fonts Chromium actually used for the text (DevTools
        # protocol, CSS.getPlatformFontsForNode), whatever font the page asked for
        drawn_by = cjk_fonts_drawing(context, page, "县公安局")
        assert sum(drawn_by.values()) >= len("县公安局"), f"no CJK font drew the text ({drawn_by}); `make browser`"
        charts = page.locator("svg.trend")
        assert charts.count() >= 6
        box = charts.first.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 40
    finally:
        context.close()


def data_docs(browser, site, blocked: list[str] | None = None):
    from govhub.quality.scorecard import data_docs_dir

    if not (data_docs_dir() / "validations").is_dir():  # no gate has run in this test session (worker) yet
        validate_into_data_docs()
    return visit(browser, f"{site}/data-docs/index.html", blocked=blocked)


def validate_into_data_docs() -> None:
    """One real GX checkpoint run in the gate's file context, with the gate's UpdateDataDocsAction, so the site
    has a validation result page whatever ran before in this session (a pipeline pass would cost ~80 s)."""
    import great_expectations as gx
    import pandas as pd

    from govhub.quality.gate import _context

    context = _context()
    asset = context.data_sources.add_or_update_pandas("browser_test").add_dataframe_asset("grid_events")
    batch = asset.add_batch_definition_whole_dataframe("all")
    suite = context.suites.add_or_update(gx.ExpectationSuite("browser_test__grid_events", expectations=[
        gx.expectations.ExpectColumnValuesToNotBeNull(column="grid_code"),
        gx.expectations.ExpectColumnValuesToBeInSet(column="kind", value_set=["调解", "信访"])]))
    validation = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name="browser_test__grid_events", data=batch, suite=suite))
    checkpoint = context.checkpoints.add_or_update(gx.Checkpoint(
        name="browser_test", validation_definitions=[validation],
        actions=[gx.checkpoint.UpdateDataDocsAction(name="update_data_docs")]))
    frame = pd.DataFrame({"grid_code": ["341122001001001", "341122001001002"], "kind": ["调解", "信访"]})
    assert checkpoint.run(batch_parameters={"dataframe": frame}).success


def test_data_docs_are_served_and_render_their_text(browser, site):
    context, page, response, _ = data_docs(browser, site)
    try:
        assert response.status == 200
        assert "Validation Results" in page.inner_text("body")
    finally:
        context.close()


def test_data_docs_work_without_internet_access(browser, site):
    """GX's pages load jQuery, Bootstrap, bootstrap-table, Vega and Font Awesome from CDNs; the plugin serves
    vendored copies, so with every non-local request aborted the page runs its scripts and styles its table."""
    blocked: list[str] = []
    context, page, response, errors = data_docs(browser, site, blocked)
    try:
        assert response.status == 200
        assert blocked == [] and errors == []
        assert page.evaluate("typeof window.jQuery === 'function' && typeof window.vegaEmbed === 'function' "
                             "&& typeof jQuery.fn.bootstrapTable === 'function'")
        # bootstrap-table took over the results table (it wraps it), and Bootstrap's CSS styles the page
        assert page.locator(".bootstrap-table").count() >= 1
        assert page.evaluate("getComputedStyle(document.querySelector('nav.navbar')).display") == "flex"
        logo = page.locator("nav img").first
        assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", logo.element_handle())
    finally:
        context.close()


def test_an_anonymous_visitor_is_refused(browser, site):
    for path in ("/", "/scorecard.json", "/data-docs/index.html"):
        context, page, response, _ = visit(browser, f"{site}{path}", logged_in=False)
        try:
            assert response.status == 401, path
            assert "县" not in page.content()
        finally:
            context.close()
