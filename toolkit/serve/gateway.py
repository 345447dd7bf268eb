"""The serve gateway: one port, routing by Host to each endpoint's workers.

Per request, in order: route by Host (400 malformed, 404 unknown, the index for the bare
host); the shared front-door checks of `runtime.gateway` (rate limit 429, proxy auth 401,
declared body size 413); a result URL is answered from the call store; otherwise the
request goes to a worker of the pool for its class parameters.

* Budget: if no response has started when it runs out, the client gets 303 to its result
  URL while the work goes on (`runtime.gateway.detach`).
* Timeout: a request still running at its function's ``timeout`` is ended, as it would be
  on AWS: 504 naming the function and the fix if nothing was sent yet (at the result URL
  for a detached request), else its connection is cut.  The work stops: a worker that takes
  one input at a time, or runs sync code that cannot be interrupted, is stopped and
  replaced (`stops_worker_on_timeout`); an async request in a ``@concurrent`` worker is
  cancelled there alone (`toolkit.serve.web_worker`).  A WebSocket connection is an input
  too: its whole life is bounded by the timeout, as on the hosted platform.

Two front ends share these decisions.  Plain HTTP requests to endpoints are relayed below
ASGI by `toolkit.serve.relay` (the gateway's throughput); this module's ASGI app, served by
uvicorn, answers the rest: the index, bad hosts, result URLs and WebSockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from runtime.adapters.base import WebKind
from runtime.callstore.base import CallStore
from runtime.gateway.auth import TokenVerifier
from runtime.gateway.budget import DEFAULT_BUDGET_S, RESULT_QUERY_PARAM, result_call_id
from runtime.gateway.detach import DetachedCalls
from runtime.gateway.limits import (
    DEFAULT_BURST_SECONDS,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_RATE_PER_SECOND,
    Rejection,
    TokenBucket,
)
from runtime.gateway.middleware import Gateway, GatewayPolicy, reject, send_record, text_response
from runtime.gateway.records import HTTPRequestRecord, HTTPResponseRecord
from runtime.params import Params
from runtime.types import Receive, Scope, Send
from toolkit.exception import InvalidError
from toolkit.serve import dashboard
from toolkit.serve.dashboard_activity import Activity
from toolkit.serve.deadlines import Deadlines
from toolkit.serve.proxy import proxy_websocket
from toolkit.serve.routes import BadHostError, Endpoint, RouteTable, host_label
from toolkit.serve.takeover import answer_moved
from toolkit.serve.upstream import UpstreamError
from toolkit.serve.workers import Launcher, PortLeases, WebWorker, WebWorkerPool, WorkerStartError

SERVED_BY = "toolkit serve"  # named in 413 messages
WS_POLICY_VIOLATION = 1008
WS_INTERNAL_ERROR = 1011
HOST_CACHE_SIZE = 256  # Host header values remembered with their endpoint (a client may send any)
_NOT_AN_ENDPOINT = object()


@dataclass(frozen=True)
class GatewayLimits:
    budget: float = DEFAULT_BUDGET_S
    rate: float = DEFAULT_RATE_PER_SECOND
    burst_seconds: float = DEFAULT_BURST_SECONDS
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES


class ServeGateway:
    served_by = SERVED_BY

    def __init__(self, origin: str, limits: GatewayLimits, tokens: TokenVerifier, store: CallStore,
                 ports: PortLeases, log: Callable[[str], None] = lambda _m: None) -> None:
        self.origin, self.limits, self.tokens, self.ports, self.log = origin, limits, tokens, ports, log
        self.store = store
        self.bucket = TokenBucket(limits.rate, limits.burst_seconds)  # one per workspace, shared by endpoints
        self.routes: RouteTable | None = None
        self.fronts: dict[str, Gateway] = {}
        self.pools: dict[tuple[str, Params], WebWorkerPool] = {}
        self.detached = DetachedCalls(store, "")
        # every request's budget and timeout (two sets: each keyed by request, and they may be equal)
        self.budgets, self.timeouts = Deadlines(), Deadlines()
        self.launcher: Launcher | None = None  # `toolkit serve --containers`: pools start containers
        self._hosts: dict[bytes | None, object] = {}  # Host header -> Endpoint, or _NOT_AN_ENDPOINT
        self._background: set[asyncio.Future[Any]] = set()
        self.activity = Activity()  # requests and workers' output: the terminal and the dashboard
        self._closing: list[WebWorkerPool] = []  # the pools `shutdown` is stopping
        self.schedule_runner: Any = None  # the serve's ScheduleRunner, for the dashboard's next runs

    # -- generations --------------------------------------------------------------------------
    async def install(self, routes: RouteTable) -> None:
        """Serve ``routes`` from now on; the previous pools finish their requests, then stop."""
        old, self.pools = self.pools, {}
        self.routes = routes
        self.fronts = {host: self._front(e) for host, e in routes.endpoints.items()}
        self._hosts = {}
        self.detached.app_name = routes.app_name
        await asyncio.gather(*(pool.close() for pool in old.values()))

    async def withdraw(self, routes: RouteTable) -> None:
        """Serve ``routes``, the current table less some endpoints (a newer serve took them over):
        only those endpoints' pools close (they finish their requests); the others keep running."""
        self.routes = routes
        self._hosts = {}
        self.fronts = {host: front for host, front in self.fronts.items() if host in routes.endpoints}
        gone = [key for key in self.pools if key[0] not in routes.endpoints]
        await asyncio.gather(*(self.pools.pop(key).close() for key in gone))

    def _front(self, endpoint: Endpoint) -> Gateway:
        policy = GatewayPolicy(function=endpoint.tag, timeout=endpoint.timeout, budget=self.limits.budget,
                               max_body_bytes=self.limits.max_body_bytes, served_by=SERVED_BY,
                               requires_proxy_auth=endpoint.requires_proxy_auth, tokens=self.tokens,
                               rate_limiter=self.bucket)
        return Gateway(_unused_app, policy)

    def pool_for(self, endpoint: Endpoint, params: Params) -> WebWorkerPool:
        key = (endpoint.host, params)
        pool = self.pools.get(key)
        if pool is None:
            assert self.routes is not None
            pool = WebWorkerPool(endpoint, params, self.routes.info.sys_path, self.ports,
                              {**endpoint.source.env, "TOOLKIT_SERVE_ORIGIN": self.origin}, self.log,
                              self.launcher, output=self.activity.output_for(endpoint.tag))
            self.pools[key] = pool
        return pool

    async def reap(self) -> None:
        await asyncio.gather(*(pool.reap() for pool in list(self.pools.values())))

    def inflight(self) -> int:
        """Requests the workers are answering now."""
        return sum(w.inflight for pool in self.pools.values() for w in pool.workers)

    def kill_workers(self) -> int:
        """Ctrl-C twice: every worker's session (what it started too) gets SIGKILL now; how many."""
        killed = 0
        for pool in [*self.pools.values(), *self._closing]:
            for worker in pool.workers:
                if worker.proc.returncode is None:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(worker.proc.pid, signal.SIGKILL)  # started with start_new_session
                        killed += 1
        return killed

    async def shutdown(self) -> None:
        pools, self.pools = list(self.pools.values()), {}
        self._closing = pools  # still reachable by kill_workers while they stop
        for pool in pools:
            await pool.close()
        await asyncio.gather(*(w.stop() for pool in pools for w in list(pool.workers)))

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run ``work`` in the background, held until it ends (the loop keeps only weak references)."""
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- decisions shared by the relay and the ASGI app ----------------------------------------------
    def relay_endpoint(self, headers: list[tuple[bytes, bytes]], url: bytes) -> Endpoint | None:
        """The endpoint a plain HTTP request goes to, or None when the ASGI app answers it (the
        index, a bad or unknown host, a result URL).  ``headers`` have lower-case names."""
        host = None
        for name, value in headers:
            if name == b"host":
                host = value
                break
        endpoint = self._hosts.get(host)
        if endpoint is None:
            endpoint = self._endpoint_for_host(host)
        if endpoint is _NOT_AN_ENDPOINT:
            return None
        query = url.partition(b"?")[2]
        if query and _result_call_id(query) is not None:
            return None
        return endpoint  # type: ignore[return-value]

    def _endpoint_for_host(self, host: bytes | None) -> object:
        try:
            label = host_label(host.decode("latin-1") if host is not None else None)
        except BadHostError:
            label = None
        routes = self.routes
        endpoint = routes.endpoints.get(label, _NOT_AN_ENDPOINT) if routes and label else _NOT_AN_ENDPOINT
        if len(self._hosts) >= HOST_CACHE_SIZE:
            self._hosts.clear()
        self._hosts[host] = endpoint
        return endpoint

    def admit(self, endpoint: Endpoint, scope: Scope) -> Rejection | None:
        """`runtime.gateway`'s checks that need no body: rate limit, proxy auth, declared size."""
        return self.fronts[endpoint.host].admit(scope)

    def try_acquire(self, endpoint: Endpoint, query: bytes) -> tuple[WebWorkerPool, WebWorker] | None:
        """A worker slot now, or None when getting one means waiting (raises InvalidError for bad
        class parameters, WorkerStartError when the pool cannot start workers)."""
        pool = self.pool_for(self._current(endpoint), self._params(endpoint, query))
        worker = pool.try_acquire()
        return (pool, worker) if worker is not None else None

    async def acquire(self, endpoint: Endpoint, query: bytes) -> tuple[WebWorkerPool, WebWorker]:
        params = self._params(endpoint, query)
        while True:
            pool = self.pool_for(self._current(endpoint), params)
            try:
                return pool, await pool.acquire()
            except WorkerStartError:
                if not pool.closed:
                    raise  # a pool closed by a reload sends its waiting requests to the new one

    @staticmethod
    def _params(endpoint: Endpoint, query: bytes) -> Params:
        if endpoint.cls is None:
            return ()
        return endpoint.params_for(dict(parse_qsl(query.decode("latin-1"))))

    def _current(self, endpoint: Endpoint) -> Endpoint:
        routes = self.routes
        return routes.endpoints.get(endpoint.host, endpoint) if routes else endpoint

    def failure(self, endpoint: Endpoint, exc: Exception) -> HTTPResponseRecord:
        """The response for a request that could not reach its function, or lost its worker."""
        if isinstance(exc, InvalidError):
            return text_response(400, str(exc))
        if isinstance(exc, WorkerStartError):
            return text_response(500, f"{endpoint.tag} could not start: {exc}")
        if isinstance(exc, UpstreamError):
            self.log(f"{endpoint.tag}: the worker went away mid-request ({exc})")
            return text_response(500, f"The worker serving {endpoint.tag} stopped while handling this request "
                              "(it crashed or exited); the next request starts a new one.")
        raise exc

    @staticmethod
    def timeout_response(endpoint: Endpoint) -> HTTPResponseRecord:
        return text_response(504, timeout_message(endpoint))

    @staticmethod
    def stops_worker_on_timeout(endpoint: Endpoint) -> bool:
        """Whether ending a timed-out request takes its worker down (else only the request ends).

        One input at a time: the worker is the input's, as a container is on the platform.  In
        a ``@concurrent`` worker, closing the request's connection cancels an async request
        (`toolkit.serve.web_worker`), but a sync handler runs in a thread that Python cannot
        interrupt: that worker takes no new requests and stops once its others finish.  An
        asgi_app or a web_server may mix both; its request's connection is closed and its own
        code decides (documented).
        """
        if endpoint.max_inputs <= 1:
            return True
        return endpoint.kind is WebKind.WSGI_APP or (endpoint.kind is WebKind.FASTAPI_ENDPOINT
                                                     and not endpoint.is_async)

    # -- ASGI: what the relay leaves ---------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return
        try:
            label = host_label(_header(scope, b"host"))
        except BadHostError as exc:
            await reject(scope, send, Rejection(400, f"{exc} Use the URL toolkit serve printed."))
            return
        if label is None:
            await self._index(scope, receive, send)
            return
        endpoint = self.routes.endpoints.get(label) if self.routes else None
        if endpoint is None:
            if self.routes is not None and (moved := self.routes.moved.get(label)) is not None:
                await answer_moved(moved, scope, send)  # a newer toolkit serve took it over: 307 there
                return
            await reject(scope, send, Rejection(404, f"No endpoint is served at {label!r}; "
                                                      f"the served endpoints are listed at {self.origin}/"))
            return
        rejection = self.fronts[label].admit(scope)
        if rejection is not None:
            await reject(scope, send, rejection)
        elif scope["type"] == "websocket":
            await self._websocket(endpoint, scope, receive, send)
        else:
            await self._result(endpoint, scope, send)

    async def _index(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await reject(scope, send, Rejection(404, "No WebSocket here."))
        else:  # the dashboard and its API (`toolkit.serve.dashboard`)
            await dashboard.handle(self, scope, receive, send)

    async def _result(self, endpoint: Endpoint, scope: Scope, send: Send) -> None:
        """A GET of a result URL: the detached request's response, or another 303."""
        call_id = _result_call_id(scope.get("query_string", b""))
        if call_id is None:  # endpoint requests are relayed (`toolkit.serve.relay`); this server does not
            await reject(scope, send, Rejection(500, "This server does not relay requests to endpoints: "
                                                      "serve the gateway with toolkit.serve.relay.relay_protocol."))
            return
        request = HTTPRequestRecord.from_scope(scope, b"")
        await send_record(send, await self.detached.answer(endpoint.tag, call_id, request, self.limits.budget))

    # -- WebSockets ---------------------------------------------------------------------------
    async def _websocket(self, endpoint: Endpoint, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            pool, worker = await self.acquire(endpoint, scope.get("query_string", b""))
        except (InvalidError, WorkerStartError) as exc:
            code = WS_POLICY_VIOLATION if isinstance(exc, InvalidError) else WS_INTERNAL_ERROR
            await send({"type": "websocket.close", "code": code, "reason": str(exc)[:120]})
            return
        task, expired = asyncio.current_task(), False

        def expire() -> None:
            nonlocal expired
            expired = True
            if task is not None:
                task.cancel()

        key = object()
        self.timeouts.add(endpoint.timeout, key, expire)
        try:
            await proxy_websocket(worker, scope, receive, send)  # one input slot for the connection's life
        except asyncio.CancelledError:
            if not expired:
                raise
            if task is not None and hasattr(task, "uncancel"):
                task.uncancel()
            self.log(f"{endpoint.tag}: a WebSocket connection reached its timeout ({endpoint.timeout:g} s); it was closed")
            await send({"type": "websocket.close", "code": WS_INTERNAL_ERROR,
                        "reason": timeout_message(endpoint, short=True)})
        finally:
            self.timeouts.discard(endpoint.timeout, key)
            await pool.release(worker, broken=expired and self.stops_worker_on_timeout(endpoint))


def timeout_message(endpoint: Endpoint, short: bool = False) -> str:
    if short:  # a WebSocket close reason has room for 123 bytes
        return f"{endpoint.tag} timed out after {endpoint.timeout:g} s; raise timeout="[:120]
    return (f"{endpoint.tag} timed out after {endpoint.timeout:g} s (its timeout) and was stopped; "
            f"raise timeout= in @app.function(...) if it needs longer.")


def _result_call_id(query: bytes) -> str | None:
    # parsing the query string of every request only to find no result parameter costs more
    # than the rest of the routing: look for the name first (a "%" may be hiding it)
    return result_call_id(query) if RESULT_QUERY_PARAM.encode() in query or b"%" in query else None


async def _unused_app(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("the serve gateway only uses Gateway.admit(); requests go to workers")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if bytes(key).lower() == name:
            return bytes(value).decode("latin-1")
    return None
