"""Small real apps the runtime tests serve: an ASGI app that echoes its scope, and a WSGI twin."""

from __future__ import annotations

import base64
import json
from typing import Any

PNG_BYTES = bytes(range(256))


async def echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Echo the request's scope as JSON; a few fixed paths exercise response shapes."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    status, headers, out = _route(scope, body)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": out})


def _route(scope: dict[str, Any], body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    path = scope["path"]
    if path == "/binary":
        return 200, [(b"content-type", b"image/png")], PNG_BYTES
    if path == "/cookies":
        return 201, [(b"set-cookie", b"a=1; Path=/"), (b"set-cookie", b"b=2"), (b"x-multi", b"one"),
                     (b"x-multi", b"two"), (b"content-type", b"text/plain")], b"ok"
    if path == "/empty":
        return 204, [], b""
    return 200, [(b"content-type", b"application/json")], json.dumps(describe(scope, body)).encode()


def describe(scope: dict[str, Any], body: bytes) -> dict[str, Any]:
    return {
        "method": scope["method"],
        "path": scope["path"],
        "raw_path": (scope.get("raw_path") or b"").decode("latin-1"),
        "query_string": scope["query_string"].decode("latin-1"),
        "headers": [[bytes(k).decode("latin-1"), bytes(v).decode("latin-1")] for k, v in scope["headers"]],
        "client": list(scope["client"]) if scope.get("client") else None,
        "body_b64": base64.b64encode(body).decode(),
    }


def wsgi_echo(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    body = environ["wsgi.input"].read()
    out = {
        "method": environ["REQUEST_METHOD"], "path": environ["PATH_INFO"], "query": environ["QUERY_STRING"],
        "header2": environ.get("HTTP_HEADER2"), "remote_addr": environ.get("REMOTE_ADDR"),
        "body_b64": base64.b64encode(body).decode(),
    }
    start_response("200 OK", [("Content-Type", "application/json"), ("Set-Cookie", "w=1"), ("Set-Cookie", "v=2")])
    return [json.dumps(out).encode()]
