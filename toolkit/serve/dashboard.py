"""The dashboard at the bare host of ``toolkit serve`` (``http://localhost:PORT/``) and its JSON API.

==========================  ============================================================
``GET /``                   the page (endpoints rendered in the HTML; the rest by its script)
``GET /api/endpoints``      function, label, url of each endpoint (unchanged, for scripts)
``GET /api/dashboard``      everything the page shows: apps, endpoints, functions, classes,
                            worker pools, schedules, recent requests and calls
``GET /api/logs``           the last lines workers printed (``function=``, ``after=SEQ``)
``GET /api/calls/<id>``     one call: arguments' summary, result or error with its traceback
``GET /api/events``         server-sent events: each request and each output line, live
                            (the page polls instead: headless tools wait for open requests)
``GET /_toolkit/static/*``  the page's files and the API-docs bundles (`dashboard_assets`)
==========================  ============================================================

Everything is served from this process, with no internet: the page uses no CDN.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import os
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from runtime.callstore.base import is_call_id
from runtime.gateway.limits import Rejection
from runtime.gateway.middleware import reject, send_record
from runtime.gateway.records import HTTPResponseRecord
from runtime.manifest import load
from runtime.types import Receive, Scope, Send
from toolkit.serve import index
from toolkit.serve.dashboard_assets import STATIC_PREFIX, asset
from toolkit.serve.dashboard_calls import call_detail, call_row

if TYPE_CHECKING:
    from toolkit.serve.gateway import ServeGateway

__all__ = ["dashboard_state", "handle"]

KEEPALIVE_S = 15.0  # an SSE comment this often, so a dead client is noticed and proxies keep the stream
_JSON = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]


async def handle(gateway: ServeGateway, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer one request to the bare host."""
    path: str = scope["path"]
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if path == "/":
        await _send(send, 200, page_html(gateway), "text/html; charset=utf-8")
    elif path == "/api/endpoints":
        await send_record(send, HTTPResponseRecord(200, [(b"content-type", b"application/json")],
                                                    index.endpoints_json(gateway.routes, gateway.origin)))
    elif path == "/api/dashboard":
        await send_record(send, HTTPResponseRecord(200, _JSON, json.dumps(dashboard_state(gateway)).encode()))
    elif path == "/api/logs":
        function, after = query.get("function", [None])[0], _int(query.get("after", ["0"])[0])
        lines = [asdict(line) for line in gateway.activity.recent_lines(function) if line.seq > after]
        await send_record(send, HTTPResponseRecord(200, _JSON, json.dumps(lines).encode()))
    elif path.startswith("/api/calls/"):
        await _call(gateway, path.removeprefix("/api/calls/"), scope, send)
    elif path == "/api/events":
        await _events(gateway, receive, send)
    elif path.startswith(STATIC_PREFIX) and (found := asset(path.removeprefix(STATIC_PREFIX))) is not None:
        await _send(send, 200, found[0], found[1], cache=True)
    else:
        await reject(scope, send, Rejection(404, f"Not found; the dashboard is at {gateway.origin}/"))


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


async def _send(send: Send, status: int, body: bytes, content_type: str, cache: bool = False) -> None:
    headers = [(b"content-type", content_type.encode()),
               (b"cache-control", b"max-age=3600" if cache else b"no-store")]
    await send_record(send, HTTPResponseRecord(status, headers, body))


# -- the state --------------------------------------------------------------------------------------
def dashboard_state(gateway: ServeGateway) -> dict[str, Any]:
    routes = gateway.routes
    manifest = load(routes.info.manifest) if routes else None
    functions = manifest.functions if manifest else ()
    return {
        "app": routes.app_name if routes else "",
        "origin": gateway.origin,
        "pid": os.getpid(),
        "apps": _apps(gateway.origin),
        "endpoints": _endpoints(gateway),
        "functions": [{"tag": f.tag, "kind": f.kind, "backend": f.backend, "is_generator": f.is_generator,
                       "schedule": f.schedule.to_dict() if f.schedule else None} for f in functions if not f.is_web],
        "classes": _classes(functions),
        "pools": _pools(gateway),
        "schedules": _schedules(gateway),
        "requests": [asdict(r) for r in list(gateway.activity.requests)[-100:]][::-1],
        "calls": _calls(gateway),
        "log_functions": sorted(gateway.activity.lines),
        "sandboxes": _sandboxes(),
    }


def _sandboxes() -> list[dict[str, Any]]:
    """The live sandboxes on this machine (toolkit.Sandbox; `toolkit sandbox list` shows the same)."""
    from toolkit.sandboxes import records

    return [{"id": r.sandbox_id, "app": r.app, "name": r.name, "image": r.image, "created_at": r.created_at,
             "tags": dict(r.tags), "tunnels": {str(p): f"http://127.0.0.1:{h}" for p, h in r.ports.items()}}
            for r in records.records() if records.load_end(r.sandbox_id) is None]


def _apps(origin: str) -> list[dict[str, Any]]:
    """Every live local serve (this one included), each with its dashboard."""
    from toolkit.serve.registry import ServeRegistry

    try:
        records = [r for r in ServeRegistry().read().records if r.process.alive()]
    except OSError:  # an unreadable registry hides the list, not the dashboard
        return []
    return [{"app": r.app, "origin": r.origin, "pid": r.process.pid, "this": r.origin == origin,
             "endpoints": len(r.labels)} for r in records]


def _endpoints(gateway: ServeGateway) -> list[dict[str, Any]]:
    routes = gateway.routes
    if routes is None:
        return []
    rows = []
    for endpoint in sorted(routes.endpoints.values(), key=lambda e: e.tag):
        url = index.endpoint_url(gateway.origin, endpoint.host)
        rows.append({"function": endpoint.tag, "label": endpoint.label, "url": url, "kind": endpoint.kind.value,
                     "method": _method(endpoint), "docs": f"{url}/docs" if endpoint.spec.docs else None,
                     "auth": endpoint.requires_proxy_auth, "max_containers": endpoint.max_containers})
    return rows


def _method(endpoint: Any) -> str:
    """What a browser may send: a fastapi_endpoint's one method; apps and servers route their own."""
    return endpoint.spec.method if endpoint.kind.value == "fastapi_endpoint" else "ANY"


def _classes(functions: Any) -> list[dict[str, Any]]:
    classes: dict[str, dict[str, Any]] = {}
    for f in functions:
        if f.cls is not None:
            entry = classes.setdefault(f.cls.name, {"name": f.cls.name, "methods": [],
                                                    "parameters": [p.name for p in f.cls.parameters]})
            entry["methods"].append(f.name)
    return list(classes.values())


def _pools(gateway: ServeGateway) -> list[dict[str, Any]]:
    rows = []
    for pool in list(gateway.pools.values()):
        live = [w for w in pool.workers if w.live]
        rows.append({"function": pool.endpoint.tag, "params": dict(pool.params) if pool.params else {},
                     "workers": len(live), "busy": sum(1 for w in live if w.inflight),
                     "inflight": sum(w.inflight for w in live), "starting": pool.starting, "waiting": pool.waiting,
                     "max": pool.max_workers, "error": pool.error})
    return rows


def _schedules(gateway: ServeGateway) -> list[dict[str, Any]]:
    runner = gateway.schedule_runner
    if runner is None:
        return []
    return [{"function": due.tag, "schedule": repr(due.schedule), "next_run": due.next_run.isoformat(),
             "runs": due.runs} for due in sorted(runner.due.values(), key=lambda d: d.next_run)]


def _calls(gateway: ServeGateway) -> list[dict[str, Any]]:
    recent: Callable[..., Any] | None = getattr(gateway.store, "recent", None)
    if recent is None or gateway.routes is None:
        return []
    return [call_row(record) for record in recent(gateway.routes.app_name, 50)]


async def _call(gateway: ServeGateway, call_id: str, scope: Scope, send: Send) -> None:
    record = gateway.store.get(call_id) if is_call_id(call_id) else None
    if record is None:
        await reject(scope, send, Rejection(404, f"No call {call_id!r} in this serve's call store."))
        return
    detail = call_detail(record, gateway.store.get_payload(call_id))
    await send_record(send, HTTPResponseRecord(200, _JSON, json.dumps(detail).encode()))


# -- live events ------------------------------------------------------------------------------------
async def _events(gateway: ServeGateway, receive: Receive, send: Send) -> None:
    """A ``text/event-stream`` of the activity until the client leaves (or the serve stops)."""
    queue = gateway.activity.subscribe()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-store")]})
    gone = asyncio.ensure_future(_disconnected(receive))
    try:
        await send({"type": "http.response.body", "body": b": live\n\n", "more_body": True})
        while not gone.done():
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({getter, gone}, timeout=KEEPALIVE_S, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                event = getter.result()
                body = f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()
            else:
                getter.cancel()
                body = b": keep-alive\n\n"
            if not gone.done():
                await send({"type": "http.response.body", "body": body, "more_body": True})
    except OSError:  # the client went away mid-write
        pass
    finally:
        gateway.activity.unsubscribe(queue)
        gone.cancel()
        with contextlib.suppress(Exception):
            await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


# -- the page ---------------------------------------------------------------------------------------
def page_html(gateway: ServeGateway) -> bytes:
    """The dashboard page, its endpoints table filled in (it reads without its script too)."""
    found = asset("dashboard.html")
    assert found is not None, "toolkit/serve/dashboard_static/dashboard.html is missing from the package"
    template = found[0].decode()
    app = html.escape(gateway.routes.app_name if gateway.routes else "")
    rows = "".join(_endpoint_row(e) for e in _endpoints(gateway)) or \
        '<tr><td colspan="5" class="empty">This app has no web endpoints.</td></tr>'
    moved = "".join(
        f"<li><code>{html.escape(m.tag)}</code> moved to a newer toolkit serve (pid {m.holder.process.pid}): "
        f"{html.escape(index.endpoint_url(m.holder.origin, m.host))}</li>"
        for m in (sorted(gateway.routes.moved.values(), key=lambda m: m.tag) if gateway.routes else []))
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return (template.replace("{{APP}}", app).replace("{{ENDPOINT_ROWS}}", rows)
            .replace("{{MOVED}}", f"<ul class='moved'>{moved}</ul>" if moved else "")
            .replace("{{RENDERED}}", started)).encode()


def _endpoint_row(e: dict[str, Any]) -> str:
    url = html.escape(e["url"])
    docs = f'<a href="{html.escape(e["docs"])}">docs</a>' if e["docs"] else "—"
    auth = '<span class="badge auth">proxy auth</span>' if e["auth"] else '<span class="badge">public</span>'
    return (f'<tr><td><code>{html.escape(e["function"])}</code></td>'
            f'<td><span class="method">{html.escape(e["method"])}</span></td>'
            f'<td><a href="{url}">{url}</a></td><td>{docs}</td><td>{auth}</td></tr>')
