"""HTTP entrypoint for ECS and GPU EC2: ``python -m runtime.server``.

Serves the same adapter app as the Lambda handler, behind the same `Gateway`, with
uvicorn on ``PORT`` (default 8080, all interfaces so the load balancer reaches it).
``/__toolkit/health`` answers 200 for the target group's health check without touching
user code.  Environment: everything `runtime.lambda_handler` documents, plus ``PORT``
and ``TOOLKIT_RATE_LIMIT`` (requests/s, default 200, 5 s burst; 0 disables).  Over-budget
requests run detached on a local thread (`ThreadBackend`) when a call store is configured.
"""

from __future__ import annotations

import os

from runtime.adapters import build_web_app
from runtime.deployment import Deployment, load_deployment
from runtime.gateway import DEFAULT_BUDGET_S, Gateway, GatewayPolicy, StaticTokens, ThreadBackend, TokenBucket
from runtime.gateway.backends import CallBackend, asgi_runner
from runtime.secrets import load_secrets
from runtime.types import ASGIApp, Receive, Scope, Send
from runtime.userapp import load_callable

HEALTH_PATH = "/__toolkit/health"
DEFAULT_PORT = 8080


class WithHealth:
    """Answers the load balancer's health check; everything else goes to ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == HEALTH_PATH:
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"ok"})
            return
        await self.app(scope, receive, send)


def build_server_app(deployment: Deployment) -> ASGIApp:
    entry = deployment.function
    if not entry.is_web:
        raise SystemExit(f"{entry.tag!r} is not a web function; ECS workers run `python -m runtime.worker`.")
    app = build_web_app(load_callable(deployment), entry.web_spec)
    rate = float(os.environ.get("TOOLKIT_RATE_LIMIT") or 200)
    policy = GatewayPolicy(
        function=entry.tag, timeout=entry.timeout, budget=float(os.environ.get("TOOLKIT_REQUEST_BUDGET_S") or DEFAULT_BUDGET_S),
        backend_name="ecs", requires_proxy_auth=bool(entry.web.get("requires_proxy_auth")),
        tokens=StaticTokens.from_json(os.environ.get("TOOLKIT_PROXY_TOKENS")),
        rate_limiter=TokenBucket(rate) if rate > 0 else None,
    )
    return WithHealth(Gateway(app, policy, _backend(deployment, app)))


def _backend(deployment: Deployment, app: ASGIApp) -> CallBackend | None:
    if not os.environ.get("TOOLKIT_CALLS_TABLE"):
        return None
    from runtime.callstore.dynamodb import DynamoDBCallStore

    return ThreadBackend(DynamoDBCallStore.from_env(), deployment.app_name, asgi_runner(app))


def main() -> None:
    import uvicorn

    load_secrets()
    app = build_server_app(load_deployment())
    uvicorn.run(app, host="0.0.0.0", port=int(os.environ.get("PORT") or DEFAULT_PORT), log_level="info",
                proxy_headers=True, forwarded_allow_ips="*")


if __name__ == "__main__":
    main()
