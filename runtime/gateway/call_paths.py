"""The call path: where over-budget web calls run.  The gateway only needs `CallPath`.

* `ThreadCalls` runs the call in a background thread of this process (``toolkit serve``,
  tests, ECS tasks that have no Step Functions configured).
* `runtime.stepfunctions.StepFunctionsCalls` starts a Step Functions execution (Lambda front handler).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Protocol

from runtime.callstore.base import CallStore
from runtime.gateway.records import HTTPRequestRecord, HTTPResponseRecord
from runtime.serialization import serialize

RequestRunner = Callable[[HTTPRequestRecord], HTTPResponseRecord]


class CallPath(Protocol):
    store: CallStore

    def start(self, call_id: str, function: str, request: HTTPRequestRecord) -> None:
        """Record the call as PENDING with ``request`` as its payload and start it elsewhere."""
        ...


class ThreadCalls:
    """Runs each call on a daemon thread; the result lands in ``store`` like any worker's."""

    def __init__(self, store: CallStore, app_name: str, runner: RequestRunner) -> None:
        self.store, self.app_name, self._runner = store, app_name, runner

    def start(self, call_id: str, function: str, request: HTTPRequestRecord) -> None:
        from runtime.worker import execute_stored_call

        self.store.create(call_id, self.app_name, function, serialize(request))
        worker = threading.Thread(
            target=execute_stored_call, args=(self.store, call_id, self._run), name=f"toolkit-call-{call_id}", daemon=True
        )
        worker.start()

    def _run(self, request: object) -> object:
        assert isinstance(request, HTTPRequestRecord)
        return self._runner(request)


def asgi_runner(app: object) -> RequestRunner:
    """A `RequestRunner` that replays a request through an ASGI app on a fresh event loop."""
    from runtime.gateway.records import run_asgi

    def run(request: HTTPRequestRecord) -> HTTPResponseRecord:
        return asyncio.run(run_asgi(app, request))  # type: ignore[arg-type]

    return run
