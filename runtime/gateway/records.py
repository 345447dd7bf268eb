"""A web request and its response as plain data, so a worker elsewhere can replay the request.

When a request outlives the front door's budget, the front handler stores the request
as an `HTTPRequestRecord`; the worker (a Step Functions task on AWS, a thread under
`toolkit serve`) rebuilds the ASGI scope, runs the same app, and stores an
`HTTPResponseRecord` that any later GET of the result URL returns.

Front door (``runtime.FRONT_DOORS``): the SDK imports `HTTPRequestRecord` / `HTTPResponseRecord`,
the requests ``toolkit serve`` records and replays; `__all__` is what it offers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runtime.types import ASGIApp, Message, Scope

__all__ = ["HTTPRequestRecord", "HTTPResponseRecord", "run_asgi"]


@dataclass(frozen=True)
class HTTPRequestRecord:
    method: str
    path: str
    raw_path: bytes
    query_string: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""
    scheme: str = "https"
    client: tuple[str, int] | None = None
    server: tuple[str, int | None] | None = None
    root_path: str = ""

    @classmethod
    def from_scope(cls, scope: Scope, body: bytes) -> HTTPRequestRecord:
        raw = scope.get("raw_path") or scope["path"].encode()
        headers = [(bytes(k), bytes(v)) for k, v in scope.get("headers", [])]
        client = tuple(scope["client"]) if scope.get("client") else None
        server = tuple(scope["server"]) if scope.get("server") else None
        return cls(
            scope["method"], scope["path"], bytes(raw), bytes(scope.get("query_string", b"")), headers, body,
            scope.get("scheme", "https"), client, server, scope.get("root_path", ""),
        )

    def to_scope(self) -> Scope:
        return {
            "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
            "method": self.method, "path": self.path, "raw_path": self.raw_path, "root_path": self.root_path,
            "query_string": self.query_string, "headers": list(self.headers), "scheme": self.scheme,
            "client": self.client, "server": self.server,
        }


@dataclass
class HTTPResponseRecord:
    status: int
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""


async def run_asgi(app: ASGIApp, request: HTTPRequestRecord, state: dict[str, Any] | None = None) -> HTTPResponseRecord:
    """Drive one request through an ASGI app in-process and collect the whole response."""
    scope = request.to_scope()
    if state is not None:
        scope["state"] = dict(state)
    response = HTTPResponseRecord(500)
    parts: list[bytes] = []  # joined once at the end: `body += chunk` would copy the body per chunk
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": request.body, "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            response.status = message["status"]
            response.headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
        elif message["type"] == "http.response.body":
            parts.append(bytes(message.get("body", b"")))

    await app(scope, receive, send)
    response.body = b"".join(parts)
    return response
