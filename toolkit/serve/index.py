"""The endpoints as the bare host lists them: ``GET /api/endpoints`` (JSON) and their URLs.

The page at the bare host is the dashboard (`toolkit.serve.dashboard`)."""

from __future__ import annotations

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
