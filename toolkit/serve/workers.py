"""Web worker processes and their pools, as the gateway's event loop sees them.

A pool serves one endpoint and one set of class parameter values.  A worker takes up to
``max_inputs`` requests at once (the gateway counts them); when every worker is full,
another starts, up to ``max_containers``; beyond that requests wait here, in order.
Workers idle for ``scaledown_window`` seconds stop.

``web_server`` functions are special locally: every worker of one would bind the same
port, and processes on one machine cannot share it.  So a ``web_server`` pool has at most
one worker, and pools of the same port (a parametrized class) take turns: a new parameter
set waits until the current holder is idle, then replaces it (`PortLeases`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from runtime.adapters.base import WebKind
from toolkit.functions import Params
from toolkit.serve.container import ContainerConfig
from toolkit.serve.routes import Endpoint
from toolkit.serve.upstream import UpstreamPool, tcp_connector, unix_connector

STOP_GRACE_S = 6.0
PORT_POLL_S = 0.05


class WorkerStartError(Exception):
    """A worker could not start: the user's code failed to load, or its server never came up."""


@dataclass(eq=False)
class Worker:
    proc: asyncio.subprocess.Process
    upstream: UpstreamPool
    socket_path: str | None
    port: int | None
    inflight: int = 0
    idle_since: float = field(default_factory=time.monotonic)
    stopping: bool = False
    broken: bool = False  # a request to it failed at the transport: never hand it another one
    auth_headers: tuple[tuple[bytes, bytes], ...] = ()  # replace the client's token headers upstream (containers)

    async def stop(self) -> None:
        self.stopping = True
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), STOP_GRACE_S)
            except asyncio.TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, 9)
        await self.upstream.aclose()
        if self.socket_path:
            with contextlib.suppress(OSError):
                os.unlink(self.socket_path)


def _upstream(socket_path: str | None, port: int | None) -> UpstreamPool:
    # no timeout: the function's own timeout bounds a request; the proxy must not cut it shorter
    if socket_path:
        return UpstreamPool(unix_connector(socket_path))
    assert port is not None
    return UpstreamPool(tcp_connector("127.0.0.1", port))


def _read_report(fd: int) -> dict[str, object] | None:
    with os.fdopen(fd, "rb") as pipe:
        line = pipe.readline()
    return json.loads(line) if line.strip() else None


async def start_worker(config: ContainerConfig, env: dict[str, str]) -> Worker:
    read_fd, write_fd = os.pipe()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "toolkit.serve.container", config.to_json(),
        env={**os.environ, **env, "TOOLKIT_WORKER": "1", "TOOLKIT_READY_FD": str(write_fd)},
        pass_fds=(write_fd,), start_new_session=True,  # its own session: stopping it stops what it started
    )
    os.close(write_fd)
    report = await asyncio.to_thread(_read_report, read_fd)
    if report is None or "error" in report:
        code = await proc.wait()
        raise WorkerStartError(str(report["error"]) if report else f"The worker exited with code {code} while starting.")
    return Worker(proc, _upstream(config.socket_path, config.spec.port), config.socket_path, config.spec.port)


class PortLeases:
    """Which pool's web_server worker holds each local port."""

    def __init__(self, reserved: dict[int, str]) -> None:
        self.holders: dict[int, WorkerPool] = {}
        self.reserved = reserved  # ports toolkit serve itself uses -> why

    async def claim(self, port: int, pool: WorkerPool) -> None:
        if port in self.reserved:
            raise WorkerStartError(
                f"{pool.endpoint.tag} serves on port {port}, which {self.reserved[port]}; "
                f"start toolkit serve with another --port."
            )
        while (holder := self.holders.get(port)) not in (None, pool):
            assert holder is not None
            if holder.idle:
                await holder.evict()
            else:
                await asyncio.sleep(PORT_POLL_S)
        if port not in self.holders and not _port_free(port):
            raise WorkerStartError(
                f"Port {port} is already in use on this machine, so {pool.endpoint.tag}'s server cannot listen "
                f"on it; stop the program using it."
            )
        self.holders[port] = pool

    def release(self, port: int, pool: WorkerPool) -> None:
        if self.holders.get(port) is pool:
            del self.holders[port]


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


Launcher = Callable[[str, dict[str, str]], Awaitable[Worker]]  # (function tag, env) -> a started worker


class WorkerPool:
    def __init__(self, endpoint: Endpoint, params: Params, sys_path: tuple[str, ...], ports: PortLeases,
                 env: dict[str, str], on_event: Callable[[str], None] = lambda _m: None,
                 launcher: Launcher | None = None) -> None:
        self.endpoint, self.params, self.sys_path, self.ports = endpoint, params, sys_path, ports
        self.env = env
        self.launcher = launcher  # set: workers are containers (`toolkit.serve.containers`), not processes
        self.on_event = on_event
        self.workers: list[Worker] = []
        self.starting = 0
        self.waiting = 0
        self.error: str | None = endpoint.source.env_error
        self.closed = False
        self.changed = asyncio.Condition()

    @property
    def is_web_server(self) -> bool:
        return self.endpoint.kind is WebKind.WEB_SERVER

    @property
    def max_workers(self) -> int:
        return 1 if self.is_web_server else self.endpoint.max_containers

    @property
    def idle(self) -> bool:
        return self.starting == 0 and self.waiting == 0 and all(w.inflight == 0 for w in self.workers)

    async def acquire(self) -> Worker:
        """A worker with a free input slot; waits (queues, in order) while every allowed worker is busy."""
        if not self.waiting and (worker := self._take()) is not None:
            return worker  # no await between looking and taking: the lock is only for waiting
        async with self.changed:
            while (worker := self._take()) is None:
                self._maybe_start()
                self.waiting += 1
                try:
                    await self.changed.wait()
                finally:
                    self.waiting -= 1
            return worker

    def _take(self) -> Worker | None:
        """Take a slot on the least busy worker that has one; raises when the pool cannot serve."""
        if self.error is not None:
            raise WorkerStartError(self.error)
        if self.closed:
            raise WorkerStartError(f"{self.endpoint.tag} was reloaded; retry the request.")
        best: Worker | None = None
        for w in self.workers:
            if (not w.stopping and not w.broken and w.inflight < self.endpoint.max_inputs
                    and (best is None or w.inflight < best.inflight)):
                best = w
        if best is not None:
            best.inflight += 1
        return best

    def _maybe_start(self) -> None:
        coming = self.starting * self.endpoint.max_inputs
        if coming <= self.waiting and len(self.workers) + self.starting < self.max_workers:
            self.starting += 1
            asyncio.ensure_future(self._start())

    async def _start(self) -> None:
        try:
            if self.launcher is not None:  # a container has its own network: no port to share
                worker = await self.launcher(self.endpoint.tag, self.env)
            else:
                if self.is_web_server:
                    assert self.endpoint.spec.port is not None
                    await self.ports.claim(self.endpoint.spec.port, self)
                worker = await start_worker(self._config(), self.env)
        except WorkerStartError as exc:
            self._release_port()
            self.error = str(exc)
            self.on_event(f"{self.endpoint.tag}: {exc}")
            worker = None
        async with self.changed:
            self.starting -= 1
            if worker is not None:
                self.workers.append(worker)
                asyncio.ensure_future(self._watch(worker))
            self.changed.notify_all()

    def _config(self) -> ContainerConfig:
        path = None
        if not self.is_web_server:
            path = tempfile.mktemp(prefix="toolkit-web-", suffix=".sock", dir=_socket_dir())
        return ContainerConfig(self.endpoint.target(self.params, self.sys_path), self.endpoint.spec, path)

    async def _watch(self, worker: Worker) -> None:
        code = await worker.proc.wait()
        if not worker.stopping:
            self.on_event(f"{self.endpoint.tag}: a worker exited with code {code}; the next request starts another.")
        async with self.changed:
            if worker in self.workers:
                self.workers.remove(worker)
            if self.is_web_server and not any(w.port for w in self.workers):
                self._release_port()
            self.changed.notify_all()
        if self.launcher is not None and not worker.stopping:
            await worker.stop()  # a container that exited on its own is still there: remove it

    def _release_port(self) -> None:
        if self.is_web_server and self.endpoint.spec.port is not None:
            self.ports.release(self.endpoint.spec.port, self)

    async def release(self, worker: Worker, *, broken: bool = False) -> None:
        """Give a worker's slot back.  ``broken``: its connection failed, so it is likely dead
        (its exit may not be reaped yet); stop routing to it and stop it if it somehow lives."""
        worker.inflight -= 1
        worker.broken = worker.broken or broken
        if worker.inflight == 0:
            worker.idle_since = time.monotonic()
        if self.waiting:
            async with self.changed:
                self.changed.notify_all()
        if (self.closed or worker.broken) and worker.inflight == 0:
            await self._stop(worker)

    async def _stop(self, worker: Worker) -> None:
        await worker.stop()
        async with self.changed:
            if worker in self.workers:
                self.workers.remove(worker)
            self.changed.notify_all()
        if not self.workers:
            self._release_port()

    async def evict(self) -> None:
        """Stop every idle worker now (another pool needs the port)."""
        await asyncio.gather(*(self._stop(w) for w in list(self.workers) if w.inflight == 0))

    async def reap(self) -> None:
        now = time.monotonic()
        idle = [w for w in self.workers if w.inflight == 0 and now - w.idle_since > self.endpoint.scaledown_window]
        await asyncio.gather(*(self._stop(w) for w in idle))

    async def close(self) -> None:
        """Stop taking requests; idle workers stop now, busy ones when their requests finish."""
        async with self.changed:
            self.closed = True
            self.changed.notify_all()
        await self.evict()


_SOCKET_DIR: str | None = None


def _socket_dir() -> str:
    # unix socket paths are limited to ~107 bytes: keep them short, under the system temp dir
    global _SOCKET_DIR
    if _SOCKET_DIR is None:
        _SOCKET_DIR = tempfile.mkdtemp(prefix="tk-")
    return _SOCKET_DIR
