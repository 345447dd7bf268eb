"""Serve an ASGI app to Lambda web events through Mangum, with lifespan run once per environment.

Mangum's ``lifespan="auto"`` enters and exits the app's lifespan around *every* event,
so a model loaded in a startup hook would load on each request.  `LambdaBridge` runs
Mangum with ``lifespan="off"`` and holds one `LifespanCycle` open for the life of the
execution environment, passing its state into each request scope the way servers do.

Each event's field types are checked first (`runtime.events.shape`: a 400 naming the field), then it
is parsed once by Mangum's handler for its source (with our corrections,
`runtime.events.handlers`) into a scope and a body, and the response goes back through the
same handler, so every path shares one conformance implementation.  In between, an optional
``direct`` hook may answer the request synchronously (the Lambda ``web_server`` proxy does,
see `runtime.lambda_handler`); when it returns None the ASGI app serves it, as Mangum would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from mangum import Mangum
from mangum.protocols import HTTPCycle, LifespanCycle
from mangum.types import Response

from runtime.events.handlers import WEB_HANDLERS
from runtime.events.shape import check_event
from runtime.events.sources import classify
from runtime.types import ASGIApp, LambdaEvent, LambdaResponse, Receive, Scope, Send

DirectHTTP = Callable[[Scope, bytes], "Response | None"]
"""``(scope, whole body) -> Mangum Response`` (status, headers, body), or None to use the ASGI app."""


class LambdaBridge:
    def __init__(self, app: ASGIApp, direct: DirectHTTP | None = None) -> None:
        self.app = app
        self.direct = direct
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

    def request(self, event: LambdaEvent, context: Any) -> tuple[Scope, bytes]:
        """A web event as an ASGI scope (with the lifespan state) and its whole body, parsed by
        the same handler as `__call__` uses: for front ends that answer it another way (streams)."""
        self.startup()
        check_event(event, classify(event))
        handler = self._mangum.infer(event, context)
        scope = handler.scope
        scope["state"] = dict(self._state)
        return scope, handler.body

    def __call__(self, event: LambdaEvent, context: Any) -> LambdaResponse:
        self.startup()
        check_event(event, classify(event))  # before Mangum iterates anything: a 400 naming the field
        # Mangum.__call__ with lifespan="off", plus the direct hook between request and response
        handler = self._mangum.infer(event, context)
        scope, body = handler.scope, handler.body
        response = self.direct(scope, body) if self.direct is not None else None
        if response is None:
            response = HTTPCycle(scope, body)(self._with_state)
        return handler(response)

    async def _with_state(self, scope: Scope, receive: Receive, send: Send) -> None:
        # a shallow copy per request, as uvicorn does: requests may add keys without leaking
        scope["state"] = dict(self._state)
        await self.app(scope, receive, send)
