"""The serve gateway: one ASGI app on one port, routing by Host to each endpoint's workers.

Per request, in order: route by Host (400 malformed, 404 unknown, the index for the bare
host); the shared front-door checks of `runtime.gateway` (rate limit 429, proxy auth 401,
declared body size 413); a result URL is answered from the call store; otherwise the
request goes to a worker of the pool for its class parameters, and if no response has
started when the budget runs out, the client gets 303 to its result URL while the work
goes on (`runtime.gateway.detach`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import parse_qsl

from runtime.callstore.base import CallStore
from runtime.gateway.auth import TokenVerifier
from runtime.gateway.budget import DEFAULT_BUDGET_S, RESULT_QUERY_PARAM, result_call_id
from runtime.gateway.detach import DetachedCalls, see_other
from runtime.gateway.limits import (
    DEFAULT_BURST_SECONDS,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_RATE_PER_SECOND,
    Rejection,
    TokenBucket,
    check_body_size,
)
from runtime.gateway.middleware import Gateway, GatewayPolicy, _reject, _send_record, _text
from runtime.gateway.records import HTTPRequestRecord, HTTPResponseRecord
from runtime.types import Receive, Scope, Send
from toolkit.exception import InvalidError
from toolkit.functions import Params
from toolkit.serve import index
from toolkit.serve.proxy import (
    BodyTooLarge,
    RequestBody,
    collect_http,
    open_http,
    proxy_websocket,
    stream_http,
)
from toolkit.serve.routes import BadHostError, Endpoint, RouteTable, host_label
from toolkit.serve.upstream import UpstreamError, UpstreamResponse
from toolkit.serve.workers import Launcher, PortLeases, Worker, WorkerPool, WorkerStartError

BACKEND_NAME = "toolkit serve"  # named in 413 messages
WS_POLICY_VIOLATION = 1008
WS_INTERNAL_ERROR = 1011
T = TypeVar("T")


@dataclass(frozen=True)
class GatewayLimits:
    budget: float = DEFAULT_BUDGET_S
    rate: float = DEFAULT_RATE_PER_SECOND
    burst_seconds: float = DEFAULT_BURST_SECONDS
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES


class ServeGateway:
    def __init__(self, origin: str, limits: GatewayLimits, tokens: TokenVerifier, store: CallStore,
                 ports: PortLeases, log: Callable[[str], None] = lambda _m: None) -> None:
        self.origin, self.limits, self.tokens, self.ports, self.log = origin, limits, tokens, ports, log
        self.store = store
        self.bucket = TokenBucket(limits.rate, limits.burst_seconds)  # one per workspace, shared by endpoints
        self.routes: RouteTable | None = None
        self.fronts: dict[str, Gateway] = {}
        self.pools: dict[tuple[str, Params], WorkerPool] = {}
        self.detached = DetachedCalls(store, "")
        self.launcher: Launcher | None = None  # `toolkit serve --containers`: pools start containers

    # -- generations --------------------------------------------------------------------------
    async def install(self, routes: RouteTable) -> None:
        """Serve ``routes`` from now on; the previous pools finish their requests, then stop."""
        old, self.pools = self.pools, {}
        self.routes = routes
        self.fronts = {host: self._front(e) for host, e in routes.endpoints.items()}
        self.detached.app_name = routes.app_name
        await asyncio.gather(*(pool.close() for pool in old.values()))

    def _front(self, endpoint: Endpoint) -> Gateway:
        policy = GatewayPolicy(function=endpoint.tag, timeout=endpoint.timeout, budget=self.limits.budget,
                               max_body_bytes=self.limits.max_body_bytes, backend_name=BACKEND_NAME,
                               requires_proxy_auth=endpoint.requires_proxy_auth, tokens=self.tokens,
                               rate_limiter=self.bucket)
        return Gateway(_unused_app, policy)

    def pool_for(self, endpoint: Endpoint, params: Params) -> WorkerPool:
        key = (endpoint.host, params)
        pool = self.pools.get(key)
        if pool is None:
            assert self.routes is not None
            pool = WorkerPool(endpoint, params, self.routes.info.sys_path, self.ports,
                              {**endpoint.source.env, "TOOLKIT_SERVE_ORIGIN": self.origin}, self.log,
                              self.launcher)
            self.pools[key] = pool
        return pool

    async def reap(self) -> None:
        await asyncio.gather(*(pool.reap() for pool in list(self.pools.values())))

    async def shutdown(self) -> None:
        pools, self.pools = list(self.pools.values()), {}
        for pool in pools:
            await pool.close()
        await asyncio.gather(*(w.stop() for pool in pools for w in list(pool.workers)))

    # -- ASGI ---------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return
        try:
            label = host_label(_header(scope, b"host"))
        except BadHostError as exc:
            await _reject(scope, send, Rejection(400, f"{exc} Use the URL toolkit serve printed."))
            return
        if label is None:
            await self._index(scope, send)
            return
        endpoint = self.routes.endpoints.get(label) if self.routes else None
        if endpoint is None:
            await _reject(scope, send, Rejection(404, f"No endpoint is served at {label!r}; "
                                                      f"the served endpoints are listed at {self.origin}/"))
            return
        rejection = self.fronts[label].admit(scope)
        if rejection is not None:
            await _reject(scope, send, rejection)
        elif scope["type"] == "websocket":
            await self._websocket(endpoint, scope, receive, send)
        else:
            await self._http(endpoint, scope, receive, send)

    async def _index(self, scope: Scope, send: Send) -> None:
        if scope["type"] != "http":
            await _reject(scope, send, Rejection(404, "No WebSocket here."))
        elif scope["path"] == "/api/endpoints":
            await _send_record(send, HTTPResponseRecord(200, [(b"content-type", b"application/json")],
                                                        index.endpoints_json(self.routes, self.origin)))
        elif scope["path"] == "/":
            await _send_record(send, HTTPResponseRecord(200, [(b"content-type", b"text/html; charset=utf-8")],
                                                        index.index_html(self.routes, self.origin)))
        else:
            await _reject(scope, send, Rejection(404, f"Not found; the endpoints are listed at {self.origin}/"))

    # -- HTTP ---------------------------------------------------------------------------------
    async def _http(self, endpoint: Endpoint, scope: Scope, receive: Receive, send: Send) -> None:
        call_id = _result_call_id(scope.get("query_string", b""))
        if call_id is not None:
            request = HTTPRequestRecord.from_scope(scope, b"")
            await _send_record(send, await self.detached.answer(endpoint.tag, call_id, request, self.limits.budget))
            return
        body = RequestBody(receive, self.limits.max_body_bytes)
        opening = asyncio.ensure_future(self._open(endpoint, scope, body))
        if not await settles_within(opening, self.limits.budget):
            call_id = await self.detached.detach(endpoint.tag, self._finish(endpoint, opening))
            await _send_record(send, see_other(HTTPRequestRecord.from_scope(scope, b""), call_id))
            return
        try:
            pool, worker, response = opening.result()
        except Exception as exc:
            await _send_record(send, self._failure(endpoint, exc))
            return
        try:
            await stream_http(response, receive, send, body)
        finally:
            await response.aclose()
            await pool.release(worker)

    async def _open(self, endpoint: Endpoint, scope: Scope,
                    body: RequestBody) -> tuple[WorkerPool, Worker, UpstreamResponse]:
        pool, worker = await self._acquire(endpoint, scope)
        try:
            return pool, worker, await open_http(worker, scope, body)
        except UpstreamError:
            await pool.release(worker, broken=True)
            raise
        except BaseException:
            await pool.release(worker)
            raise

    async def _acquire(self, endpoint: Endpoint, scope: Scope) -> tuple[WorkerPool, Worker]:
        params: Params = ()
        if endpoint.cls is not None:
            params = endpoint.params_for(dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"))))
        while True:
            pool = self.pool_for(self._current(endpoint), params)
            try:
                return pool, await pool.acquire()
            except WorkerStartError:
                if not pool.closed:
                    raise  # a pool closed by a reload sends its waiting requests to the new one

    def _current(self, endpoint: Endpoint) -> Endpoint:
        routes = self.routes
        return routes.endpoints.get(endpoint.host, endpoint) if routes else endpoint

    async def _finish(self, endpoint: Endpoint,
                      opening: asyncio.Future[tuple[WorkerPool, Worker, UpstreamResponse]]) -> HTTPResponseRecord:
        """Drive a detached request to its end and keep its whole response (or the failure's)."""
        try:
            pool, worker, response = await opening
        except Exception as exc:
            return self._failure(endpoint, exc)
        try:
            return await collect_http(response)
        finally:
            await pool.release(worker)

    def _failure(self, endpoint: Endpoint, exc: Exception) -> HTTPResponseRecord:
        if isinstance(exc, InvalidError):
            return _text(400, str(exc))
        if isinstance(exc, BodyTooLarge):
            rejection = check_body_size(exc.seen, self.limits.max_body_bytes, BACKEND_NAME)
            return _text(413, rejection.message if rejection else "Request body too large.")
        if isinstance(exc, WorkerStartError):
            return _text(500, f"{endpoint.tag} could not start: {exc}")
        if isinstance(exc, UpstreamError):
            self.log(f"{endpoint.tag}: the worker went away mid-request ({type(exc).__name__})")
            return _text(500, f"The worker serving {endpoint.tag} stopped while handling this request "
                              "(it crashed or exited); the next request starts a new one.")
        raise exc

    # -- WebSockets ---------------------------------------------------------------------------
    async def _websocket(self, endpoint: Endpoint, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            pool, worker = await self._acquire(endpoint, scope)
        except (InvalidError, WorkerStartError) as exc:
            code = WS_POLICY_VIOLATION if isinstance(exc, InvalidError) else WS_INTERNAL_ERROR
            await send({"type": "websocket.close", "code": code, "reason": str(exc)[:120]})
            return
        try:
            await proxy_websocket(worker, scope, receive, send)  # one input slot for the connection's life
        finally:
            await pool.release(worker)


def _result_call_id(query: bytes) -> str | None:
    # parsing the query string of every request only to find no result parameter costs more
    # than the rest of the routing: look for the name first (a "%" may be hiding it)
    return result_call_id(query) if RESULT_QUERY_PARAM.encode() in query or b"%" in query else None


async def settles_within(work: asyncio.Future[T], seconds: float) -> bool:
    """`runtime.gateway.detach.within_budget` with one timer and no sets: it runs for every request."""
    if work.done():
        return True
    waiter = asyncio.get_running_loop().create_future()

    def wake(_: object) -> None:
        if not waiter.done():
            waiter.set_result(None)

    timer = waiter.get_loop().call_later(seconds, wake, None)
    work.add_done_callback(wake)
    try:
        await waiter
    finally:
        timer.cancel()
        work.remove_done_callback(wake)
    return work.done()


async def _unused_app(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("the serve gateway only uses Gateway.admit(); requests go to workers")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if bytes(key).lower() == name:
            return bytes(value).decode("latin-1")
    return None
