"""One web worker process: the local stand-in for one container serving one web function.

Started by `toolkit.serve.workers` as ``python -m toolkit.serve.web_worker CONFIG_JSON``.  It
imports the user's file the way a container would (`toolkit.local.worker.load_callable`:
class parameters set, ``@toolkit.enter`` hooks run), then

* ASGI kinds (fastapi_endpoint, asgi_app, wsgi_app): builds the app once with
  `runtime.adapters.build_web_app` and serves it with uvicorn on a unix socket; ASGI
  lifespan startup runs once here and shutdown when the worker stops;
* web_server: calls the function, which starts the user's server, and waits for its port;
  the gateway then talks to that port directly (one hop less).

It reports ``{"ready": true}`` or ``{"error": "..."}`` as one JSON line on fd
``TOOLKIT_READY_FD``.  It stops on SIGTERM, and takes the processes the user's code started
with it (they share its session).  If the serve process dies without stopping it (kill -9, a
crash), the whole session is killed at once, mid-request: nobody can receive those responses,
and a request detached past its budget is reported lost (`toolkit.local.ownership`), so its
work must not go on to finish behind the client's retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any

from runtime.adapters.base import WebKind, WebSpec
from runtime.adapters.websocket_proxy import WS_MAX_MESSAGE_BYTES  # the platform's WebSocket message limit
from runtime.types import ASGIApp, Message, Receive, Scope, Send
from toolkit.local.protocol import WorkerTarget

GRACEFUL_SHUTDOWN_S = 5
PARENT_POLL_S = 0.1


@dataclass(frozen=True)
class ContainerConfig:
    target: WorkerTarget
    spec: WebSpec
    socket_path: str | None  # the unix socket ASGI kinds listen on

    def to_json(self) -> str:
        spec = {"kind": self.spec.kind.value, "method": self.spec.method, "docs": self.spec.docs,
                "port": self.spec.port, "startup_timeout": self.spec.startup_timeout}
        return json.dumps({"target": self.target.to_json(), "spec": spec, "socket_path": self.socket_path})

    @staticmethod
    def from_json(text: str) -> ContainerConfig:
        data = json.loads(text)
        spec = dict(data["spec"], kind=WebKind(data["spec"]["kind"]))
        return ContainerConfig(WorkerTarget.from_json(data["target"]), WebSpec(**spec), data["socket_path"])


class ClientFromForwardedFor:
    """Sets ``scope["client"]`` to the gateway's peer, the last ``X-Forwarded-For`` entry.

    The worker listens on a unix socket, so without this the app would see no client at
    all; the gateway always appends its peer, so the last entry cannot be forged.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            for key, value in scope.get("headers", []):
                if key == b"x-forwarded-for":
                    scope["client"] = (value.decode("latin-1").rsplit(",", 1)[-1].strip(), 0)
        await self.app(scope, receive, send)


class RequestAsCall:
    """Runs each request as a call of the endpoint's function, as the platform does: inside it
    ``current_function_call_id()`` answers, and what it spawns is its child in the call graph
    (`toolkit.local.request_calls`)."""

    def __init__(self, app: ASGIApp, target: WorkerTarget) -> None:
        self.app, self.app_name, self.function = app, target.app_name, target.tag

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        from toolkit.local.request_calls import CALL_ID_HEADER, handling_request, observe_response

        headers = scope.get("headers", [])
        call_id = next((v.decode("latin-1") for k, v in headers if k == CALL_ID_HEADER), None)
        if call_id is not None:  # the gateway's, not the app's: the app sees the request as the client sent it
            scope = dict(scope, headers=[(k, v) for k, v in headers if k != CALL_ID_HEADER])
        with handling_request(self.app_name, self.function, call_id) as call:
            async def observed(message: Message) -> None:
                observe_response(call, message)
                await send(message)

            await self.app(scope, receive, observed)


def report(message: dict[str, Any]) -> None:
    fd = int(os.environ["TOOLKIT_READY_FD"])
    os.write(fd, (json.dumps(message) + "\n").encode())
    os.close(fd)


def load_error(exc: BaseException) -> str:
    from runtime.adapters.base import AdapterError
    from toolkit.exception import Error

    if isinstance(exc, (Error, AdapterError)):
        return str(exc)
    traceback.print_exception(exc)  # a bug in the user's code: the traceback helps, in the serve log
    return f"{type(exc).__name__}: {exc}"


def serve_asgi(app: ASGIApp, socket_path: str) -> None:
    import uvicorn

    from toolkit.serve.dashboard_activity import ShutdownNoise
    from toolkit.serve.httpio import run as run_loop
    from toolkit.serve.uvicorn_bridge import WorkerHTTPProtocol

    config = uvicorn.Config(ClientFromForwardedFor(app), uds=socket_path, http=WorkerHTTPProtocol, log_level="warning", access_log=False,
                            lifespan="auto", proxy_headers=False, ws_max_size=WS_MAX_MESSAGE_BYTES,
                            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S, server_header=False, date_header=False)
    server = uvicorn.Server(config)
    ShutdownNoise.install("a request was cut off: toolkit serve stopped before it finished")

    async def main() -> None:
        serving = asyncio.ensure_future(server.serve())
        while not server.started and not serving.done():
            await asyncio.sleep(0.005)
        if server.started:
            report({"ready": True})
        else:
            report({"error": "The app's ASGI lifespan startup failed (see the log above)."})
        await serving

    run_loop(main())


def hold_web_server() -> None:
    """Keep the user's server's session alive until told to stop."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    report({"ready": True})
    stop.wait()


def watch_parent() -> None:
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os.killpg(os.getpgrp(), signal.SIGKILL)  # this process leads the session's group: it goes too

    threading.Thread(target=watch, daemon=True, name="toolkit-parent-watch").start()


def stop_session() -> None:
    """Stop what the user's code started (servers, subprocesses): they share this session."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.killpg(os.getpgrp(), signal.SIGTERM)


def run(config: ContainerConfig) -> int:
    from runtime.adapters import build_web_app, wait_for_port
    from toolkit.local.worker import load_callable, run_stop_hooks
    from toolkit.serve.dashboard_assets import use_offline_docs

    use_offline_docs(os.environ.get("TOOLKIT_SERVE_ORIGIN"))  # /docs loads Swagger UI from the serve, not a CDN
    try:
        fn = load_callable(config.target)
        if config.spec.kind is WebKind.WEB_SERVER:
            assert config.spec.port is not None
            fn()  # starts the user's server and returns
            wait_for_port(config.spec.port, config.spec.startup_timeout)
            from toolkit.cloud_bucket_mount import sync_periodically

            sync_periodically()  # its requests never pass through toolkit: bucket mounts sync on a period instead
        else:
            from toolkit.cloud_bucket_mount import sync_after_requests

            app = sync_after_requests(build_web_app(fn, config.spec))  # bucket mounts upload each request's writes
            app = RequestAsCall(app, config.target)
    except BaseException as exc:  # noqa: BLE001 - reported to the gateway, which shows it to the client
        report({"error": load_error(exc)})
        return 1
    if config.spec.kind is WebKind.WEB_SERVER:
        hold_web_server()
        from runtime.volumes.mounts import sync_buckets

        sync_buckets()  # a stopping web_server uploads what its bucket mounts got since the last period
    else:
        assert config.socket_path is not None
        # uvicorn re-raises the SIGTERM it stopped on once it has stopped: handled, it returns here
        signal.signal(signal.SIGTERM, lambda *_: None)
        serve_asgi(app, config.socket_path)
    run_stop_hooks()  # a class endpoint's @exit hooks, as its container stops
    return 0


def main() -> None:
    from toolkit.localhost import resolve_localhost_names

    resolve_localhost_names()  # an endpoint may call its app's other endpoints by their *.localhost URLs
    config = ContainerConfig.from_json(sys.argv[1])
    sys.path[:0] = [p for p in config.target.sys_path if p not in sys.path]
    from toolkit import config as settings
    from toolkit.context import enter_container

    enter_container(settings.setting("environment"))
    watch_parent()
    code = run(config)
    sys.stdout.flush()
    sys.stderr.flush()
    stop_session()
    os._exit(code)


if __name__ == "__main__":
    main()
