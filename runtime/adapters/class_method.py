"""A web method of an ``@app.cls`` class: the query string picks the instance that answers.

``GET /?root=/data`` on ``Server.files`` is served by the ``Server(root="/data")`` instance,
built on first use (parameters set, ``@toolkit.enter`` run once) with its own web app from
the method's adapter, exactly as ``toolkit serve`` routes it (`runtime.params.from_query`
decides; a bad value is a 400 naming it).  Instances are cached per environment, LRU-bounded
(`runtime.instances`).  Each instance's app gets its own ASGI lifespan, started when it is built
and shut down when it is evicted, and its state reaches that instance's requests.

``web_server`` methods run each instance in a host process (`server_host`): all of them
listen on the same port, so the environment serves one parameter set at a time and a new
one takes the port over once the current one is idle.

Blocking work (``@enter`` hooks, a server's startup, ``@exit`` hooks) runs on worker threads;
everything async runs on the loop that serves requests (uvicorn's, or the Lambda bridge's
one loop), which is also where each instance's lifespan lives.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from runtime.adapters.base import AdapterError, WebKind, WebSpec
from runtime.gateway.middleware import send_record, text_response
from runtime.instances import ClassMethod, InstanceCache, describe, max_instances
from runtime.params import ParameterError, Params
from runtime.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("toolkit.runtime")
DEFAULT_START_TIMEOUT_S = 300.0
LIFESPAN_SHUTDOWN_S = 30.0


class AppLifespan:
    """One ASGI app's lifespan, driven from inside a running server ('auto': apps without one are fine)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self.running = False
        self._to_app: asyncio.Queue[Message] | None = None
        self._from_app: asyncio.Queue[Message] | None = None
        self._task: asyncio.Future[None] | None = None

    async def startup(self) -> None:
        self._to_app, self._from_app = asyncio.Queue(), asyncio.Queue()
        self._task = asyncio.ensure_future(self._run(self._to_app, self._from_app))
        await self._to_app.put({"type": "lifespan.startup"})
        reply = await self._from_app.get()
        if reply["type"] == "lifespan.startup.failed":
            raise AdapterError(f"The web app's lifespan startup failed: {reply.get('message') or 'no message'}")
        self.running = reply["type"] == "lifespan.startup.complete"

    async def shutdown(self) -> None:
        if not self.running or self._to_app is None or self._from_app is None:
            return
        self.running = False
        await self._to_app.put({"type": "lifespan.shutdown"})
        reply = await asyncio.wait_for(self._from_app.get(), LIFESPAN_SHUTDOWN_S)
        if reply["type"] == "lifespan.shutdown.failed":
            log.warning("lifespan shutdown failed: %s", reply.get("message"))

    async def _run(self, to_app: asyncio.Queue[Message], from_app: asyncio.Queue[Message]) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self.state}
        try:
            await self.app(scope, to_app.get, from_app.put)
        except Exception as exc:  # an app that does not speak lifespan raises or returns: no lifespan
            log.debug("ASGI lifespan unsupported (%s: %s)", type(exc).__name__, exc)
        finally:
            await from_app.put({"type": "lifespan.ended"})


@dataclass
class ServedInstance:
    """One parameter set's web app, and what to stop when it is evicted."""

    app: ASGIApp
    loop: asyncio.AbstractEventLoop
    obj: Any = None  # the user's object (None when a host process holds it)
    lifespan: AppLifespan | None = None
    host: Any = None  # server_host.HostedServer for web_server methods

    @property
    def state(self) -> dict[str, Any]:
        """What the lifespan startup stored; each request gets a shallow copy."""
        return self.lifespan.state if self.lifespan is not None else {}


class ClassMethodApp:
    """The ASGI app of a class's web method: routes each request to its parameter set's instance."""

    def __init__(self, method: ClassMethod, spec: WebSpec, *, start_timeout: float | None = None) -> None:
        self.method, self.spec = method, spec
        self.start_timeout = float(start_timeout or DEFAULT_START_TIMEOUT_S)
        self.hosted = spec.kind is WebKind.WEB_SERVER
        self.instances: InstanceCache[ServedInstance] = InstanceCache(
            self._build, self._close, max_instances(), exclusive=self.hosted)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._proxy: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        try:
            params = self.method.params_from_query(scope.get("query_string", b""))
        except ParameterError as exc:
            await _refuse(scope, send, 400, str(exc))
            return
        self._loop = asyncio.get_running_loop()
        slot = self.instances.acquire_built(params)
        if slot is None:
            try:
                slot = await asyncio.to_thread(self.instances.acquire, params)
            except Exception as exc:  # @enter or the server's startup failed: this request fails, the next retries
                log.exception("%s(%s) could not start", self.method.info.name, describe(params))
                await _refuse(scope, send, 500, f"{self.method.info.name}({describe(params)}) could not start: "
                                                f"{type(exc).__name__}: {exc}")
                return
        try:
            served = slot.get()
            await served.app({**scope, "state": dict(served.state)}, receive, send)
        finally:
            evicted = self.instances.release(slot)
            if evicted:
                await asyncio.to_thread(self.instances.close_all, evicted)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._loop = asyncio.get_running_loop()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await asyncio.to_thread(self.instances.close)
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- building and stopping instances (on worker threads) ---------------------------------------

    def _build(self, params: Params) -> ServedInstance:
        loop = self._loop
        assert loop is not None, "instances are built for requests, on the loop serving them"
        if self.hosted:
            return self._build_hosted(params, loop)
        from runtime.adapters import build_web_app

        obj = self.method.instantiate(params)
        try:
            app = build_web_app(self.method.method_of(obj), self.spec)
            lifespan = AppLifespan(app)
            asyncio.run_coroutine_threadsafe(lifespan.startup(), loop).result(self.start_timeout)
        except BaseException:
            self.method.run_exit_hooks(obj)
            raise
        return ServedInstance(app, loop, obj, lifespan)

    def _build_hosted(self, params: Params, loop: asyncio.AbstractEventLoop) -> ServedInstance:
        from runtime.adapters.server_host import HostedServer
        from runtime.adapters.web_server import WebServerProxy

        if self.spec.port is None:
            raise AdapterError("@web_server needs a port: @web_server(port=8000).")
        host = HostedServer.start(params, self.spec, self.start_timeout)
        if self._proxy is None:  # one proxy for the port, whichever instance holds it now
            self._proxy = WebServerProxy(self.spec.port)
        return ServedInstance(self._proxy, loop, host=host)

    def _close(self, served: ServedInstance) -> None:
        if served.lifespan is not None and served.loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(served.lifespan.shutdown(), served.loop).result(LIFESPAN_SHUTDOWN_S)
            except Exception:
                log.exception("lifespan shutdown of an evicted instance failed")
        if served.host is not None:
            served.host.stop()
        if served.obj is not None:
            self.method.run_exit_hooks(served.obj)


async def _refuse(scope: Scope, send: Send, status: int, message: str) -> None:
    if scope["type"] == "websocket":
        # before accept, a close is the only answer a websocket can get (the client sees a 403)
        await send({"type": "websocket.close", "code": 1008 if status < 500 else 1011, "reason": message[:120]})
        return
    await send_record(send, text_response(status, message))
