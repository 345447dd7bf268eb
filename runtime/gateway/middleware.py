"""The gateway as ASGI middleware: the one place auth, limits and the 303 budget are applied.

Every front end wraps the user's adapter app in `Gateway`: the Lambda handler (through
Mangum), the ECS/GPU HTTP server (uvicorn) and ``toolkit serve``.  The decisions are the
plain functions in `auth`, `limits` and `budget`; this module only sequences them.

Front door (``runtime.FRONT_DOORS``): the SDK imports `Gateway` and `GatewayPolicy`, and the replies
(`see_other`, `reject`, ...) ``toolkit serve`` answers with, so its 303/401/413 match a container's;
`__all__` is what it offers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from runtime.callstore.base import CallRecord, CallStatus, new_call_id
from runtime.gateway.auth import TokenVerifier, check_proxy_auth, has_credentials, without_credentials
from runtime.gateway.budget import (
    DEFAULT_BUDGET_S,
    fits_inline,
    result_call_id,
    result_location,
    wait_for_finish,
)
from runtime.gateway.call_paths import CallPath
from runtime.gateway.headers import header_rejection
from runtime.gateway.limits import (
    DEFAULT_MAX_BODY_BYTES,
    Rejection,
    TokenBucket,
    check_body_size,
    check_websocket_upgrade,
)
from runtime.gateway.records import HTTPRequestRecord, HTTPResponseRecord
from runtime.serialization import RemoteError, deserialize
from runtime.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "BodyTooLargeError",
    "Gateway",
    "GatewayPolicy",
    "finished_response",
    "reject",
    "rejection_response",
    "see_other",
    "send_record",
    "text_response",
]


@dataclass
class GatewayPolicy:
    function: str  # the function tag calls are recorded under
    timeout: float | None = None  # the function's own timeout (manifest resources.timeout)
    budget: float = DEFAULT_BUDGET_S
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    served_by: str = "lambda"  # what answers, named in 413 messages ("lambda", "ecs", "toolkit serve")
    requires_proxy_auth: bool = False
    tokens: TokenVerifier | None = None
    rate_limiter: TokenBucket | None = field(default=None, repr=False)
    websockets: bool = True  # False where the front door cannot hold a connection (Lambda)


class BodyTooLargeError(Exception):
    pass


class Gateway:
    def __init__(self, app: ASGIApp, policy: GatewayPolicy, call_path: CallPath | None = None) -> None:
        self.app, self.policy, self.call_path = app, policy, call_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        rejection = self.admit(scope)
        if rejection is not None:
            await reject(scope, send, rejection)
            return
        if has_credentials(scope.get("headers", [])):  # checked (or not needed): user code never sees them
            scope = {**scope, "headers": without_credentials(scope["headers"])}
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
        else:
            await self._http(scope, receive, send)

    def admit(self, scope: Scope) -> Rejection | None:
        """Rate limit, well-formed headers, proxy auth and declared body size: checks that need no body."""
        policy = self.policy
        if policy.rate_limiter is not None and (limited := policy.rate_limiter.take()):
            return limited
        if malformed := header_rejection(scope.get("headers", [])):
            return malformed  # before anything is forwarded: a Lambda event's headers are unchecked JSON
        if not policy.websockets and (refused := check_websocket_upgrade(scope.get("headers", []),
                                                                         policy.served_by)):
            return refused
        if policy.requires_proxy_auth:
            denied = check_proxy_auth(scope.get("headers", []), policy.tokens or _NO_TOKENS)
            if denied:
                return denied
        declared = _content_length(scope)
        return check_body_size(declared, policy.max_body_bytes, policy.served_by) if declared else None

    def admits_whole(self, scope: Scope, body: bytes) -> bool:
        """Whether a request whose whole body is at hand passes `admit` and the body limit: then
        a path that skips the ASGI app may answer it (this app's 401/413 replies stay the only ones)."""
        return len(body) <= self.policy.max_body_bytes and self.admit(scope) is None

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        call_id = result_call_id(scope.get("query_string", b""))
        if self.call_path is not None and call_id is not None:
            await self._answer_result(scope, send, call_id, HTTPRequestRecord.from_scope(scope, b""))
        elif self.call_path is None or fits_inline(self.policy.timeout, self.policy.budget):
            await self._inline(scope, receive, send)
        else:
            await self._detached(scope, receive, send)

    async def _inline(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            # read the first chunk up front: a body that arrived whole (Lambda) is refused
            # before user code runs, even when the app would never read it
            limited = _limited(receive, self.policy.max_body_bytes)
            await self.app(scope, _replaying(await limited(), limited), tracking_send)
        except BodyTooLargeError as exc:
            if started:
                raise
            await reject(scope, send, check_body_size(int(str(exc)), self.policy.max_body_bytes,
                                                       self.policy.served_by) or Rejection(413, "too large"))

    async def _detached(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await _read_body(_limited(receive, self.policy.max_body_bytes))
        except BodyTooLargeError as exc:
            await reject(scope, send, check_body_size(int(str(exc)), self.policy.max_body_bytes,
                                                       self.policy.served_by) or Rejection(413, "too large"))
            return
        request, call_id = HTTPRequestRecord.from_scope(scope, body), new_call_id()
        assert self.call_path is not None
        await asyncio.to_thread(self.call_path.start, call_id, self.policy.function, request)
        await self._answer_result(scope, send, call_id, request)

    async def _answer_result(self, scope: Scope, send: Send, call_id: str, request: HTTPRequestRecord) -> None:
        assert self.call_path is not None
        record = await wait_for_finish(self.call_path.store, call_id, self.policy.budget)
        if record is None or record.function != self.policy.function:
            await reject(scope, send, Rejection(404, f"No call {call_id!r} for this endpoint."))
        elif record.status.finished:
            await send_record(send, finished_response(record))
        else:
            await send_record(send, see_other(request, call_id))


_NO_TOKENS = type("_NoTokens", (), {"stored_hash": lambda self, token_id: None})()


def _content_length(scope: Scope) -> int:
    for key, value in scope.get("headers", []):
        if bytes(key).lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


def _limited(receive: Receive, limit: int) -> Receive:
    """A receive that raises once the body passes ``limit`` bytes (chunked uploads have no length)."""
    seen = 0

    async def limited() -> Message:
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > limit:
            raise BodyTooLargeError(str(seen))
        return message

    return limited


def _replaying(first: Message, receive: Receive) -> Receive:
    pending: list[Message] = [first]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def finished_response(record: CallRecord) -> HTTPResponseRecord:
    """What a finished detached call answers: its response, or a 500 that says why there is none."""
    value = deserialize(record.result) if record.result is not None else None
    if record.status is CallStatus.DONE and isinstance(value, HTTPResponseRecord):
        return value
    detail = f"{value.type_name}: {value.message}" if isinstance(value, RemoteError) else "no response recorded"
    if isinstance(value, RemoteError) and value.type_name.endswith("CallLostError"):
        return text_response(500, f"The endpoint's call was lost before it finished ({detail}).")
    return text_response(500, f"The endpoint's function failed ({detail}).")


def see_other(request: HTTPRequestRecord, call_id: str) -> HTTPResponseRecord:
    """``303 See Other`` to the request's own URL plus the result parameter (always same-origin)."""
    location = result_location(request, call_id)
    record = text_response(303, f"Still running; the result will be at {location}")
    record.headers.append((b"location", location.encode("latin-1")))
    return record


def text_response(status: int, message: str) -> HTTPResponseRecord:
    return HTTPResponseRecord(status, [(b"content-type", b"text/plain; charset=utf-8")], message.encode())


async def send_record(send: Send, response: HTTPResponseRecord) -> None:
    await send({"type": "http.response.start", "status": response.status, "headers": response.headers})
    await send({"type": "http.response.body", "body": response.body})


def rejection_response(rejection: Rejection) -> HTTPResponseRecord:
    response = text_response(rejection.status, rejection.message)
    response.headers.extend((k.encode(), v.encode()) for k, v in rejection.headers)
    return response


async def reject(scope: Scope, send: Send, rejection: Rejection) -> None:
    if scope["type"] == "websocket":
        # a websocket can only be refused before accept; 1008 is the policy-violation close code
        await send({"type": "websocket.close", "code": 1008, "reason": rejection.message[:120]})
        return
    await send_record(send, rejection_response(rejection))
