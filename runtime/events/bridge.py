"""Serve an ASGI app to Lambda web events through Mangum, with lifespan run once per environment.

Mangum's ``lifespan="auto"`` enters and exits the app's lifespan around *every* event,
so a model loaded in a startup hook would load on each request.  `LambdaBridge` runs
Mangum with ``lifespan="off"`` and holds one `LifespanCycle` open for the life of the
execution environment, passing its state into each request scope the way servers do.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mangum import Mangum
from mangum.protocols import LifespanCycle

from runtime.events.handlers import WEB_HANDLERS
from runtime.types import ASGIApp, LambdaEvent, LambdaResponse, Receive, Scope, Send


class LambdaBridge:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._cycle: LifespanCycle | None = None
        self._state: dict[str, Any] = {}
        self._mangum = Mangum(self._with_state, lifespan="off", custom_handlers=WEB_HANDLERS)

    @property
    def started(self) -> bool:
        return self._cycle is not None

    @property
    def state(self) -> dict[str, Any]:
        return self._state

    def startup(self) -> None:
        """Run the app's lifespan startup; idempotent.  'auto': apps without lifespan are fine."""
        if self._cycle is None:
            cycle = LifespanCycle(self.app, "auto")  # type: ignore[arg-type]
            cycle.__enter__()
            self._cycle, self._state = cycle, cycle.lifespan_state

    def shutdown(self) -> None:
        if self._cycle is not None:
            self._cycle.__exit__(None, None, None)
            self._cycle = None

    def run(self, coro: Any) -> Any:
        """Run a coroutine on the loop the lifespan and Mangum share (one loop per environment)."""
        return asyncio.get_event_loop().run_until_complete(coro)

    def __call__(self, event: LambdaEvent, context: Any) -> LambdaResponse:
        self.startup()
        return self._mangum(event, context)

    async def _with_state(self, scope: Scope, receive: Receive, send: Send) -> None:
        # a shallow copy per request, as uvicorn does: requests may add keys without leaking
        scope["state"] = dict(self._state)
        await self.app(scope, receive, send)
