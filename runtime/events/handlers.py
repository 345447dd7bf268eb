"""Thin corrections over Mangum's event handlers, each for a conformance gap a test shows.

Mangum does the heavy lifting (event -> ASGI scope, ASGI response -> the source's
response shape).  We subclass its handlers only where the scope it builds loses
information the app needs:

* ``raw_path`` is always None in Mangum; frameworks need the still-encoded path to
  tell ``/a%2Fb`` from ``/a/b``.  We pass the path bytes as the front door encoded them.
* HTTP API (payload 2.0 on execute-api) already delivers ``rawPath`` decoded, while
  Function URLs, REST APIs and ALB keep percent-encoding (live captures, see
  hotsock/voker#8).  Mangum unquotes ``requestContext.http.path`` for both, so an
  HTTP API path containing a literal ``%20`` was decoded twice.
* REST (v1) ``multiValueHeaders`` were joined into one ``"a, b"`` header; ASGI allows
  repeated header entries, so we keep one entry per value (``request.headers.getlist``).
* The source IP can arrive in CIDR form (``192.168.0.1/32`` in AWS's own samples); the
  ASGI ``client`` host must be an address, so a host-length prefix is dropped.
* ALB: Mangum takes the whole ``X-Forwarded-For`` value as the client; the address the
  load balancer itself saw is the last entry (earlier ones are client-supplied).
* ALB: the response carries ``statusDescription`` (``"201 Created"``), as AWS's target-group
  response format shows; Mangum leaves it out.
* Payload 2.0 ``rawQueryString`` goes into ``query_string`` as given; bytes a URL may not carry
  (non-ASCII, spaces, controls) are percent-encoded, as the ASGI spec requires.
"""

from __future__ import annotations

import binascii
import re
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, unquote

from mangum.handlers import ALB, APIGateway, HTTPGateway
from mangum.handlers.alb import transform_headers
from mangum.handlers.utils import maybe_encode_body
from mangum.types import LambdaConfig, LambdaContext, LambdaEvent, Response, Scope

from runtime.events.parseable import parseable, server_of
from runtime.events.shape import MalformedEventError
from runtime.events.sources import EventSource, classify

_PATH_SAFE = "/!$&'()*+,;=:@-._~"  # RFC 3986 pchar minus '%': what may stay unescaped in a path


def client_address(value: Any) -> str | None:
    """An address from a source IP field: drops a ``/32`` or ``/128`` host prefix."""
    if not isinstance(value, str) or not value:
        return None
    host, _, prefix = value.partition("/")
    return host if prefix in ("", "32", "128") else value


def forwarded_client(x_forwarded_for: str) -> str | None:
    """The address the load balancer saw: the last hop of ``X-Forwarded-For``."""
    hops = [hop.strip() for hop in x_forwarded_for.split(",") if hop.strip()]
    return hops[-1] if hops else None


def _encoded_path(path: str) -> bytes:
    return path.encode("utf-8") if path else b"/"


def event_body(event: LambdaEvent) -> bytes:
    """The request body, as Mangum decodes it; a body marked base64 that is not is a `MalformedEventError`
    naming the field (binascii's own error read ``Error: Invalid base64-encoded string``)."""
    try:
        return maybe_encode_body(event.get("body") or b"", is_base64=bool(event.get("isBase64Encoded")))
    except binascii.Error as exc:
        raise MalformedEventError(f"body must be base64 when isBase64Encoded is true ({exc}).") from None


def _decoded(path: str) -> str:
    return unquote(path) if path else "/"


class RestApiV1(APIGateway):
    """API Gateway REST API (payload 1.0): repeated headers kept, encoded raw path."""

    @classmethod
    def infer(cls, event: LambdaEvent, context: LambdaContext, config: LambdaConfig) -> bool:
        return classify(event) is EventSource.REST_V1

    @property
    def body(self) -> bytes:
        return event_body(self.event)

    @property
    def scope(self) -> Scope:
        scope = _parsed(self, super(), _rest_v1_headers(self.event))
        scope["raw_path"] = _encoded_path(self.event["path"])
        scope["client"] = (client_address((self.event["requestContext"].get("identity") or {}).get("sourceIp")), 0)
        return scope


def _parsed(handler: Any, mangum: Any, headers: list[list[bytes]]) -> Scope:
    """Mangum's scope for ``handler.event``, parsed from `parseable`'s copy, with the event's own
    ``headers`` and ``aws.event`` put back and ``server`` from `server_of`."""
    event = handler.event
    handler.event = parseable(event)
    try:
        scope: Scope = mangum.scope
    finally:
        handler.event = event
    scope["headers"], scope["aws.event"] = headers, event
    scope["server"] = server_of(headers)
    return scope


def _rest_v1_headers(event: LambdaEvent) -> list[list[bytes]]:
    """One ASGI header entry per value; ``multiValueHeaders`` wins over ``headers`` per name."""
    multi = {k.lower(): v for k, v in (event.get("multiValueHeaders") or {}).items()}
    single = {k.lower(): [v] for k, v in (event.get("headers") or {}).items() if k.lower() not in multi}
    merged: dict[str, list[str]] = {**single, **multi}
    return [[name.encode(), str(value).encode()] for name, values in merged.items() for value in values or []]


class HttpApiV2(HTTPGateway):
    """Payload 2.0 (HTTP API and Function URL): path decoded once, encoded raw path."""

    @classmethod
    def infer(cls, event: LambdaEvent, context: LambdaContext, config: LambdaConfig) -> bool:
        return classify(event) in (EventSource.HTTP_V2, EventSource.FUNCTION_URL)

    @property
    def body(self) -> bytes:
        return event_body(self.event)

    @property
    def scope(self) -> Scope:
        scope = _parsed(self, super(), _v2_headers(self.event))
        raw = self.event.get("rawPath") or self.event["requestContext"]["http"].get("path") or "/"
        if classify(self.event) is EventSource.HTTP_V2:
            # HTTP API hands over rawPath already decoded: re-encode it for raw_path, never decode again.
            scope["path"], scope["raw_path"] = raw, quote(raw, safe=_PATH_SAFE).encode()
        else:
            scope["path"], scope["raw_path"] = _decoded(raw), _encoded_path(raw)
        scope["query_string"] = percent_encoded(scope["query_string"])
        scope["client"] = (client_address(self.event["requestContext"]["http"].get("sourceIp")), 0)
        return scope


def _v2_headers(event: LambdaEvent) -> list[list[bytes]]:
    """Payload 2.0 headers as Mangum reads them (lower-cased, one value per name), cookies as one header."""
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    if event.get("cookies"):
        headers["cookie"] = "; ".join(event["cookies"])
    return [[k.encode(), v.encode()] for k, v in headers.items()]


_NOT_IN_QUERY = re.compile(rb"[^\x21-\x7e]")


def percent_encoded(query: bytes) -> bytes:
    """``rawQueryString`` as ASGI's ``query_string`` must be: percent-encoded ASCII.  AWS sends it
    encoded, but an event is any JSON: a raw ``é`` or space would reach the app as bytes a server
    never passes on (a2wsgi decodes the query as ASCII: a 500)."""
    if query.isascii() and not _NOT_IN_QUERY.search(query):
        return query
    return _NOT_IN_QUERY.sub(lambda byte: b"%%%02X" % byte.group()[0], query)


class LoadBalancer(ALB):
    """ALB target group: client from the last X-Forwarded-For hop, encoded raw path."""

    @classmethod
    def infer(cls, event: LambdaEvent, context: LambdaContext, config: LambdaConfig) -> bool:
        return classify(event) is EventSource.ALB

    @property
    def body(self) -> bytes:
        return event_body(self.event)

    @property
    def scope(self) -> Scope:
        scope = _parsed(self, super(), _alb_headers(self.event))
        scope["raw_path"] = _encoded_path(self.event.get("path") or "/")
        scope["client"] = (forwarded_client(_last_header(scope, b"x-forwarded-for")), 0)
        return scope

    def __call__(self, response: Response) -> dict[str, Any]:
        out = super().__call__(response)
        out["statusDescription"] = status_description(response["status"])
        return out


def alb_reply(event: LambdaEvent, reply: dict[str, Any]) -> dict[str, Any]:
    """A runtime-level reply (`runtime.invocation.error_reply`: plain ``headers``, no encoding flag) in
    the shape an ALB target group needs: ``isBase64Encoded`` and ``statusDescription``, and
    ``multiValueHeaders`` instead of ``headers`` when the event came with them (the target group has
    multi-value headers on, and reads only that key).  A reply the bridge shaped already passes through."""
    if "statusDescription" in reply or not isinstance(reply.get("statusCode"), int):
        return reply
    shaped = {**reply, "statusDescription": status_description(reply["statusCode"]),
              "isBase64Encoded": reply.get("isBase64Encoded", False)}
    if "multiValueHeaders" in event and isinstance(shaped.get("headers"), dict):
        shaped["multiValueHeaders"] = {name: [value] for name, value in shaped.pop("headers").items()}
    return shaped


def status_description(status: int) -> str:
    """An ALB response's ``statusDescription``: the code and its reason phrase (``"404 Not Found"``)."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:  # a code without a registered phrase (e.g. 599) still gets a well-formed line
        return str(status)


def _alb_headers(event: LambdaEvent) -> list[list[bytes]]:
    """ALB headers as Mangum reads them: ``multiValueHeaders`` when the target group sends them, else ``headers``."""
    multi = event.get("multiValueHeaders")
    own = {"multiValueHeaders": multi} if isinstance(multi, dict) else {"headers": event.get("headers") or {}}
    return [list(header) for header in transform_headers(own)]


def _last_header(scope: Scope, name: bytes) -> str:
    values = [bytes(v).decode("latin-1") for k, v in scope["headers"] if bytes(k) == name]
    return ", ".join(values)


WEB_HANDLERS: list[type[Any]] = [RestApiV1, HttpApiV2, LoadBalancer]
"""Passed to ``Mangum(custom_handlers=...)``: tried before Mangum's own handlers."""
