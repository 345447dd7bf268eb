"""What a client connection may hold of the gateway: head size, read timeouts, body rate, a cap.

Why: the gateway is a server on a developer's machine that any local process (and any web
page, through DNS rebinding) can reach.  Without limits, one connection sending an endless
header grows the gateway's memory, a few connections trickling request bodies hold every
worker of an endpoint, and idle sockets pile up until ``accept`` fails for everyone.  The
limits are those production front proxies use (nginx, Kestrel, Apache ``RequestReadTimeout``):

* the request head is capped (`ClientLimits.max_head_bytes`, 431 past it), so the parser
  never holds more than that plus one read;
* a head must arrive whole within `header_timeout` of its first byte (of the connection's
  opening, for the first request): 408, or a silent close when nothing came;
* a body must keep coming: each read within `body_timeout` of the last, and after a grace
  period of `body_grace` seconds at `min_body_rate` bytes a second on average (Kestrel's
  defaults).  That is how a client that trickles its body is kept from holding a worker: the
  relay hands a request to a worker as soon as its head is read (so uploads stream and a
  worker sees them at once), and a body that does not arrive fast enough ends the request
  with 408, which frees the worker within about `body_grace` seconds;
* a chunked body's framing (size lines, extensions, trailers) may not outgrow its data by more
  than `FRAMING_ROOM` plus `FRAMING_PER_BYTE` per data byte (400 past it): llhttp streams
  extensions and trailers without a cap, and they are not body, so the body limit never sees them;
* a connection kept alive between requests closes after `idle_timeout` (uvicorn's keep-alive
  timer, set from it by `toolkit.serve.server`);
* past `max_connections` open connections (lowered to fit the open-file limit: each relayed
  request holds a client socket and a worker socket), a new connection gets 503 and is
  closed, instead of ``accept`` failing with EMFILE for everyone.

Time spent while the gateway itself stopped reading (flow control: a worker slower than
the upload, a pipelined request waiting its turn) does not count against the client.

Each limit is a setting: ``TOOLKIT_SERVE_<NAME>`` in the environment (`from_environ`), and a
`toolkit serve` option that overrides it (`toolkit.cli.serve_cmd.CLIENT_LIMITS`: names, units, ranges).
"""

from __future__ import annotations

import enum
import math
import os
import resource
from collections.abc import Mapping
from dataclasses import dataclass, fields

from toolkit.exception import InvalidError

KiB = 1024
# a request body's framing (chunk-size lines, chunk extensions, trailers) beyond its data: llhttp
# streams it past without a cap, so an endless chunk extension would hold a worker with no byte
# of body ever counting toward the body limit.  Allowed: this much, plus 8 bytes per data byte
# (a chunk of one byte with a short size line costs about 6)
FRAMING_ROOM = 64 * KiB
FRAMING_PER_BYTE = 8
FDS_RESERVED = 128  # descriptors kept for everything else: workers' pipes, the call store, reloads, logs
ENV_PREFIX = "TOOLKIT_SERVE_"


@dataclass(frozen=True)
class ClientLimits:
    max_head_bytes: int = 64 * KiB  # request line and headers (nginx: 4 x 8 KiB buffers; Node: 16 KiB)
    header_timeout: float = 20.0  # seconds for a whole request head
    body_timeout: float = 60.0  # seconds between two reads of a request body (nginx client_body_timeout)
    min_body_rate: float = 240.0  # bytes per second, on average, after body_grace (Kestrel's minimum)
    body_grace: float = 5.0
    idle_timeout: float = 75.0  # seconds a kept-alive connection waits for its next request (nginx)
    max_connections: int = 4096

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> ClientLimits:
        """The defaults, each overridden by ``TOOLKIT_SERVE_<FIELD>`` (e.g. ``TOOLKIT_SERVE_HEADER_TIMEOUT=5``)."""
        values: dict[str, float | int] = {}
        for spec in fields(cls):
            name = ENV_PREFIX + spec.name.upper()
            raw = environ.get(name)
            if raw is not None:
                values[spec.name] = _positive(name, raw, int if spec.type == "int" else float)
        return cls(**values)  # type: ignore[arg-type]

    @property
    def tick(self) -> float:
        """The shortest limit: a connection's timer fires at least this often, so no deadline set
        later (each at least this far off) is ever missed."""
        return min(self.header_timeout, self.body_timeout, self.body_grace)

    def connection_cap(self) -> int:
        """`max_connections`, lowered so that the gateway's sockets stay under the open-file limit."""
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            return self.max_connections
        return max(1, min(self.max_connections, (soft - FDS_RESERVED) // 2))


def _positive(name: str, raw: str, kind: type[int] | type[float]) -> float | int:
    try:
        value = kind(raw)
    except ValueError:
        value = -1
    if not value > 0 or (isinstance(value, float) and math.isinf(value)):
        raise InvalidError(f"{name}={raw!r} is not a positive {'whole ' if kind is int else ''}number; "
                           f"set it to e.g. {kind(getattr(ClientLimits, name[len(ENV_PREFIX):].lower()))} or unset it.")
    return value


class Phase(enum.Enum):
    """Where a client connection is in reading its requests (`ReadClock`)."""

    HEAD = "reading a request head: whole within header_timeout of its first byte (or of the connection's opening)"
    BODY = "reading a request body: each read within body_timeout, and min_body_rate on average after body_grace"
    WAITING = "the request is read (or none began): the function's timeout and the idle timeout apply, not these"


class ReadClock:
    """The read deadlines of one client connection, kept as numbers: nothing is scheduled per
    request.  The connection's one timer fires at least every `ClientLimits.tick` seconds and
    asks `expired`; a deadline set later is at least that far off, so none is missed."""

    __slots__ = ("limits", "phase", "head_bytes", "deadline", "body_start", "body_bytes", "body_data", "last_read",
                 "paused_at")

    def __init__(self, limits: ClientLimits, now: float) -> None:
        self.limits = limits
        self.phase = Phase.HEAD  # a fresh connection owes its first request's head
        self.head_bytes = 0  # bytes read of the head in progress (the cap counts them)
        self.deadline = now + limits.header_timeout
        self.body_start = self.last_read = 0.0
        self.body_bytes = 0  # bytes read of the body in progress, as sent (framing included)
        self.body_data = 0  # of those, the body's data (what the parser passed on)
        self.paused_at: float | None = None  # the gateway stopped reading: the client is not to blame

    def head(self, now: float) -> None:
        """A request head began (its first byte)."""
        if self.phase is not Phase.HEAD:
            self.phase, self.deadline = Phase.HEAD, now + self.limits.header_timeout

    def body(self, now: float) -> None:
        """The client is now expected to send a request body."""
        self.phase, self.body_start, self.last_read, self.body_bytes, self.body_data = Phase.BODY, now, now, 0, 0

    def waiting(self) -> None:
        """The request was read; what comes next counts toward the next request's head."""
        self.phase, self.head_bytes = Phase.WAITING, 0

    def read(self, size: int, now: float) -> None:
        if self.phase is Phase.BODY:
            self.body_bytes += size
            self.last_read = now
        else:
            self.head_bytes += size

    def pause(self, now: float) -> None:
        if self.paused_at is None:
            self.paused_at = now

    def resume(self, now: float) -> None:
        if self.paused_at is None:
            return
        spent, self.paused_at = now - self.paused_at, None
        self.deadline += spent
        self.body_start += spent
        self.last_read += spent

    def due(self) -> float:
        """When the current phase's deadline falls, as things stand (infinity: none)."""
        if self.paused_at is not None or self.phase is Phase.WAITING:
            return math.inf
        if self.phase is Phase.HEAD:
            return self.deadline
        limits = self.limits
        by_rate = self.body_start + max(limits.body_grace, self.body_bytes / limits.min_body_rate)
        return min(self.last_read + limits.body_timeout, by_rate)

    def expired(self, now: float) -> str | None:
        """Why the client ran out of time (a sentence for the 408), or None while it has some."""
        if self.due() > now:
            return None
        limits = self.limits
        if self.phase is Phase.HEAD:
            return f"The request head did not arrive whole within {limits.header_timeout:g} s."
        if now - self.last_read >= limits.body_timeout:
            return f"The request body stopped arriving: nothing for {limits.body_timeout:g} s."
        rate = self.body_bytes / max(now - self.body_start, 1e-9)
        return (f"The request body arrived too slowly ({rate:.0f} bytes/s; at least "
                f"{limits.min_body_rate:g} bytes/s is needed after the first {limits.body_grace:g} s).")

    def framing_over(self) -> str | None:
        """Why the body's framing is refused (a sentence for the 400), or None while it is within bounds."""
        framing = self.body_bytes - self.body_data
        if framing <= FRAMING_ROOM + FRAMING_PER_BYTE * self.body_data:
            return None
        return (f"The request body's chunked framing (chunk sizes, extensions, trailers) came to {framing} bytes "
                f"for {self.body_data} bytes of data, over toolkit serve's allowance ({FRAMING_ROOM} bytes plus "
                f"{FRAMING_PER_BYTE} per byte of data); send the body in ordinary chunks.")

    def next_check(self, now: float) -> float:
        return min(self.due(), now + self.limits.tick)
