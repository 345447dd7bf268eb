"""The request budget: run inline when the function fits, else 303 to a result URL.

A front door has a hard request limit (HTTP API: 30 s).  A function whose timeout fits
the budget runs inline with no extra hop.  Otherwise the request is stored as a call,
work starts elsewhere, and the front handler waits up to the budget; past it the client
gets ``303 See Other`` to the same URL plus ``__toolkit_call_id=<id>``.  A GET of that
result URL waits again, then returns the result or another 303.  Nothing runs twice:
the call id, not the request, identifies the work.

Front door (``runtime.FRONT_DOORS``): the SDK imports the request budget and the result-URL
parameter ``toolkit serve`` shares; `__all__` is what it offers.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import parse_qsl, quote, urlencode

from runtime.callstore.base import CallRecord, CallStore, is_call_id
from runtime.gateway.records import HTTPRequestRecord

__all__ = [
    "DEFAULT_BUDGET_S",
    "HTTP_API_BUDGET_S",
    "RESULT_QUERY_PARAM",
    "fits_inline",
    "result_call_id",
    "result_location",
    "same_origin_path",
    "wait_for_finish",
    "without_result_param",
]

RESULT_QUERY_PARAM = "__toolkit_call_id"
DEFAULT_BUDGET_S = 150.0
# API Gateway HTTP API cuts requests at 30 s; keep 5 s for the cold start, the store
# round trips and the response itself.
HTTP_API_BUDGET_S = 25.0
FIRST_POLL_S, MAX_POLL_S = 0.05, 0.5


def fits_inline(timeout: float | None, budget: float) -> bool:
    """True when the function is sure to finish (or time out) inside the budget."""
    return timeout is not None and timeout <= budget


def result_call_id(query_string: bytes) -> str | None:
    """The call id of a result URL, or None for an ordinary request (or a forged id)."""
    for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if key == RESULT_QUERY_PARAM:
            return value if is_call_id(value) else None
    return None


def without_result_param(query_string: bytes) -> str:
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    return urlencode([(k, v) for k, v in pairs if k != RESULT_QUERY_PARAM])


def result_location(request: HTTPRequestRecord, call_id: str) -> str:
    """The same URL (path and query) with the result parameter: relative, so any front door host works,
    and never pointing at another origin (see `same_origin_path`)."""
    path = same_origin_path(quote(request.raw_path.decode("latin-1"), safe="/%!$&'()*+,;=:@-._~"))
    path = same_origin_path(request.root_path + path)
    query = without_result_param(request.query_string)
    param = urlencode({RESULT_QUERY_PARAM: call_id})
    return f"{path}?{query}&{param}" if query else f"{path}?{param}"


def same_origin_path(path: str) -> str:
    """``path`` as an absolute path with exactly one leading slash.  A Location of ``//evil.example/x``
    is a scheme-relative URL: the client would follow it to evil.example (an open redirect), and a
    path without a leading slash (``https://evil.example``, possible in a Lambda event) is read as a
    URL too.  Backslashes, which browsers read as slashes, are already percent-encoded by then."""
    return "/" + path.lstrip("/")


async def wait_for_finish(store: CallStore, call_id: str, seconds: float) -> CallRecord | None:
    """Poll the store (off the event loop) until the call finishes or ``seconds`` pass."""
    deadline, interval = time.monotonic() + seconds, FIRST_POLL_S
    while True:
        record = await asyncio.to_thread(store.get, call_id)
        remaining = deadline - time.monotonic()
        if record is None or record.status.finished or remaining <= 0:
            return record
        await asyncio.sleep(min(interval, remaining))
        interval = min(interval * 2, MAX_POLL_S)
