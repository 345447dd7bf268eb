"""What to say about an event this function does not serve: named for what arrived, with the fix.

A Lambda can be invoked by anything its resource policy or an IAM caller allows: a WebSocket
API route, an S3 or SQS trigger someone added, an EventBridge rule, the console's test event.
None of those is an HTTP request or a toolkit call, so the handler refuses them with a reply
(not a raised error: Lambda retries a failed asynchronous invoke, and the trigger would fire
the same refusal three times) whose message says what the event was and what to do instead.
"""

from __future__ import annotations

from typing import Any

from runtime.events.sources import EventSource

_WEBSOCKET_FIX = ('Serve WebSockets from a web endpoint deployed with backend="ecs" (a load balancer holds the '
                  "connection open) and point clients at its URL instead of a WebSocket API.")


def refusal(event: Any, source: EventSource, function: str, is_web: bool) -> str:
    """Why ``event`` (classified as ``source``) is not served by ``function``, and what to do."""
    if source is EventSource.WEBSOCKET:
        return websocket_refusal(event)
    arrived = _what_arrived(event)
    if is_web:
        return (f"{arrived} reached web endpoint {function!r}, which answers HTTP requests from API Gateway (REST or "
                f"HTTP API), a Function URL or an ALB. {_not_toolkits(event)}")
    return (f"{arrived} reached {function!r}. {function!r} is a plain function: call it with .remote() or .spawn() "
            '(or `toolkit run`), which invoke it with toolkit\'s call payload {"toolkit_event": "call", ...}. '
            f"{_not_toolkits(event)}")


def websocket_refusal(event: dict[str, Any]) -> str:
    context = event.get("requestContext") or {}
    kind, route = str(context.get("eventType"))[:40], str(context.get("routeKey"))[:80]
    return (f"API Gateway WebSocket events are not served (this one: {kind} on route {route!r}): a Lambda web "
            f"endpoint answers one HTTP request with one response and cannot hold a connection. {_WEBSOCKET_FIX}")


def _what_arrived(event: Any) -> str:
    if not isinstance(event, dict):
        return f"Unrecognised event (a {type(event).__name__}, not a JSON object)"
    records = event.get("Records")
    if isinstance(records, list) and records and isinstance(records[0], dict):
        first = records[0]
        service = first.get("eventSource") or first.get("EventSource") or "an unknown service"
        return f"A notification from {str(service)[:40]} ({len(records)} record(s))"
    if "detail-type" in event and "source" in event:
        rules = event.get("resources") if isinstance(event.get("resources"), list) else []
        rule = f" from {str(rules[0])[:200]}" if rules else ""
        return f"An EventBridge {str(event['detail-type'])[:60]!r} event (source {str(event['source'])[:60]}){rule}"
    return f"Unrecognised event (keys: {sorted(map(str, event))[:8]}), neither an HTTP request nor a toolkit call,"


def _not_toolkits(event: Any) -> str:
    if isinstance(event, dict) and ("Records" in event or "detail-type" in event):
        return ("toolkit deploys no such trigger (its schedules send a call payload through EventBridge Scheduler): "
                "remove this trigger or rule from the Lambda, or handle these events in a function of your own.")
    return "Nothing was run."
