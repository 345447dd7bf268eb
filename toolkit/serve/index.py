"""The bare host's pages: an HTML list of the endpoints and ``GET /api/endpoints`` as JSON."""

from __future__ import annotations

import html
import json

from toolkit.serve.routes import RouteTable


def endpoint_url(origin: str, host: str) -> str:
    """``http://localhost:8000`` + ``default--app-fn-dev`` -> ``http://default--app-fn-dev.localhost:8000``."""
    scheme, _, rest = origin.partition("://")
    return f"{scheme}://{host}.{rest}"


def endpoint_list(routes: RouteTable | None, origin: str) -> list[dict[str, str]]:
    if routes is None:
        return []
    return [{"function": e.tag, "label": e.label, "url": endpoint_url(origin, e.host)}
            for e in sorted(routes.endpoints.values(), key=lambda e: e.tag)]


def endpoints_json(routes: RouteTable | None, origin: str) -> bytes:
    return json.dumps(endpoint_list(routes, origin)).encode()


def _moved_rows(routes: RouteTable | None) -> str:
    """Endpoints a newer toolkit serve took over: not served here, so not links, but said where they went."""
    moved = sorted(routes.moved.values(), key=lambda m: m.tag) if routes else []
    return "".join(
        f'\n<li><code>{html.escape(m.tag)}</code> moved to a newer toolkit serve (pid {m.holder.process.pid}): '
        f'{html.escape(endpoint_url(m.holder.origin, m.host))}</li>' for m in moved)


def index_html(routes: RouteTable | None, origin: str) -> bytes:
    app = html.escape(routes.app_name if routes else "")
    rows = "\n".join(
        f'<li><a href="{html.escape(e["url"])}">{html.escape(e["url"])}</a> <code>{html.escape(e["function"])}</code></li>'
        for e in endpoint_list(routes, origin)
    ) or ("" if routes and routes.moved else "<li>This app has no web endpoints.</li>")
    rows += _moved_rows(routes)
    return (
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>toolkit serve: "
        f"{app}</title></head>\n<body><h1>{app}</h1>\n<p>Web endpoints served by toolkit serve "
        f"(<a href=\"/api/endpoints\">JSON</a>):</p>\n<ul>\n{rows}\n</ul>\n</body></html>\n"
    ).encode()
