"""The JSON shape of each web event source, checked before the event is parsed into a scope.

`sources.classify` looks only at the keys that tell sources apart; the rest of a Lambda event
is whatever JSON the invoker sent.  Parsing (Mangum plus `handlers`) assumes AWS's shapes: a
string where a list of strings belongs is iterated character by character (a 1 MB string as an
ALB ``multiValueHeaders`` value became a million header values: seconds of CPU), and a list
where the method belongs fails inside the app as a 500.  So each field the parsers read is
checked here against the type its source documents, in time proportional to the number of
fields and list items, never to the length of a string; the first mismatch is a
`MalformedEventError` naming the field, which the handler answers with a 400.  So is an event
with more header fields than any front door sends (`MAX_HEADER_FIELDS`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from runtime.events.sources import EventSource


class MalformedEventError(ValueError):
    """A web event whose fields do not have the types its source documents."""


Check = Callable[[Any], str | None]  # the problem with a value (what it should be), or None
_METHOD = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def _kind(value: Any) -> str:
    return "null" if value is None else {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(value), type(value).__name__)


def _optional(check: Check) -> Check:
    return lambda value: None if value is None else check(value)


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) else f"a string, not {_kind(value)}"


def _method(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"an HTTP method (a token such as GET), not {_kind(value)}"
    if not _METHOD.fullmatch(value):
        return f"an HTTP method (a token such as GET), not {value[:40]!r}"
    return None


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"true or false, not {_kind(value)}"


def _object(value: Any) -> str | None:
    return None if isinstance(value, dict) else f"an object, not {_kind(value)}"


def _strings(value: Any) -> str | None:
    if not isinstance(value, list):
        return f"an array of strings, not {_kind(value)}"
    bad = next((item for item in value if not isinstance(item, str)), None)
    return None if bad is None else f"an array of strings, not one holding {_kind(bad)}"


def _map_of(check: Check, what: str) -> Check:
    def mapping(value: Any) -> str | None:
        if not isinstance(value, dict):
            return f"an object of {what}, not {_kind(value)}"
        for key, item in value.items():
            if not isinstance(key, str) or check(item) is not None:
                return f"an object of {what}, not one with {key!r}: {_kind(item)}"
        return None

    return mapping


_STRING_MAP = _optional(_map_of(_string, "strings"))
_LIST_MAP = _optional(_map_of(_strings, "arrays of strings"))
_COMMON: dict[tuple[str, ...], Check] = {
    ("headers",): _STRING_MAP,
    ("queryStringParameters",): _STRING_MAP,
    ("body",): _optional(_string),
    ("isBase64Encoded",): _optional(_boolean),
}
_MULTI_VALUE: dict[tuple[str, ...], Check] = {
    ("httpMethod",): _method,
    ("path",): _string,
    ("multiValueHeaders",): _LIST_MAP,
    ("multiValueQueryStringParameters",): _LIST_MAP,
}
_PAYLOAD_V2: dict[tuple[str, ...], Check] = {
    **_COMMON,
    ("rawPath",): _optional(_string),
    ("rawQueryString",): _optional(_string),
    ("cookies",): _optional(_strings),
    ("requestContext", "http"): _object,
    ("requestContext", "http", "method"): _method,
    ("requestContext", "http", "path"): _optional(_string),
    ("requestContext", "http", "sourceIp"): _optional(_string),
}
FIELDS: dict[EventSource, dict[tuple[str, ...], Check]] = {
    EventSource.REST_V1: {**_COMMON, **_MULTI_VALUE, ("requestContext", "identity"): _optional(_object),
                          ("requestContext", "identity", "sourceIp"): _optional(_string)},
    EventSource.ALB: {**_COMMON, **_MULTI_VALUE},
    EventSource.HTTP_V2: _PAYLOAD_V2,
    EventSource.FUNCTION_URL: _PAYLOAD_V2,
}


MAX_HEADER_FIELDS = 16_384
"""More header fields than any AWS front door delivers: ALB's limit is 64 KB of headers, and the
smallest field (``a:`` plus CRLF) is 4 bytes.  API Gateway and Function URLs allow far less (10 KB)."""


def event_problem(event: dict[str, Any], source: EventSource) -> str | None:
    """What is wrong with a web ``event`` of ``source`` (the first field of the wrong type, or too
    many header fields), or None."""
    for path, check in FIELDS.get(source, {}).items():
        value = _lookup(event, path)
        if value is not _ABSENT and (problem := check(value)) is not None:
            return f"{'.'.join(path)} must be {problem}."
    if (count := header_fields(event)) > MAX_HEADER_FIELDS:
        return (f"headers must hold at most {MAX_HEADER_FIELDS} fields (no AWS front door sends more), not {count}: "
                "send fewer headers.")
    return None


def header_fields(event: dict[str, Any]) -> int:
    """How many header fields a type-checked event carries: ``headers``, ``multiValueHeaders``' values
    and ``cookies`` (cheap: lengths only, never the strings)."""
    multi = event.get("multiValueHeaders") or {}
    return len(event.get("headers") or {}) + sum(len(v) for v in multi.values()) + len(event.get("cookies") or [])


def check_event(event: dict[str, Any], source: EventSource) -> None:
    if (problem := event_problem(event, source)) is not None:
        raise MalformedEventError(problem)


_ABSENT = object()


def _lookup(event: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = event
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return _ABSENT  # a missing parent was reported (or allowed) at its own path
        value = value[key]
    return value
