"""A newer ``toolkit serve`` of the same endpoints takes them over from an older one.

The hosted platform's rule for ephemeral apps: the latest iteration of an endpoint serves
it and older ones stop receiving its traffic.  Locally an endpoint is its label (the host
name ``<workspace>--<label>-dev``), and `toolkit.serve.registry` records which serve holds
which labels.  This module is one serve's side of it, its `Tenure`:

* on the same port (both default to 8000): the newer serve asks the older one to hand
  over and binds the port as soon as it is free.  The older one stops accepting, lets its
  in-flight requests finish, stops its workers (ASGI lifespan shutdown runs) and exits 0.
  An older serve only yields its port when the newer one serves every label it holds;
  otherwise the newer one fails with a message naming the labels and the holder's pid.
* on different ports: the older serve stops routing the taken labels and answers them
  with a 307 redirect to the newer serve's URL (method and body kept), and its index stops
  listing them.  Once the newer serve has stopped, the older one answers 404 saying so;
  a reload or a restart of the older serve claims the labels back.

A serve registers again on every live reload: it takes its labels from older serves and
leaves those a newer serve holds alone.  Older serves notice a takeover by polling the
registry file (one ``stat`` every `REGISTRY_POLL_S`), never on the request path.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from runtime.adapters.web_server import request_target
from runtime.gateway.limits import Rejection
from runtime.gateway.middleware import reject
from runtime.types import Scope, Send
from toolkit.exception import InvalidError
from toolkit.serve.index import endpoint_url
from toolkit.serve.registry import Holder, ProcessId, ServeRecord, ServeRegistry, Serves
from toolkit.serve.routes import Moved, RouteTable

REGISTRY_POLL_S = 0.25
HANDOVER_WAIT_S = 15.0  # the older serve closes its listener within a poll; this is for one that hangs
BIND_RETRY_S = 0.05
# how long a web_server worker here waits for its port after a takeover: the older serve's worker
# on that port stops once its own requests finish (plus its stop grace)
WORKER_PORT_WAIT_S = 10.0


class TakenOver(Exception):  # noqa: N818 - an event, not a failure: the serve stops with exit code 0
    """A newer serve took this one's port over before it started serving."""

    def __init__(self, holder: Holder) -> None:
        super().__init__(holder)
        self.holder = holder


@dataclass(frozen=True)
class News:
    """What changed for this serve in the registry."""

    handover: Holder | None  # a newer serve wants this serve's port: stop
    moved: dict[str, Moved]  # labels newer serves hold now, by host


class Tenure:
    """One serve's entry in the registry, from binding its port to leaving."""

    def __init__(self, host: str, port: int, origin: str, app: str, registry: ServeRegistry | None = None, *,
                 source: str = "", is_module: bool = False) -> None:
        self.registry = registry or ServeRegistry()
        self.record = ServeRecord(ProcessId.current(), host, port, origin, app, time.time(), source=source,
                                  is_module=is_module, cwd=os.getcwd())
        self.joined = False
        self.took_over = False  # this serve took labels or a port from an older one

    @property
    def process(self) -> ProcessId:
        return self.record.process

    # -- starting ---------------------------------------------------------------------------------
    async def bind(self, routes: RouteTable, listen: Callable[[], socket.socket],
                   log: Callable[[str], None]) -> socket.socket:
        """The listening socket, taken over from older serves on the port when they hold it.

        ``listen`` binds the port or raises `InvalidError` (a program that is not a
        toolkit serve holds it).  Raises `TakenOver` if a yet newer serve takes over first.
        """
        with self.registry.edit() as serves:
            holders = [r for r in serves.others(self.process) if r.port == self.record.port]
            if not holders:
                sock = listen()  # under the lock: a serve starting at the same time then sees this one
                self._register(serves, routes)
                self.joined = True
                return sock
            for record in holders:
                if (why := _refusal(record, routes, self.record.app)) is not None:
                    raise InvalidError(why)
                record.handover_to = self.record.holder
            self._register(serves, routes)
            self.joined = self.took_over = True
        pids = ", ".join(str(r.process.pid) for r in holders)
        log(f"Taking over port {self.record.port} from the older toolkit serve (pid {pids}).")
        return await self._wait_for_port(holders, listen)

    async def _wait_for_port(self, holders: list[ServeRecord], listen: Callable[[], socket.socket]) -> socket.socket:
        deadline = time.monotonic() + HANDOVER_WAIT_S
        while True:
            try:
                return listen()
            except InvalidError:
                alive = [r for r in holders if r.process.alive()]
                if not alive:
                    raise  # the serves are gone but something else holds the port: the plain error
                if time.monotonic() > deadline:
                    raise InvalidError(
                        f"Port {self.record.port} is still held by toolkit serve (pid {alive[0].process.pid}), "
                        f"which was asked {HANDOVER_WAIT_S:.0f} s ago to hand it over; stop it (Ctrl-C in its "
                        "terminal) or choose another --port.") from None
            if (handover := self._handover(self.registry.read())) is not None:
                raise TakenOver(handover)
            await asyncio.sleep(BIND_RETRY_S)

    # -- serving ----------------------------------------------------------------------------------
    def register(self, routes: RouteTable) -> dict[str, Moved]:
        """Claim ``routes``' labels again (after a reload); the labels newer serves hold, by host."""
        with self.registry.edit() as serves:
            return self._register(serves, routes)

    def _register(self, serves: Serves, routes: RouteTable) -> dict[str, Moved]:
        mine = serves.find(self.process) or serves.add(self.record)
        moved: dict[str, Moved] = {}
        for host, endpoint in routes.endpoints.items():
            holder = serves.holder_of(host)
            if holder is None or holder is mine:
                continue
            if holder.seq > mine.seq:
                moved[host] = Moved(endpoint.tag, host, holder.holder)
            else:  # an older serve's: take it
                holder.labels.remove(host)
                holder.taken[host] = mine.holder
                self.took_over = True
        mine.labels = [host for host in routes.endpoints if host not in moved]
        mine.taken = {host: m.holder for host, m in moved.items()}
        self.record = mine
        return moved

    def poll(self, loaded: RouteTable) -> News | None:
        """What newer serves did since the last poll, or None if the registry did not change."""
        serves = self.registry.read_if_changed()
        mine = serves.find(self.process) if serves is not None else None
        if serves is None or mine is None:
            return None
        moved = {}
        for host, taker in mine.taken.items():
            endpoint = loaded.endpoints.get(host)
            if endpoint is not None:
                current = serves.holder_of(host)  # the label may have moved on again since
                holder = current.holder if current is not None and current.process != self.process else taker
                moved[host] = Moved(endpoint.tag, host, holder)
        return News(self._handover(serves), moved)

    def _handover(self, serves: Serves) -> Holder | None:
        mine = serves.find(self.process)
        handover = mine.handover_to if mine is not None else None
        return handover if handover is not None and handover.process.alive() else None

    def leave(self) -> None:
        if not self.joined:
            return
        with self.registry.edit() as serves:
            serves.records = serves.others(self.process)
        self.joined = False


def port_yields(port: int, routes: RouteTable, registry: ServeRegistry | None = None) -> bool:
    """Whether ``port`` is held by older serves that would hand it over to a serve of ``routes``."""
    me = ProcessId.current()
    holders = [r for r in (registry or ServeRegistry()).read().others(me) if r.port == port and r.process.alive()]
    return bool(holders) and all(_refusal(r, routes, routes.app_name) is None for r in holders)


def _refusal(holder: ServeRecord, routes: RouteTable, app: str) -> str | None:
    """Why ``holder`` keeps its port rather than handing it to a serve of ``routes``, or None."""
    port, pid = holder.port, holder.process.pid
    others = sorted(set(holder.labels) - set(routes.endpoints))
    if others:
        return (f"Port {port} is held by toolkit serve (pid {pid}), which also serves {', '.join(others)}; a newer "
                f"serve takes a port over only when it serves every endpoint the older one does. Stop that "
                f"serve (Ctrl-C in its terminal) or choose another --port.")
    if not holder.labels and holder.app != app:
        return (f"Port {port} is held by toolkit serve (pid {pid}) of app {holder.app!r}; stop it (Ctrl-C in its "
                f"terminal) or choose another --port.")
    return None


async def answer_moved(moved: Moved, scope: Scope, send: Send) -> None:
    """A request for a label a newer serve took: 307 to it while it runs, else a 404 that says why."""
    pid = moved.holder.process.pid
    if not moved.holder.process.alive():
        await reject(scope, send, Rejection(404, (
            f"{moved.tag} was taken over by a newer toolkit serve (pid {pid}), which has stopped; "
            "restart this toolkit serve (or edit the app to reload it) to serve it here again.")))
        return
    location = endpoint_url(moved.holder.origin, moved.host) + request_target(scope)
    if scope["type"] == "websocket":
        location = "ws" + location.removeprefix("http")
    await reject(scope, send, Rejection(307, (
        f"{moved.tag} is now served by a newer toolkit serve (pid {pid}) at {location}"), (("location", location),)))


__all__ = ["HANDOVER_WAIT_S", "REGISTRY_POLL_S", "WORKER_PORT_WAIT_S", "News", "TakenOver", "Tenure", "answer_moved",
           "port_yields"]
