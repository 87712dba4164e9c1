"""Vendored Data Docs assets: every URL GX's templates load from outside is mapped to a shipped file with its
licence, and the plugin serves them (the browser test checks a real page offline)."""

from __future__ import annotations

from pathlib import Path

import great_expectations
import pytest

from govhub.quality import data_docs_assets as assets

TEMPLATES = Path(great_expectations.__file__).parent / "render" / "view" / "templates"


def test_every_external_asset_of_gx_templates_is_vendored():
    texts = {p.name: p.read_text(encoding="utf-8") for p in TEMPLATES.glob("*.j2")}
    loaded = {url for text in texts.values() for url in assets.external_loads(text)}
    assert "https://code.jquery.com/jquery-3.7.1.min.js" in loaded  # the scan finds what GX loads
    # the logo's URL is assembled in Jinja ({{ static_images_dir + ... }}), so it is checked on a rendered tag
    left = {url for text in texts.values()
            for url in assets.external_loads(assets.rewrite(text, "/hub-quality/vendor", "/img"))}
    assert left == set(), f"GX loads assets the hub does not vendor (add them to data_docs_assets.VENDORED): {left}"
    logo = ('<img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=1&m=2">')
    assert assets.rewrite(logo, "/v", "/hub-quality/data-docs/static/images") == \
        '<img src="/hub-quality/data-docs/static/images/logo-long.png">'


def test_rewrite_drops_integrity_of_rewritten_tags_only():
    html = ('<script src="https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js" '
            'integrity="sha384-x" crossorigin="anonymous"></script><script src="https://other.example/a.js" '
            'integrity="sha384-y"></script>')
    out = assets.rewrite(html, "/hub-quality/vendor", "/img")
    assert '<script src="/hub-quality/vendor/bootstrap-4.3.1/bootstrap.min.js"></script>' in out
    assert 'integrity="sha384-y"' in out and assets.external_loads(out) == ["https://other.example/a.js"]


def test_vendored_files_exist_with_their_licences():
    for local in assets.VENDORED.values():
        assert (assets.VENDOR_DIR / local).is_file(), local
    for directory in {Path(v).parts[0] for v in assets.VENDORED.values()}:
        licences = list((assets.VENDOR_DIR / directory).glob("LICENSE*"))
        readme = (assets.VENDOR_DIR / "README.md").read_text(encoding="utf-8")
        assert licences or "ships no licence file" in readme.split(f"`{directory}`")[1].split("\n")[0], directory
    # Font Awesome's CSS finds its fonts next to it
    css = (assets.VENDOR_DIR / "fontawesome-free-6.6.0" / "css" / "all.min.css").read_text(encoding="utf-8")
    assert "../webfonts/fa-solid-900.woff2" in css
    assert (assets.VENDOR_DIR / "fontawesome-free-6.6.0" / "webfonts" / "fa-solid-900.woff2").is_file()


@pytest.fixture(scope="module")
def client(hub_env):
    from fastapi.testclient import TestClient

    from govhub import airflow_env
    from tests.plugins.test_hub_quality_plugin import load_plugin_module

    airflow_env.configure()
    plugin = load_plugin_module()
    plugin.app.dependency_overrides[plugin.authenticated] = lambda: None
    yield TestClient(plugin.app)
    plugin.app.dependency_overrides.clear()


def test_the_plugin_serves_vendored_assets_and_nothing_else(client, tmp_path, monkeypatch):
    response = client.get("/vendor/jquery-3.7.1/jquery.min.js")
    assert response.status_code == 200 and response.content.startswith(b"/*! jQuery v3.7.1")
    for path in ("/vendor/../data_docs_assets.py", "/vendor/README.md", "/vendor/%2e%2e/scorecard.py",
                 "/vendor/nothing.js"):
        assert client.get(path).status_code == 404, path
