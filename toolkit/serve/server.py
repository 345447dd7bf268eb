"""`toolkit serve` wired together: load the app, bind the port, serve, reload on change, stop.

The composition root: the CLI (`toolkit.cli.serve_cmd`) only parses options into
`ServeOptions` and calls `serve`.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import uvicorn
from rich.console import Console

from runtime.callstore.sqlite import SQLiteCallStore
from toolkit import config
from toolkit.exception import AppLoadError, Error, InvalidError
from toolkit.serve.appinfo import ERROR_EXIT, AppInfo
from toolkit.serve.container import WS_MAX_MESSAGE_BYTES
from toolkit.serve.containers import ContainerImages, pick_engine
from toolkit.serve.gateway import GatewayLimits, ServeGateway
from toolkit.serve.httpio import CoalescingHTTPProtocol, run
from toolkit.serve.index import endpoint_list
from toolkit.serve.routes import RouteTable
from toolkit.serve.tokens import TokenStore
from toolkit.serve.workers import PortLeases

REAP_EVERY_S = 1.0


@dataclass(frozen=True)
class ServeOptions:
    target: str  # app.py[::name] or a module name
    is_module: bool = False
    host: str = "127.0.0.1"
    port: int = 8000
    limits: GatewayLimits = field(default_factory=GatewayLimits)
    reload: bool = True
    port_explicit: bool = True  # False: the default port, free to move off a web_server's port
    containers: bool = False  # workers are the functions' real images (`toolkit.serve.containers`)
    builder: str | None = None  # with containers: podman or docker (default: the first on PATH)

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
    return RouteTable.from_info(AppInfo.from_json(out.decode()))


def app_ports(routes: RouteTable) -> set[int]:
    return {e.spec.port for e in routes.endpoints.values() if e.spec.port is not None}


def gateway_port(options: ServeOptions, routes: RouteTable) -> int:
    """The gateway's port.  The default one steps aside when the app's own web_server wants it
    (the guide's servers listen on 8000, which is also serve's default)."""
    taken = app_ports(routes)
    if options.port_explicit or options.port not in taken:
        return options.port
    return next(p for p in range(options.port + 1, options.port + 200) if p not in taken and _free(options.host, p))


def _free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def bind(host: str, port: int) -> socket.socket:
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
        self.routes: RouteTable | None = None
        self.images: ContainerImages | None = None

    def log(self, message: str) -> None:
        self.console.print(f"[yellow]{message}[/yellow]", highlight=False)

    def print_urls(self, routes: RouteTable) -> None:
        for entry in endpoint_list(routes, self.options.origin):
            self.console.print(f"[green]✓[/green] {entry['function']} => [bold]{entry['url']}[/bold]", highlight=False)
        if not routes.endpoints:
            self.console.print(f"App {routes.app_name!r} has no web endpoints.")

    async def run(self) -> None:
        if self.options.containers:  # before anything else: no engine is one line, not a load and a build
            self.images = ContainerImages(pick_engine(self.options.builder), self.log)
        routes = await load_routes(self.options)
        port = gateway_port(self.options, routes)
        if port != self.options.port:
            self.log(f"Port {self.options.port} belongs to the app's web_server; the gateway listens on {port}.")
            self.options = replace(self.options, port=port)
        sock = bind(self.options.host, self.options.port)
        ports = PortLeases({self.options.port: "toolkit serve itself listens on"})
        self.gateway = ServeGateway(self.options.origin, self.options.limits, TokenStore(),
                                    SQLiteCallStore(config.calls_db_path()), ports, self.log)
        if self.images is not None:
            self.gateway.launcher = self.images.start
        await self.install(routes)
        self.console.print(f"Serving app {routes.app_name!r}; endpoint list at [bold]{self.options.origin}/[/bold]"
                           f"{' (live reload on)' if self.options.reload else ''}. Ctrl-C to stop.", highlight=False)
        server = GatewayServer(uvicorn.Config(
            self.gateway, http=CoalescingHTTPProtocol, lifespan="off", log_level="warning", access_log=False, ws_max_size=WS_MAX_MESSAGE_BYTES,
            ws_per_message_deflate=False, timeout_graceful_shutdown=3, server_header=False,
            proxy_headers=False,  # the gateway is the edge: the peer it sees is the client
        ))
        tasks = [asyncio.ensure_future(self._reap())]
        if self.options.reload:
            tasks.append(asyncio.ensure_future(self._watch()))
        try:
            await server.serve(sockets=[sock])
        finally:
            for task in tasks:
                task.cancel()
            await self.gateway.shutdown()

    async def install(self, routes: RouteTable) -> None:
        assert self.gateway is not None
        if self.images is not None:
            self.log(f"Building the images of {routes.app_name!r} with {self.images.engine} (local store, no push)...")
            await self.images.prepare(routes.info.manifest)
        self.routes = routes
        await self.gateway.install(routes)
        self.print_urls(routes)

    async def _reap(self) -> None:
        assert self.gateway is not None
        while True:
            await asyncio.sleep(REAP_EVERY_S)
            await self.gateway.reap()

    async def _watch(self) -> None:
        from toolkit.serve.reload import watch_app_files

        async for changed in watch_app_files(lambda: self.routes.info.files if self.routes else ()):
            await self.reload(changed)

    async def reload(self, changed: list[str]) -> None:
        self.console.print(f"Change in {', '.join(changed)}; reloading.", highlight=False)
        try:
            routes = await load_routes(self.options)
            await self.install(routes)
        except (AppLoadError, Error) as exc:  # Error: an image build failed (--containers)
            self.console.print(f"[red]Reload failed:[/red] {exc}\nStill serving the last version that loaded.",
                               highlight=False)


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

    def _ask_to_stop(self) -> None:
        self.force_exit = self.should_exit  # a second Ctrl-C stops waiting for open connections
        self.should_exit = True


def serve(options: ServeOptions) -> None:
    console = Console(highlight=False, soft_wrap=True)
    with contextlib.suppress(KeyboardInterrupt):
        run(ServeSession(options, console).run())
