"""GX Data Docs without internet access: vendored copies of the CSS/JS its pages load from CDNs.

GX 1.x renders every Data Docs page with ``<script>``/``<link>`` tags pointing at CDNs and its logo at an S3
bucket. The plugin serves the copies in ``data_docs_vendor/`` (sources and licences in its README) and rewrites
each Data Docs page as it serves it (:func:`rewrite`), so the generated site stays GX's own and pages built before
this change work too. The rewrite also drops ``integrity``/``crossorigin`` attributes (the copies are byte-identical
to the packages on npm, but a served-from-the-same-origin asset needs neither) and GX's tracking query on the logo.
"""

from __future__ import annotations

import re
from pathlib import Path

VENDOR_DIR = Path(__file__).with_name("data_docs_vendor")

# CDN URL (as GX's templates write it) -> file under VENDOR_DIR
VENDORED: dict[str, str] = {
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery-3.7.1/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper.js-1.12.9/popper.min.js",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap-4.3.1/bootstrap.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap-4.3.1/bootstrap.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "bootstrap-table-1.19.1/bootstrap-table.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css":
        "bootstrap-table-1.19.1/bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
        "bootstrap-table-1.19.1/bootstrap-table-filter-control.min.js",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        "bootstrap-table-1.19.1/bootstrap-table-filter-control.min.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
        "bootstrap-table-1.19.1/bootstrap-table-filter-control.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
        "bootstrap-datepicker-1.9.0/bootstrap-datepicker.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        "bootstrap-datepicker-1.9.0/bootstrap-datepicker.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "fontawesome-free-6.6.0/css/all.min.css",
    "https://cdn.jsdelivr.net/npm/vega@5": "vega-5.33.1/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite-5.23.0/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed-6.29.0/vega-embed.min.js",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css":
        "bootstrap-dark-1.1.0/bootstrap-prefers-dark.min.css",
}
GX_IMAGES = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"
# a URL a page *loads* (script/link/img), as opposed to a link a person may follow (<a href>)
LOADED_URL = re.compile(r"<(?:script|link|img)\b[^>]*?\b(?:src|href)=[\"'](https?://[^\"']+)[\"']", re.I)
_SRI = re.compile(r"\s+(?:integrity|crossorigin)=(?:\"[^\"]*\"|'[^']*'|\S+)", re.I)
_TAG = re.compile(r"<(?:script|link)\b[^>]*>", re.I)


def rewrite(html: str, vendor_url: str, images_url: str) -> str:
    """``html`` with every vendored CDN URL replaced by ``vendor_url`` + its file, GX's S3 logo by ``images_url``
    (the site's own ``static/images/``), and subresource-integrity attributes dropped from the rewritten tags."""
    for cdn, local in VENDORED.items():
        html = html.replace(f'"{cdn}"', f'"{vendor_url.rstrip("/")}/{local}"')
    html = re.sub(re.escape(GX_IMAGES) + r"([\w.-]+)(\?[^\"']*)?", lambda m: images_url.rstrip("/") + "/" + m.group(1),
                  html)
    return _TAG.sub(lambda m: _SRI.sub("", m.group(0)) if vendor_url in m.group(0) else m.group(0), html)


def external_loads(html: str) -> list[str]:
    """URLs outside this server that a page would still load (empty after :func:`rewrite`)."""
    return sorted(set(LOADED_URL.findall(html)))


def vendored_file(path: str) -> Path | None:
    """The vendored file at ``path`` (relative), or None when it is not one (no escaping the directory)."""
    root = VENDOR_DIR.resolve()
    target = (root / path).resolve()
    if not target.is_relative_to(root) or not target.is_file() or target.suffix == ".md":
        return None
    return target
