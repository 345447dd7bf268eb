"""Function URL events answered as streams: which gateway serves a request, and ``web_server``'s
direct path.

A Function URL (invoke mode ``RESPONSE_STREAM``) has no 30 s front-door cut, so the shared
`Gateway` rules apply with the stream budget (``TOOLKIT_STREAM_BUDGET_S``, default 150 s):

* a result URL (``__toolkit_call_id``), and any request to a function too long for one Lambda
  invocation (timeout over 900 s, with Step Functions configured), go through the gateway with
  the call path, as on the buffered doors (the reply is whole, then streamed out);
* everything else runs inline and streams (`runtime.events.streaming`); with a call store
  configured, a request that has not started its response within the budget gets its 303 and
  finishes after it (`runtime.events.overtime`);
* ``web_server`` requests the gateway would pass through unchanged skip the event loop: the body
  goes from the user's server to the stream chunk by chunk (`WebServerProxy.open`).

Proxy auth (401) and the 413 limit are the gateway's on every path.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runtime.callstore.base import CallStore
from runtime.events.bridge import LambdaBridge
from runtime.events.overtime import Overtime, too_large
from runtime.events.streaming import TEXT_PLAIN, OpenStream, StreamedResponse, stream_asgi
from runtime.gateway import Gateway, result_call_id
from runtime.gateway.records import HTTPRequestRecord, HTTPResponseRecord
from runtime.types import Scope

if TYPE_CHECKING:
    from runtime.adapters.web_server import WebServerProxy

log = logging.getLogger("toolkit.runtime")


@dataclass
class FunctionURLFront:
    bridge: LambdaBridge
    inline: Gateway  # no call path: never detaches up front
    backed: Callable[[], Gateway | None]  # with the call path (result URLs, long functions); None: no store
    store: Callable[[], CallStore] | None  # None: no call store, requests run inline to their end
    app_name: str
    long: bool  # the function's timeout is over one invocation's and Step Functions can run it

    def serve(self, scope: Scope, body: bytes, open_stream: OpenStream,
              seconds_left: Callable[[], float | None] = lambda: None) -> None:
        """Answer one request on ``open_stream``; ``seconds_left`` is the invocation's remaining time."""
        backed = self.backed() if self.long or result_call_id(scope.get("query_string", b"")) else None
        if backed is not None:
            self.bridge.run(stream_asgi(backed, scope, body, StreamedResponse(open_stream)))
            return
        overtime = self._overtime(seconds_left)
        if not self._direct(scope, body, open_stream, overtime):
            response = StreamedResponse(open_stream)
            watch = overtime.watch(scope, response) if overtime is not None else None
            self.bridge.run(stream_asgi(self.inline, scope, body, response, watch))

    def _overtime(self, seconds_left: Callable[[], float | None]) -> Overtime | None:
        if self.store is None:
            return None
        policy = self.inline.policy
        return Overtime(self.store, self.app_name, policy.function, policy.budget, seconds_left)

    def _direct(self, scope: Scope, body: bytes, open_stream: OpenStream, overtime: Overtime | None) -> bool:
        proxy = web_server_proxy(self.inline)
        if proxy is None or not self.inline.admits_whole(scope, body):
            return False  # the ASGI path answers it (its 401/413 replies stay one implementation)
        stream_web_server(proxy, scope, body, open_stream, overtime)
        return True


class StoredResults:
    """The call path where no Step Functions are configured: it answers result URLs of the calls
    `overtime` recorded, and never starts a call elsewhere."""

    def __init__(self, store: CallStore) -> None:
        self.store = store

    def start(self, call_id: str, function: str, request: HTTPRequestRecord) -> None:
        raise RuntimeError(f"No Step Functions state machine is configured to run {function!r} elsewhere.")


def web_server_proxy(gateway: Gateway) -> WebServerProxy | None:
    """The gateway's app when it is the ``web_server`` proxy (imported only if one was built)."""
    module = sys.modules.get("runtime.adapters.web_server")
    return gateway.app if module is not None and isinstance(gateway.app, module.WebServerProxy) else None


def stream_web_server(proxy: WebServerProxy, scope: Scope, body: bytes, open_stream: OpenStream,
                      overtime: Overtime | None) -> None:
    """One request to the user's server, its response streamed out as the server sends it."""
    response = StreamedResponse(open_stream)
    late: list[str] = []  # the call id, once the request went over budget
    kept_socket: list[socket.socket] = []

    def sent(sock: socket.socket) -> None:
        kept_socket.append(sock)
        if overtime is not None and (call_id := overtime.wait_for_response(sock, scope, open_stream)):
            late.append(call_id)

    try:
        upstream = proxy.open(scope, body, sent)
    except (OSError, http.client.HTTPException) as exc:  # down, or broke the connection: a gateway error
        _upstream_failed(proxy, exc, late, overtime, response)
        return
    try:
        if late:
            assert overtime is not None
            _finish_late(proxy, upstream, late[0], overtime)
            return
        from runtime.adapters.web_server import kept_headers

        response.start(upstream.status, kept_headers(upstream))
        for chunk in proxy.body_chunks(upstream):
            response.body(chunk, more=True)
        response.finish()
    finally:
        if late and kept_socket:
            _restore_blocking(kept_socket[0])


def _finish_late(proxy: WebServerProxy, upstream: http.client.HTTPResponse, call_id: str, overtime: Overtime) -> None:
    from runtime.adapters.web_server import kept_headers

    outcome: HTTPResponseRecord | BaseException
    try:
        body = _bounded_body(proxy, upstream, overtime.max_response_bytes)
    except (OSError, http.client.HTTPException) as exc:
        outcome = exc
    else:
        outcome = (HTTPResponseRecord(upstream.status, kept_headers(upstream), body) if body is not None
                   else too_large(call_id, overtime.budget, overtime.max_response_bytes))
    overtime.finish(call_id, outcome)


def _bounded_body(proxy: WebServerProxy, upstream: http.client.HTTPResponse, limit: int) -> bytes | None:
    """The whole body, or None once it passes ``limit`` bytes (the connection is closed then:
    the rest is not read, and the server sees its client leave)."""
    parts, size = [], 0
    for chunk in proxy.body_chunks(upstream):
        size += len(chunk)
        if size > limit:
            upstream.close()
            return None
        parts.append(chunk)
    return b"".join(parts)


def _upstream_failed(proxy: WebServerProxy, exc: BaseException, late: list[str], overtime: Overtime | None,
                     response: StreamedResponse) -> None:
    message = proxy.unreachable(exc)
    if late and overtime is not None:
        overtime.finish(late[0], exc)
        return
    response.whole(502, [TEXT_PLAIN], message)


def _restore_blocking(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # closed already: nothing to restore
        sock.settimeout(None)  # the kept connection waits as long as the next request needs
