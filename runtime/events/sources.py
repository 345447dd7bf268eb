"""Which kind of Lambda event arrived: a web request (and from which front door) or a toolkit call.

Classification looks only at the keys each source documents, so an unknown or
malformed event is recognised as such instead of being half-parsed.
"""

from __future__ import annotations

import enum
from typing import Any

TOOLKIT_EVENT_KEY = "toolkit_event"


class EventSource(str, enum.Enum):
    REST_V1 = "rest_v1"  # API Gateway REST API (payload format 1.0)
    HTTP_V2 = "http_v2"  # API Gateway HTTP API (payload format 2.0)
    FUNCTION_URL = "function_url"  # Lambda Function URL (payload format 2.0, *.lambda-url.* domain)
    ALB = "alb"  # Application Load Balancer target group
    CALL = "call"  # a direct invoke carrying a .remote() / .spawn() payload
    WORKER_TASK = "worker_task"  # a Step Functions task: run a stored call
    WEBSOCKET = "websocket"  # an API Gateway WebSocket API route ($connect, a message, $disconnect): not served
    UNKNOWN = "unknown"

    @property
    def is_web(self) -> bool:
        return self in (EventSource.REST_V1, EventSource.HTTP_V2, EventSource.FUNCTION_URL, EventSource.ALB)


def classify(event: Any) -> EventSource:
    if not isinstance(event, dict):
        return EventSource.UNKNOWN
    if TOOLKIT_EVENT_KEY in event:
        return _classify_toolkit(event[TOOLKIT_EVENT_KEY])
    context = event.get("requestContext")
    if not isinstance(context, dict):
        return EventSource.UNKNOWN
    if "connectionId" in context and "eventType" in context:  # only WebSocket APIs send these
        return EventSource.WEBSOCKET
    if "elb" in context:
        return EventSource.ALB if "httpMethod" in event else EventSource.UNKNOWN
    if event.get("version") == "2.0":
        return _classify_v2(context)
    if "httpMethod" in event and "path" in event:  # their types are `shape`'s to check (a 400 naming them)
        return EventSource.REST_V1
    return EventSource.UNKNOWN


def _classify_toolkit(kind: Any) -> EventSource:
    try:
        source = EventSource(kind)
    except ValueError:
        return EventSource.UNKNOWN
    return source if source in (EventSource.CALL, EventSource.WORKER_TASK) else EventSource.UNKNOWN


def _classify_v2(context: dict[str, Any]) -> EventSource:
    http = context.get("http")
    if not isinstance(http, dict) or "method" not in http:
        return EventSource.UNKNOWN
    # Function URLs and HTTP APIs share payload 2.0; only the domain tells them apart.
    if ".lambda-url." in str(context.get("domainName", "")):
        return EventSource.FUNCTION_URL
    return EventSource.HTTP_V2
