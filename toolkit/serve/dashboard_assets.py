"""Files the bare host serves under ``/_toolkit/static/``: the dashboard's own, and the Swagger UI /
ReDoc bundles FastAPI's ``/docs`` and ``/redoc`` pages load, so they work with no internet.

The API-docs bundles come from the ``fastapi-offline`` package (MIT; Swagger UI, ReDoc).  Local
workers point FastAPI's docs pages at them with `use_offline_docs`, which replaces the CDN URLs
that are the defaults of ``fastapi.openapi.docs.get_swagger_ui_html``/``get_redoc_html``, so the
app's own FastAPI apps (``docs=True`` endpoints and ``asgi_app`` FastAPI apps) get them too.
"""

from __future__ import annotations

import mimetypes
from importlib import resources
from importlib.resources.abc import Traversable

__all__ = ["STATIC_PREFIX", "asset", "use_offline_docs"]

STATIC_PREFIX = "/_toolkit/static/"
_DASHBOARD_FILES = ("dashboard.html", "dashboard.js", "dashboard.css")
_DOCS_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".html": "text/html; charset=utf-8", ".png": "image/png"}


def _file(name: str) -> Traversable | None:
    if name in _DASHBOARD_FILES:
        return resources.files("toolkit.serve").joinpath("dashboard_static").joinpath(name)
    if name in _DOCS_FILES:
        return resources.files("fastapi_offline").joinpath("static").joinpath(name)
    return None  # only these names: a path from the URL never reaches the file system


def asset(name: str) -> tuple[bytes, str] | None:
    """The file ``name`` and its content type, or None when there is no such asset."""
    found = _file(name)
    if found is None or not found.is_file():
        return None
    suffix = "." + name.rpartition(".")[2]
    return found.read_bytes(), _TYPES.get(suffix) or mimetypes.types_map.get(suffix, "application/octet-stream")


def use_offline_docs(origin: str | None) -> None:
    """Make FastAPI's /docs and /redoc pages in this process load their bundles from the serve at ``origin``."""
    if not origin:
        return
    from fastapi.openapi import docs

    base = origin.rstrip("/") + STATIC_PREFIX
    swagger = docs.get_swagger_ui_html.__kwdefaults__
    redoc = docs.get_redoc_html.__kwdefaults__
    if swagger is None or redoc is None:  # a FastAPI whose docs functions changed shape: keep the CDN
        return
    swagger.update(swagger_js_url=base + "swagger-ui-bundle.js", swagger_css_url=base + "swagger-ui.css",
                   swagger_favicon_url=base + "favicon.png")
    redoc.update(redoc_js_url=base + "redoc.standalone.js", redoc_favicon_url=base + "favicon.png",
                 with_google_fonts=False)
