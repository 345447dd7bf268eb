"""Streamed web responses for Lambda Function URLs (invoke mode ``RESPONSE_STREAM``).

A Function URL reads a streamed response of content type
``application/vnd.awslambda.http-integration-response`` as: a JSON prelude
``{"statusCode", "headers", "cookies"}``, eight NUL bytes, then the raw body, forwarded to the
client as it arrives (no base64, no 6 MB buffer).  `StreamedResponse` turns ASGI response
messages into that: the prelude when ``http.response.start`` comes, each ``http.response.body``
chunk the moment the app sends it, so SSE arrives event by event.  `stream_asgi` drives one
request through an ASGI app that way; `stream_reply` sends a whole buffered-style reply.

The byte stream itself (a chunked POST to the Lambda Runtime API) is `runtime.runtime_api`'s; here
it is only `ByteStream`, so these pieces run against anything with ``write`` and ``close``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from runtime.gateway.records import HTTPResponseRecord
from runtime.types import ASGIApp, Message, Scope

PRELUDE_DELIMITER = b"\0" * 8
TEXT_PLAIN = (b"content-type", b"text/plain; charset=utf-8")

log = logging.getLogger("toolkit.runtime")
__all__ = ["PRELUDE_DELIMITER", "ByteStream", "OpenStream", "StreamedResponse",
           "StreamingReply", "prelude", "stream_asgi", "stream_reply"]


class ByteStream(Protocol):
    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


OpenStream = Callable[[], ByteStream]
"""Opens the invocation's response stream (HTTP-integration content type); called at most once."""


class StreamingReply(Protocol):
    """How one Runtime API invocation answers (`runtime.lambda_loop.Reply`): once, either way."""

    @property
    def answered(self) -> bool: ...

    def send(self, result: Any) -> None: ...

    def stream(self) -> ByteStream: ...


def prelude(status: int, headers: Iterable[tuple[bytes, bytes]]) -> bytes:
    """The JSON prelude plus its 8-NUL delimiter.  ``set-cookie`` headers become ``cookies``
    (as in payload 2.0 responses); repeated headers are joined with commas (RFC 9110 5.3)."""
    fields: dict[str, str] = {}
    cookies: list[str] = []
    for raw_name, raw_value in headers:
        name, value = bytes(raw_name).decode("latin-1").lower(), bytes(raw_value).decode("latin-1")
        if name == "set-cookie":
            cookies.append(value)
        else:
            fields[name] = f"{fields[name]},{value}" if name in fields else value
    meta = {"statusCode": status, "headers": fields, "cookies": cookies}
    return json.dumps(meta, separators=(",", ":")).encode() + PRELUDE_DELIMITER


class StreamedResponse:
    """One response written to a `ByteStream` as it is produced; or, once `divert`-ed, collected
    whole into an `HTTPResponseRecord` instead (the request went over budget, see `overtime`)."""

    def __init__(self, open_stream: OpenStream) -> None:
        self.open_stream = open_stream
        self._stream: ByteStream | None = None
        self._record: HTTPResponseRecord | None = None
        self._parts: list[bytes] = []  # a diverted body, joined at `finish` (not copied once per chunk)
        self._kept = 0  # its size so far
        self._limit = 0  # the most a diverted body may hold (`divert`)
        self.started = asyncio.Event()
        self.done = asyncio.Event()
        self.too_large = asyncio.Event()  # a diverted body went over its limit: what came was dropped

    def start(self, status: int, headers: Iterable[tuple[bytes, bytes]]) -> None:
        headers = [(bytes(k), bytes(v)) for k, v in headers]
        self.started.set()
        if self._record is not None:
            self._record.status, self._record.headers = status, headers
            return
        self._stream = self.open_stream()
        self._stream.write(prelude(status, headers))  # headers reach the client before the first byte of body

    def body(self, data: bytes, more: bool = False) -> None:
        if self._record is not None:
            self._keep(data)
        elif self._stream is not None and data:
            self._stream.write(data)
        if not more:
            self.finish()

    @property
    def finished(self) -> bool:
        return self.done.is_set()

    def finish(self) -> None:
        if self.finished:
            return
        self.done.set()
        if self._record is not None:
            self._record.body = b"".join(self._parts)
        if self._stream is not None:
            self._stream.close()

    def whole(self, status: int, headers: Iterable[tuple[bytes, bytes]], body: bytes) -> None:
        self.start(status, headers)
        self.body(body)

    def divert(self, limit: int) -> HTTPResponseRecord:
        """From now on collect the response instead of streaming it, up to ``limit`` body bytes
        (past them the body is dropped and `too_large` set); only before it started."""
        assert self._stream is None, "a response already streaming cannot be diverted"
        self._record, self._limit = HTTPResponseRecord(500), limit
        return self._record

    def _keep(self, data: bytes) -> None:
        if self.too_large.is_set():
            return
        self._kept += len(data)
        if self._kept > self._limit:
            self._parts.clear()  # memory stays bounded by the limit, whatever the app goes on sending
            self.too_large.set()
        else:
            self._parts.append(data)


def stream_reply(reply: dict[str, Any], open_stream: OpenStream) -> None:
    """Stream a buffered payload-2.0-shaped reply (``statusCode``, ``headers``, ``cookies``, ``body``)."""
    headers = [(k.encode("latin-1"), str(v).encode("latin-1")) for k, v in (reply.get("headers") or {}).items()]
    headers += [(b"set-cookie", c.encode("latin-1")) for c in reply.get("cookies") or ()]
    body = reply.get("body") or ""
    data = base64.b64decode(body) if reply.get("isBase64Encoded") else str(body).encode()
    StreamedResponse(open_stream).whole(int(reply["statusCode"]), headers, data)


async def stream_asgi(app: ASGIApp, scope: Scope, body: bytes, response: StreamedResponse,
                      overtime: Callable[[asyncio.Future[None]], Awaitable[bool]] | None = None) -> None:
    """Serve one request through ``app`` into ``response``.  An error before the response started
    answers 500 (as Mangum does); one after it propagates, so the caller fails the stream.
    ``overtime(run)`` may take a request that has not started responding off the stream (True)."""
    run = asyncio.ensure_future(_run_app(app, scope, body, response))
    if overtime is not None and await overtime(run):
        return
    await run


async def _run_app(app: ASGIApp, scope: Scope, body: bytes, response: StreamedResponse) -> None:
    requested = False

    async def receive() -> Message:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": body, "more_body": False}
        await response.done.wait()  # as a server does: the client is gone once the response is done
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start" and not response.started.is_set():
            response.start(message["status"], message.get("headers") or [])
        elif message["type"] == "http.response.body" and response.started.is_set() and not response.finished:
            response.body(bytes(message.get("body", b"")), bool(message.get("more_body", False)))

    try:
        await app(scope, receive, send)
    except Exception:
        if response.started.is_set():
            raise
        log.exception("The web app failed before it responded")
        response.whole(500, [TEXT_PLAIN], b"Internal Server Error")
        return
    if not response.started.is_set():
        log.error("The web app returned without sending a response")
        response.whole(500, [TEXT_PLAIN], b"Internal Server Error")
    response.finish()  # an app that never sent more_body=False is done once it returns
