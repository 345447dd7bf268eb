"""`toolkit serve` wired together: load the app, bind the port, serve, reload on change, stop.

The composition root: the CLI (`toolkit.cli.serve_cmd`) only parses options into
`ServeOptions` and calls `serve`.  A newer serve of the same endpoints takes them (and the
port, when it is the same) over from an older one: `toolkit.serve.takeover`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import uvicorn
from rich.console import Console

from runtime.adapters.websocket_proxy import WS_MAX_MESSAGE_BYTES
from toolkit.config import home
from toolkit.exception import AppLoadError, Error, InvalidError
from toolkit.local.ownership import local_call_store
from toolkit.progress import Display
from toolkit.serve.appinfo import ERROR_EXIT, AppInfo
from toolkit.serve.containers import ContainerImages, pick_engine
from toolkit.serve.dashboard_activity import ShutdownNoise
from toolkit.serve.gateway import GatewayLimits, ServeGateway
from toolkit.serve.guard import ClientLimits
from toolkit.serve.httpio import run
from toolkit.serve.index import endpoint_list, endpoint_url
from toolkit.serve.registry import Holder, absolute_target
from toolkit.serve.relay import relay_protocol
from toolkit.serve.reload import ServedVersion, watch_app_files
from toolkit.serve.routes import Moved, RouteTable
from toolkit.serve.schedules import ScheduleRunner
from toolkit.serve.takeover import REGISTRY_POLL_S, WORKER_PORT_WAIT_S, TakenOver, Tenure, port_yields
from toolkit.serve.tokens import TokenStore
from toolkit.serve.web_worker import GRACEFUL_SHUTDOWN_S
from toolkit.serve.workers import PortLeases

REAP_EVERY_S = 1.0
HANDOVER_DRAIN_MIN_S = 3  # what Ctrl-C gives in-flight requests (uvicorn's graceful shutdown), and a handover at least


@dataclass(frozen=True)
class ServeOptions:
    target: str  # app.py[::name] or a module name
    is_module: bool = False
    host: str = "127.0.0.1"
    port: int = 8000
    limits: GatewayLimits = field(default_factory=GatewayLimits)
    client: ClientLimits = field(default_factory=ClientLimits.from_environ)  # what one client connection may hold
    reload: bool = True
    port_explicit: bool = True  # False: the default port, free to move off a web_server's port
    containers: bool = False  # workers are the functions' real images (`toolkit.serve.containers`)
    builder: str | None = None  # with containers: podman or docker (default: the first on PATH)
    local_env: str | None = None  # workers in each image's environment ("image") or ours ("current")
    schedules: bool = True  # run schedule=Period/Cron functions when due (`toolkit.serve.schedules`)
    quiet: bool = False  # no access log line per request (workers' output still shows)
    json_logs: bool = False  # access log and workers' output as JSON lines (`dashboard_activity`)

    @property
    def origin(self) -> str:
        return f"http://localhost:{self.port}"


async def load_routes(options: ServeOptions) -> RouteTable:
    """Describe the app from a fresh process (see `toolkit.serve.appinfo`); AppLoadError if it is broken."""
    args = [sys.executable, "-m", "toolkit.serve.appinfo", options.target] + (["--module"] if options.is_module else [])
    proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    if proc.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        detail = lines[-1] if proc.returncode == ERROR_EXIT and lines else "\n".join(lines[-20:])
        raise AppLoadError(detail or f"Loading {options.target} failed with exit code {proc.returncode}.")
    info = AppInfo.from_json(out.decode())
    if not options.containers:
        await asyncio.to_thread(use_image_envs, info, options.local_env, progress_display(options))
    return RouteTable.from_info(info)


def progress_display(options: ServeOptions) -> Display:
    """Where long work (building an image's local environment) shows: JSON lines beside the access
    log's with --json-logs, nothing with --quiet, else stderr (live on a terminal)."""
    stream = sys.stdout if options.json_logs else sys.stderr
    return Display.choose(quiet=options.quiet, json_logs=options.json_logs, stream=stream, prefix="toolkit: ")


def use_image_envs(info: AppInfo, flag: str | None, display: Display) -> None:
    """Workers of functions whose image installs Python packages run in that image's environment
    (`toolkit.images.local_env`, built on first use, reused while its Python steps are unchanged),
    from the mirror of the image's workdir when it sets one (`toolkit.images.local_files`)."""
    from pathlib import Path

    from toolkit.images.local_env import local_env_mode, use_local_envs

    use_local_envs(info.manifest, Path.cwd(), home(), display, envs=local_env_mode(flag) == "image")


def app_ports(routes: RouteTable) -> set[int]:
    return {e.spec.port for e in routes.endpoints.values() if e.spec.port is not None}


def gateway_port(options: ServeOptions, routes: RouteTable,
                 yields: Callable[[int], bool] = lambda _port: False) -> int:
    """The gateway's port.  The default one steps aside when the app's own web_server wants it
    (the guide's servers listen on 8000, which is also serve's default), to the next free port
    or the next one an older serve of this app would hand over (``yields``)."""
    taken = app_ports(routes)
    if options.port_explicit or options.port not in taken:
        return options.port
    return next(p for p in range(options.port + 1, options.port + 200)
                if p not in taken and (_free(options.host, p) or yields(p)))


def _free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def bind(host: str, port: int) -> socket.socket:
    """The gateway's listening socket; `InvalidError` when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # accepted connections inherit this: the response head and body go out as separate writes,
    # and Nagle + delayed ACKs would otherwise hold the body back ~40 ms
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InvalidError(f"Cannot listen on {host}:{port} ({exc.strerror}); choose another with --port.") from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


class ServeSession:
    def __init__(self, options: ServeOptions, console: Console) -> None:
        self.options, self.console = options, console
        self.gateway: ServeGateway | None = None
        self.loaded: RouteTable | None = None  # the app as last loaded
        self.routes: RouteTable | None = None  # what is served: `loaded` less the endpoints newer serves took
        self.moved: dict[str, Moved] = {}
        self.images: ContainerImages | None = None
        self.tenure: Tenure | None = None
        self.server: GatewayServer | None = None
        self.schedules: ScheduleRunner | None = None
        self.version = ServedVersion(home())  # what workers that start later import (`toolkit.last_good`)

    def log(self, message: str) -> None:
        self.console.print(f"[yellow]{message}[/yellow]", highlight=False)

    def print_urls(self, routes: RouteTable) -> None:
        for entry in endpoint_list(routes, self.options.origin):
            self.console.print(f"[green]✓[/green] {entry['function']} => [bold]{entry['url']}[/bold]", highlight=False)
        for moved in sorted(routes.moved.values(), key=lambda m: m.tag):
            self.console.print(f"[yellow]-[/yellow] {moved.tag} => served by a newer toolkit serve "
                               f"(pid {moved.holder.process.pid}) at {endpoint_url(moved.holder.origin, moved.host)}",
                               highlight=False)
        if not routes.endpoints and not routes.moved:
            self.console.print(f"App {routes.app_name!r} has no web endpoints.")

    async def run(self) -> None:
        if self.options.containers:  # before anything else: no engine is one line, not a load and a build
            self.images = ContainerImages(pick_engine(self.options.builder), self.log,
                                          progress=progress_display(self.options))
        routes = await load_routes(self.options)
        port = gateway_port(self.options, routes, lambda p: port_yields(p, routes))
        if port != self.options.port:
            self.log(f"Port {self.options.port} belongs to the app's web_server; the gateway listens on {port}.")
            self.options = replace(self.options, port=port)
        self.tenure = Tenure(self.options.host, self.options.port, self.options.origin, routes.app_name,
                             source=absolute_target(self.options.target, self.options.is_module),
                             is_module=self.options.is_module)  # found by Function.from_name elsewhere
        try:
            sock = await self.tenure.bind(routes, lambda: bind(self.options.host, self.options.port), self.log)
        except TakenOver as exc:
            self.console.print(f"A newer toolkit serve (pid {exc.holder.process.pid}) took port {self.options.port} "
                               "over before this one started serving; stopping.", highlight=False)
            self.tenure.leave()
            return
        self.version.activate()
        try:
            await self._serve(routes, sock)
        finally:
            self.tenure.leave()
            self.version.discard()

    async def _serve(self, routes: RouteTable, sock: socket.socket) -> None:
        ports = PortLeases({self.options.port: "toolkit serve itself listens on"})
        self.gateway = ServeGateway(self.options.origin, self.options.limits, TokenStore(),
                                    local_call_store(), ports, self.log)  # detached requests: owned by this process
        self.gateway.activity.quiet, self.gateway.activity.json_logs = self.options.quiet, self.options.json_logs
        self.gateway.schedule_runner = self.schedules
        if self.images is not None:
            self.gateway.launcher = self.images.start
        await self.install(routes)
        self.console.print(f"Serving app {routes.app_name!r}; endpoint list at [bold]{self.options.origin}/[/bold]"
                           f"{' (live reload on)' if self.options.reload else ''}. Ctrl-C to stop.", highlight=False)
        self.server = server = GatewayServer(uvicorn.Config(
            self.gateway, http=relay_protocol(self.gateway, self.options.client), lifespan="off", log_level="warning",
            access_log=False, ws_max_size=WS_MAX_MESSAGE_BYTES, ws_per_message_deflate=False,
            timeout_graceful_shutdown=HANDOVER_DRAIN_MIN_S, server_header=False,
            proxy_headers=False,  # the gateway is the edge: the peer it sees is the client
            # uvicorn's keep-alive timer closes idle connections; only call_later reads it (a float is fine)
            timeout_keep_alive=self.options.client.idle_timeout,  # type: ignore[arg-type]
        ))
        server.on_stop, server.on_stop_now = self._stopping, self._stopping_now
        ShutdownNoise.install()  # the serve's own line replaces uvicorn's "Cancel 0 running task(s)"
        tasks = [asyncio.ensure_future(self._reap()), asyncio.ensure_future(self._follow_registry())]
        if self.schedules is not None:
            tasks.append(asyncio.ensure_future(self.schedules.run()))
        if self.options.reload:
            tasks.append(asyncio.ensure_future(self._watch()))
        try:
            await server.serve(sockets=[sock])
        finally:
            for task in tasks:
                task.cancel()
            await self.gateway.shutdown()

    def _stopping(self) -> None:
        busy = self.gateway.inflight() if self.gateway else 0
        drain = self.server.config.timeout_graceful_shutdown if self.server else HANDOVER_DRAIN_MIN_S
        waiting = (f"waiting up to {drain} s for {busy} request{'s' if busy != 1 else ''} in flight, then "
                   if busy else "")
        self.console.print(f"Stopping: {waiting}up to {GRACEFUL_SHUTDOWN_S} s for the workers to stop "
                           "(Ctrl-C again to stop at once).", highlight=False)

    def _stopping_now(self) -> None:
        killed = self.gateway.kill_workers() if self.gateway else 0
        self.console.print(f"Stopping now: {killed} worker{'s' if killed != 1 else ''} killed.", highlight=False)

    async def install(self, routes: RouteTable) -> None:
        assert self.gateway is not None
        if self.images is not None:
            self.log(f"Building the images of {routes.app_name!r} with {self.images.engine} (local store, no push)...")
            await self.images.prepare(routes.info.manifest)
        assert self.tenure is not None
        self.version.record(routes.app_name, routes.info.modules)  # before any worker of this version starts
        self.loaded, self.moved = routes, self.tenure.register(routes)
        self.routes = routes.without(self.moved)
        if self.tenure.took_over:  # the older serve's web_server workers may still hold their ports a moment
            self.gateway.ports.release_wait = WORKER_PORT_WAIT_S
        await self.gateway.install(self.routes)
        self.print_urls(self.routes)
        self._install_schedules(routes)
        self._prestart(self.routes)

    def _install_schedules(self, routes: RouteTable) -> None:
        if not self.options.schedules:
            return
        if self.schedules is None:
            self.schedules = ScheduleRunner(self.options.target, self.options.is_module, self.log)
            if self.gateway is not None:
                self.gateway.schedule_runner = self.schedules
        info = routes.info
        self.schedules.install(info.manifest, {tag: s.env for tag, s in info.sources.items()}, info.sys_path)

    def _prestart(self, routes: RouteTable) -> None:
        """Start ``min_containers`` workers per endpoint in the background (`WorkerPool.keep_warm`)."""
        assert self.gateway is not None
        for endpoint in sorted(routes.endpoints.values(), key=lambda e: e.tag):
            if endpoint.min_containers == 0:
                continue
            params = endpoint.default_params()
            if params is None:
                self.log(f"{endpoint.tag}: min_containers={endpoint.min_containers} is not prestarted: a class "
                         "parameter has no default, so workers start per parameter values, on request.")
                continue
            pool = self.gateway.pool_for(endpoint, params)
            if pool.is_web_server and endpoint.min_containers > 1:
                self.log(f"{endpoint.tag}: min_containers={endpoint.min_containers} runs as one worker locally: "
                         "on one machine, only one web_server process can listen on its port.")
            pool.keep_warm()

    async def _reap(self) -> None:
        assert self.gateway is not None
        while True:
            await asyncio.sleep(REAP_EVERY_S)
            await self.gateway.reap()

    async def _follow_registry(self) -> None:
        """Notice when a newer serve takes this one's endpoints (or its port) over."""
        assert self.tenure is not None
        while True:
            await asyncio.sleep(REGISTRY_POLL_S)
            news = self.tenure.poll(self.loaded) if self.loaded is not None else None
            if news is None:
                continue
            if news.handover is not None:
                self._hand_over(news.handover)
                return
            if news.moved != self.moved:
                await self._withdraw(news.moved)

    async def _withdraw(self, moved: dict[str, Moved]) -> None:
        """A newer serve on another port took some endpoints: redirect them there, keep the rest."""
        assert self.gateway is not None and self.loaded is not None
        for host in sorted(moved.keys() - self.moved.keys()):
            m = moved[host]
            self.log(f"Endpoint {m.tag} was taken over by a newer toolkit serve (pid {m.holder.process.pid}) at "
                     f"{endpoint_url(m.holder.origin, m.host)}; requests here are redirected there (307).")
        self.moved, self.routes = moved, self.loaded.without(moved)
        await self.gateway.withdraw(self.routes)

    def _hand_over(self, newer: Holder) -> None:
        """A newer serve wants this port: stop accepting, finish in-flight requests, then stop (exit 0)."""
        assert self.server is not None and self.loaded is not None
        pid = newer.process.pid
        served = sorted(self.routes.endpoints.values() if self.routes else (), key=lambda e: e.tag)
        for endpoint in served:
            self.console.print(f"Endpoint {endpoint.tag} was taken over by a newer toolkit serve (pid {pid}); "
                               "stopping.", highlight=False)
        if not served:
            self.console.print(f"Port {self.options.port} was taken over by a newer toolkit serve (pid {pid}); "
                               "stopping.", highlight=False)
        # a request in flight may run to its function's timeout; Ctrl-C (twice) still cuts it short
        drain = max((e.timeout for e in self.loaded.endpoints.values()), default=0.0)
        self.server.config.timeout_graceful_shutdown = math.ceil(max(drain, HANDOVER_DRAIN_MIN_S))
        self.server.should_exit = True

    async def _watch(self) -> None:
        async for changed in watch_app_files(lambda: self.routes.info.files if self.routes else ()):
            await self.reload(changed)

    async def reload(self, changed: list[str]) -> None:
        self.console.print(f"Change in {', '.join(changed)}; reloading.", highlight=False)
        try:
            routes = await load_routes(self.options)
            await self.install(routes)
        except (AppLoadError, Error) as exc:  # Error: an image build failed (--containers)
            self.console.print(f"[red]Reload failed:[/red] {exc}\n{self.version.still_serving()}", highlight=False)


class GatewayServer(uvicorn.Server):
    """uvicorn's server, except that Ctrl-C / SIGTERM only ask it to stop: the workers are then
    stopped (their ASGI lifespan shutdown runs) before the process exits, instead of uvicorn
    re-raising the signal as soon as it stops listening."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._ask_to_stop)
        try:
            yield
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    on_stop: Callable[[], None] | None = None  # the first Ctrl-C / SIGTERM: say what is waited for
    on_stop_now: Callable[[], None] | None = None  # the second: stop the workers at once

    def _ask_to_stop(self) -> None:
        if self.should_exit:  # a second Ctrl-C stops waiting for open connections and kills the workers
            self.force_exit = True
            if self.on_stop_now is not None:
                self.on_stop_now()
            return
        self.should_exit = True
        if self.on_stop is not None:
            self.on_stop()


def serve(options: ServeOptions) -> None:
    console = Console(highlight=False, soft_wrap=True)
    with contextlib.suppress(KeyboardInterrupt):
        run(ServeSession(options, console).run())
