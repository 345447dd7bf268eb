"""HTTP entrypoint for ECS and GPU EC2: ``python -m runtime.server``.

Serves the same adapter app as the Lambda handler, behind the same `Gateway`, with
uvicorn on ``PORT`` (default 8080, all interfaces so the load balancer reaches it).
``/__toolkit/health`` answers 200 for the target group's health check without touching
user code.  Environment (`runtime.environment.ContainerEnv`): everything `runtime.lambda_handler`
documents, plus ``PORT`` and ``TOOLKIT_RATE_LIMIT`` (requests/s, default 200, 5 s burst; 0 disables).  Over-budget
requests run detached on a local thread (`ThreadCalls`) when a call store is configured;
the thread hands the replayed request to the server's own loop (`ServingLoop`), so it meets
the same lifespan state and class instances as live requests.

WebSockets are served here (an ALB holds them): the adapters answer them, ``web_server``
relays them to the user's server (`runtime.adapters.websocket_proxy`), and a message over
2 MiB closes the connection with 1009.

Stopping (ECS stops a task with SIGTERM, then SIGKILL after the container's stop timeout, 30 s by
default): uvicorn handles SIGTERM itself: it stops accepting, lets requests in flight finish (for
at most `GRACEFUL_SHUTDOWN_S`, then cancels them), then runs the app's ASGI lifespan shutdown, which
reaches the user's app and, for a class's web method, closes every instance (each one's lifespan
shutdown, ``@exit`` hooks, a ``web_server`` instance's host process).  uvicorn then re-raises the
signal it caught; our own handler takes it and the process exits 0.  A SIGTERM before uvicorn
serves (during the user's imports) exits 0 at once: nothing has started that needs stopping.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from types import FrameType
from typing import TYPE_CHECKING, Any

from runtime.deployment import Deployment, load_deployment
from runtime.gateway import Gateway, ThreadCalls
from runtime.gateway.call_paths import CallPath, RequestRunner
from runtime.gateway.records import HTTPRequestRecord, HTTPResponseRecord, run_asgi
from runtime.secrets import load_secrets
from runtime.types import ASGIApp, Receive, Scope, Send
from runtime.userapp import load_function

if TYPE_CHECKING:
    import uvicorn

HEALTH_PATH = "/__toolkit/health"
DEFAULT_PORT = 8080
GRACEFUL_SHUTDOWN_S = 20
"""How long requests in flight may finish after SIGTERM before uvicorn cancels them: ECS kills the task
30 s (its default stop timeout) after SIGTERM, and the lifespan shutdown and ``@exit`` hooks, which
uvicorn runs only after every request is done, need the rest (uvicorn's own default is to wait forever)."""

# whose X-Forwarded-For / -Proto the server believes: the load balancer, which reaches the task from
# inside the VPC (private ranges), and loopback.  The client is then the rightmost address not in
# these, the one the ALB appended; with "*" uvicorn took the leftmost, which the client itself writes.
TRUSTED_PROXIES = "127.0.0.1,::1,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,fc00::/7"


class ServingLoop:
    """The event loop uvicorn serves on and the app's lifespan state, seen at lifespan startup."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.state: dict[str, Any] = {}

    def runner(self, app: ASGIApp) -> RequestRunner:
        """Replays a detached request through ``app`` on the serving loop, from a worker thread."""

        def run(request: HTTPRequestRecord) -> HTTPResponseRecord:
            loop = self.loop
            if loop is None or not loop.is_running():  # no server running (a test, a shutdown): a loop of its own
                return asyncio.run(run_asgi(app, request, self.state))
            return asyncio.run_coroutine_threadsafe(run_asgi(app, request, self.state), loop).result()

        return run


class WithHealth:
    """Answers the load balancer's health check; everything else goes to ``app``."""

    def __init__(self, app: ASGIApp, serving: ServingLoop | None = None) -> None:
        self.app, self.serving = app, serving

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan" and self.serving is not None:
            # uvicorn copies this same dict into every request's scope["state"]
            self.serving.loop, self.serving.state = asyncio.get_running_loop(), scope.setdefault("state", {})
        if scope["type"] == "http" and scope["path"] == HEALTH_PATH:
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"ok"})
            return
        await self.app(scope, receive, send)


def build_server_app(deployment: Deployment) -> ASGIApp:
    entry = deployment.function
    if not entry.is_web:
        raise SystemExit(f"{entry.tag!r} is not a web function; ECS workers run `python -m runtime.entrypoints.worker_task`.")
    app = load_function(deployment).web_app(deployment.web_spec)
    serving = ServingLoop()
    policy = deployment.gateway_policy("ecs")
    return WithHealth(Gateway(app, policy, _call_path(deployment, serving.runner(app))), serving)


def _call_path(deployment: Deployment, runner: RequestRunner) -> CallPath | None:
    if not deployment.env.calls_table:
        return None
    from runtime.callstore.dynamodb import DynamoDBCallStore

    return ThreadCalls(DynamoDBCallStore.from_env(deployment.env), deployment.app_name, runner)


def server_config(app: ASGIApp, port: int, host: str = "0.0.0.0") -> uvicorn.Config:
    """uvicorn's settings for the task: all interfaces, the load balancer's forwarded headers
    believed only from `TRUSTED_PROXIES`, WebSocket messages capped, a bounded graceful stop."""
    import uvicorn

    from runtime.adapters.websocket_proxy import WS_MAX_MESSAGE_BYTES

    return uvicorn.Config(app, host=host, port=port, log_level="info", proxy_headers=True,
                          forwarded_allow_ips=TRUSTED_PROXIES, ws_max_size=WS_MAX_MESSAGE_BYTES,
                          timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)


def main() -> None:
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE

    server: list[uvicorn.Server] = []

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        # uvicorn swaps in its own handler while it serves, and calls this one again once it has shut down
        if not (server and server[0].should_exit):
            sys.exit(0)  # before uvicorn serves: nothing to shut down yet

    signal.signal(signal.SIGTERM, on_sigterm)
    load_secrets()
    app = build_server_app(load_deployment())
    server.append(uvicorn.Server(server_config(app, int(os.environ.get("PORT") or DEFAULT_PORT))))
    # Ctrl+C: uvicorn re-raises it once it has shut down, and uvicorn.run ignores it
    with contextlib.suppress(KeyboardInterrupt):
        server[0].run()  # what uvicorn.run does with one worker, holding the server for `on_sigterm`
    if not (server[0].started or server[0].should_exit):
        sys.exit(STARTUP_FAILURE)  # as uvicorn.run: the port was taken, or the lifespan startup failed


if __name__ == "__main__":
    main()
