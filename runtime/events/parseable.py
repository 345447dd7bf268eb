"""The copy of a web event Mangum parses, and the ASGI ``server`` it cannot compute.

Mangum's handlers assume AWS's exact shapes in three places where an event that passed
`runtime.events.shape` (the types each source documents, ``null`` allowed where a field is
optional) still raised, so a request was refused with a 400 naming a Python error instead of
being served:

* ``Host`` and ``X-Forwarded-Port`` go through one ``split(":")`` and ``int()``: an IPv6 literal
  (``Host: [2001:db8::1]``, which an ALB passes on as the client sent it) or a non-numeric port raised;
* ``headers: null`` (payload 2.0) and ``requestContext.identity: null`` (REST) were read with ``.items()`` / ``.get``;
* a payload 2.0 event without ``requestContext.http.sourceIp`` raised ``KeyError``.

So Mangum gets `parseable(event)`: a shallow copy without those two headers, with an empty map
(or list) for each optional field that is ``null``, and an empty ``sourceIp`` where it is missing.  Our handlers then
put the event's own headers back into the scope and compute ``server`` with `server_of`.
"""

from __future__ import annotations

from typing import Any

from mangum.types import LambdaEvent

SERVER_HEADERS = ("host", "x-forwarded-port")
_OPTIONAL = ("headers", "multiValueHeaders", "queryStringParameters", "multiValueQueryStringParameters", "cookies")


def parseable(event: LambdaEvent) -> LambdaEvent:
    """A shallow copy of a type-checked web ``event`` that Mangum's handlers parse without raising."""
    copy: dict[str, Any] = dict(event)
    for key in _OPTIONAL:
        if key in copy and copy[key] is None:
            copy[key] = [] if key == "cookies" else {}
    for key in ("headers", "multiValueHeaders"):
        if isinstance(copy.get(key), dict):
            copy[key] = {name: value for name, value in copy[key].items() if name.lower() not in SERVER_HEADERS}
    context = dict(copy.get("requestContext") or {})
    if context.get("identity", {}) is None:
        del context["identity"]
    if isinstance(context.get("http"), dict) and "sourceIp" not in context["http"]:
        context["http"] = {**context["http"], "sourceIp": ""}
    copy["requestContext"] = context
    return copy


def server_of(headers: list[list[bytes]], default_port: int = 80) -> tuple[str, int]:
    """ASGI ``server`` from the request's last ``Host`` (an IPv6 literal keeps its brackets off) and,
    when it names no port, ``X-Forwarded-Port``.  A port that is not a number is ignored, not fatal;
    no Host at all gives Mangum's own ``("mangum", port)``."""
    values = {bytes(name).lower(): bytes(value).decode("latin-1").strip() for name, value in headers}
    host = values.get(b"host", "")
    name, port = _split_host(host)
    chosen = next((p for p in (port, values.get(b"x-forwarded-port", "")) if p.isdigit() and int(p) < 65536), None)
    return name or "mangum", int(chosen) if chosen is not None else default_port


def _split_host(host: str) -> tuple[str, str]:
    if host.startswith("["):  # [v6 address] or [v6 address]:port
        address, _, rest = host[1:].partition("]")
        return address, rest[1:] if rest.startswith(":") else ""
    if host.count(":") == 1:
        name, _, port = host.partition(":")
        return name, port
    return host, ""  # a bare name, or an unbracketed IPv6 address (no port can be told apart)
