"""Web worker processes and their pools, as the gateway's event loop sees them.

A pool serves one endpoint and one set of class parameter values.  A worker takes up to
``max_inputs`` requests at once (the gateway counts them); when every worker is full,
another starts, up to ``max_containers``; beyond that requests wait here, in order.
Workers idle for ``scaledown_window`` seconds stop (one that owns spawned calls still running is
not idle: stopping it would lose them), except ``min_containers`` of them: a pool
starts that many when it is created (in the background) and keeps them warm (`WebWorkerPool.keep_warm`).

``web_server`` functions are special locally: every worker of one would bind the same
port, and processes on one machine cannot share it.  So a ``web_server`` pool has at most
one worker, and pools of the same port (a parametrized class) take turns: a new parameter
set waits until the current holder is idle, then replaces it (`PortLeases`).  ``min_containers``
of a ``web_server`` is therefore capped at one.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import socket
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from runtime.adapters.base import WebKind
from runtime.params import Params
from toolkit.local.interpreters import worker_launch
from toolkit.local.ownership import owns_unfinished_calls
from toolkit.serve.routes import Endpoint
from toolkit.serve.upstream import UpstreamPool, tcp_connector, unix_connector
from toolkit.serve.web_worker import ContainerConfig

STOP_GRACE_S = 6.0
PORT_POLL_S = 0.05
WARM_RETRY_S = 5.0  # a kept-warm worker that exited on its own is replaced after this long, not in a loop


class WorkerStartError(Exception):
    """A worker could not start: the user's code failed to load, or its server never came up."""


@dataclass(eq=False)
class WebWorker:
    proc: asyncio.subprocess.Process
    upstream: UpstreamPool
    socket_path: str | None
    port: int | None
    inflight: int = 0
    idle_since: float = field(default_factory=time.monotonic)
    stopping: bool = False
    broken: bool = False  # a request to it failed at the transport: never hand it another one
    auth_headers: tuple[tuple[bytes, bytes], ...] = ()  # replace the client's token headers upstream (containers)

    @property
    def live(self) -> bool:
        """Neither stopping nor broken: it may take requests."""
        return not self.stopping and not self.broken

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


_PUMPS: set[asyncio.Future[None]] = set()  # running output readers (a task nobody holds may be collected)
LINE_LIMIT = 64 * 1024  # asyncio's default: a longer line arrives in pieces of this size


async def _pump_lines(stream: asyncio.StreamReader, output: Callable[[str], None]) -> None:
    """Hand each line of ``stream`` to ``output`` until the worker (and what it started) closes it."""
    while True:
        try:
            line = await stream.readline()
        except ValueError:  # a line over the limit: what is buffered goes as one piece
            line = await stream.read(LINE_LIMIT)
        if not line:
            return
        output(line.decode("utf-8", "replace"))


def _read_report(fd: int) -> dict[str, object] | None:
    with os.fdopen(fd, "rb") as pipe:
        line = pipe.readline()
    return json.loads(line) if line.strip() else None


async def start_worker(config: ContainerConfig, env: dict[str, str],
                       output: Callable[[str], None] | None = None) -> WebWorker:
    """A worker process for ``config``; with ``output``, each line it prints (stdout and stderr) goes there."""
    python, target, image_env, cwd = worker_launch(config.target)  # the image's local environment, or ours
    config = dataclasses.replace(config, target=target)
    read_fd, write_fd = os.pipe()
    piped = {"stdout": asyncio.subprocess.PIPE, "stderr": asyncio.subprocess.STDOUT} if output else {}
    proc = await asyncio.create_subprocess_exec(
        python, "-m", "toolkit.serve.web_worker", config.to_json(),
        env={**os.environ, **image_env, **env, "TOOLKIT_WORKER": "1", "TOOLKIT_READY_FD": str(write_fd),
             **({"PYTHONUNBUFFERED": "1"} if output else {})},  # a print shows when it happens, not at exit
        pass_fds=(write_fd,), start_new_session=True, cwd=cwd,  # its own session: stopping it stops what it started
        **piped,  # type: ignore[arg-type]
    )
    os.close(write_fd)
    if output is not None and proc.stdout is not None:
        pump = asyncio.ensure_future(_pump_lines(proc.stdout, output))
        _PUMPS.add(pump)
        pump.add_done_callback(_PUMPS.discard)
    report = await asyncio.to_thread(_read_report, read_fd)
    if report is None or "error" in report:
        code = await proc.wait()
        raise WorkerStartError(str(report["error"]) if report else f"The worker exited with code {code} while starting.")
    return WebWorker(proc, _upstream(config.socket_path, config.spec.port), config.socket_path, config.spec.port)


class PortLeases:
    """Which pool's web_server worker holds each local port."""

    def __init__(self, reserved: dict[int, str]) -> None:
        self.holders: dict[int, WebWorkerPool] = {}
        self.reserved = reserved  # ports toolkit serve itself uses -> why
        # seconds a port in use elsewhere may take to free up: set while an older toolkit serve
        # that handed its endpoints to this one may still be stopping its web_server worker
        self.release_wait = 0.0

    async def claim(self, port: int, pool: WebWorkerPool) -> None:
        if port in self.reserved:
            raise WorkerStartError(
                f"{pool.endpoint.tag} serves on port {port}, which {self.reserved[port]}; "
                f"start toolkit serve with another --port."
            )
        deadline = time.monotonic() + self.release_wait
        while True:
            while (holder := self.holders.get(port)) not in (None, pool):
                assert holder is not None
                if holder.idle:
                    await holder.evict()
                else:
                    await asyncio.sleep(PORT_POLL_S)
            if port in self.holders or _port_free(port):
                break
            if time.monotonic() >= deadline:
                raise WorkerStartError(
                    f"Port {port} is already in use on this machine, so {pool.endpoint.tag}'s server cannot listen "
                    f"on it; stop the program using it."
                )
            await asyncio.sleep(PORT_POLL_S)
        self.holders[port] = pool

    def held_by_another(self, port: int, pool: WebWorkerPool) -> bool:
        return self.holders.get(port) not in (None, pool)

    def release(self, port: int, pool: WebWorkerPool) -> None:
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


Launcher = Callable[[str, dict[str, str]], Awaitable[WebWorker]]  # (function tag, env) -> a started worker


class WebWorkerPool:
    def __init__(self, endpoint: Endpoint, params: Params, sys_path: tuple[str, ...], ports: PortLeases,
                 env: dict[str, str], on_event: Callable[[str], None] = lambda _m: None,
                 launcher: Launcher | None = None, output: Callable[[str], None] | None = None) -> None:
        self.endpoint, self.params, self.sys_path, self.ports = endpoint, params, sys_path, ports
        self.output = output  # where the workers' printed lines go (`toolkit.serve.dashboard_activity`)
        self.env = env
        self.launcher = launcher  # set: workers are containers (`toolkit.serve.containers`), not processes
        self.on_event = on_event
        self.workers: list[WebWorker] = []
        self.starting = 0
        self.waiting = 0
        self.error: str | None = endpoint.source.env_error
        self.closed = False
        self.changed = asyncio.Condition()
        self.warm = False  # `keep_warm` was called: the pool keeps ``min_containers`` workers
        self.warm_after = 0.0  # monotonic time before which kept-warm workers are not replaced

    @property
    def is_web_server(self) -> bool:
        return self.endpoint.kind is WebKind.WEB_SERVER

    @property
    def max_workers(self) -> int:
        return 1 if self.is_web_server else self.endpoint.max_containers

    @property
    def min_workers(self) -> int:
        """``min_containers``, within the pool's cap (one worker for a web_server), if kept warm."""
        return min(self.endpoint.min_containers, self.max_workers) if self.warm else 0

    @property
    def idle(self) -> bool:
        return self.starting == 0 and self.waiting == 0 and all(w.inflight == 0 for w in self.workers)

    def try_acquire(self) -> WebWorker | None:
        """A free input slot now, or None (every worker busy, or requests queued before this one)."""
        return None if self.waiting else self._take()

    async def acquire(self) -> WebWorker:
        """A worker with a free input slot; waits (queues, in order) while every allowed worker is busy."""
        if (worker := self.try_acquire()) is not None:
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

    def _take(self) -> WebWorker | None:
        """Take a slot on the least busy worker that has one; raises when the pool cannot serve."""
        if self.error is not None:
            raise WorkerStartError(self.error)
        if self.closed:
            raise WorkerStartError(f"{self.endpoint.tag} was reloaded; retry the request.")
        best: WebWorker | None = None
        for w in self.workers:
            if (w.live and w.inflight < self.endpoint.max_inputs
                    and (best is None or w.inflight < best.inflight)):
                best = w
        if best is not None:
            best.inflight += 1
        return best

    def keep_warm(self) -> None:
        """Start workers in the background until ``min_containers`` are running or starting, and
        keep that many from now on (`reap`).  Called by serve for each endpoint's pool when it
        installs the routes, not for pools a request creates (other class parameter values).

        Does not wait for them.  A worker that fails to start sets the pool's error, as one
        started by a request does: it is logged, and requests get it as a 500.
        """
        self.warm = True
        self._warm_up()

    def _warm_up(self) -> None:
        if self.closed or self.error is not None or time.monotonic() < self.warm_after:
            return
        port = self.endpoint.spec.port
        if self.is_web_server and self.launcher is None and port is not None and self.ports.held_by_another(port, self):
            return  # another parameter set's server has the port: take turns on requests, not here
        running = sum(1 for w in self.workers if w.live)
        for _ in range(self.min_workers - running - self.starting):
            self.starting += 1
            asyncio.ensure_future(self._start())

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
                worker = await start_worker(self._config(), self.env, self.output)
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

    async def _watch(self, worker: WebWorker) -> None:
        code = await worker.proc.wait()
        if not worker.stopping:
            self.warm_after = time.monotonic() + WARM_RETRY_S
            again = "another starts shortly" if self.min_workers else "the next request starts another"
            self.on_event(f"{self.endpoint.tag}: a worker exited with code {code}; {again}.")
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

    async def release(self, worker: WebWorker, *, broken: bool = False) -> None:
        """Give a worker's slot back.  ``broken``: its connection failed, so it is likely dead
        (its exit may not be reaped yet), or it ran past its timeout; stop routing to it and stop
        it once its other requests are done."""
        rest = self.release_nowait(worker, broken=broken)
        if rest is not None:
            await rest

    def release_nowait(self, worker: WebWorker, *, broken: bool = False) -> Coroutine[Any, Any, None] | None:
        """`release` without awaiting: the slot is back now; returns what is left to do (wake
        queued requests, stop the worker) when there is something, for the caller to run."""
        worker.inflight -= 1
        worker.broken = worker.broken or broken
        if worker.inflight == 0:
            worker.idle_since = time.monotonic()
        stop = (self.closed or worker.broken) and worker.inflight == 0
        return self._after_release(worker, stop) if self.waiting or stop else None

    async def _after_release(self, worker: WebWorker, stop: bool) -> None:
        if self.waiting:
            async with self.changed:
                self.changed.notify_all()
        if stop:
            await self._stop(worker)

    async def _stop(self, worker: WebWorker) -> None:
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
        """Stop workers idle past ``scaledown_window``, the longest idle first, down to
        ``min_containers``; then start any that are missing from it (one crashed).

        A worker whose requests spawned calls that are still running is not idle: it owns them
        (`toolkit.local.ownership`), and stopping it would lose them."""
        now = time.monotonic()
        running = [w for w in self.workers if w.live]
        idle = sorted((w for w in running if w.inflight == 0 and now - w.idle_since > self.endpoint.scaledown_window),
                      key=lambda w: w.idle_since)
        idle = [w for w in idle if not await self._owns_calls(w)]
        await asyncio.gather(*(self._stop(w) for w in idle[:max(0, len(running) - self.min_workers)]))
        if self.warm:
            self._warm_up()

    async def _owns_calls(self, worker: WebWorker) -> bool:
        if self.launcher is not None:  # a container keeps its calls in its own store, out of reach
            return False
        return await asyncio.to_thread(owns_unfinished_calls, worker.proc.pid)

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
