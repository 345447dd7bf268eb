"""Request limits the front door enforces before user code runs: body size and request rate.

Plain functions and a token bucket, no server framework: the Lambda handler, the
ECS server and `toolkit serve` all call these.

Front door (``runtime.FRONT_DOORS``): the SDK imports the body and rate limits (`TokenBucket`,
`check_body_size`, their defaults) ``toolkit serve`` applies; `__all__` is what it offers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "DEFAULT_BURST_SECONDS",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_RATE_PER_SECOND",
    "LAMBDA_MAX_BODY_BYTES",
    "MiB",
    "Rejection",
    "TokenBucket",
    "check_body_size",
    "check_websocket_upgrade",
]

MiB = 1024 * 1024

# Lambda's synchronous invoke payload is 6 MB; a base64-encoded body grows by 4/3 and
# the event carries headers too, so a raw body above ~4.5 MB cannot arrive intact.
LAMBDA_MAX_BODY_BYTES = 4_500_000
DEFAULT_MAX_BODY_BYTES = 32 * MiB  # ECS / serve: a generous cap against accidental uploads
DEFAULT_RATE_PER_SECOND = 200.0
DEFAULT_BURST_SECONDS = 5.0


@dataclass(frozen=True)
class Rejection:
    """A request the gateway answers itself, with the reason the user sees."""

    status: int
    message: str
    headers: tuple[tuple[str, str], ...] = ()


def check_body_size(length: int, limit: int, served_by: str = "lambda") -> Rejection | None:
    """413 naming the limit and the remedies when a request body is over ``limit`` bytes."""
    if length <= limit:
        return None
    remedy = (
        "Deploy the function with backend=\"ecs\" for larger bodies, or upload the data to S3 "
        "and send its key (a claim-check)."
        if served_by == "lambda"
        else "Upload the data to S3 and send its key (a claim-check)."
    )
    return Rejection(413, f"Request body of {length} bytes exceeds the {limit} byte limit on the {served_by} backend. {remedy}")


def check_websocket_upgrade(headers: Iterable[Sequence[bytes]], served_by: str = "lambda") -> Rejection | None:
    """400 for a WebSocket handshake on a backend that answers one request with one response:
    Lambda's front doors (API Gateway HTTP/REST APIs, Function URLs, ALB) cannot hold the connection."""
    upgrade = [bytes(v).lower() for k, v in headers if bytes(k).lower() == b"upgrade"]
    if b"websocket" not in upgrade:
        return None
    return Rejection(400, f"WebSockets are not available on the {served_by} backend: it answers one request with one "
                          "response and cannot hold a connection open. Deploy this endpoint with backend=\"ecs\" "
                          "(served behind a load balancer that keeps WebSockets open).")


class TokenBucket:
    """Rate limit: ``rate`` requests per second with a burst of ``burst_seconds`` worth of tokens."""

    def __init__(
        self,
        rate: float = DEFAULT_RATE_PER_SECOND,
        burst_seconds: float = DEFAULT_BURST_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate, self.capacity, self._clock = rate, rate * burst_seconds, clock
        self._tokens, self._stamp = self.capacity, clock()
        self._lock = threading.Lock()

    def take(self) -> Rejection | None:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1:
                self._tokens -= 1
                return None
        retry = max(1, int(1 / self.rate + 0.999))
        return Rejection(429, f"Rate limit of {self.rate:g} requests/s exceeded; retry shortly.", (("retry-after", str(retry)),))
