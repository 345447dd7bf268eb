"""``toolkit serve --containers``: each web function's workers are its real image, run locally.

Before serving (and again on every reload) the app's images are planned and built into the
local engine's store with `toolkit.images` (no registry, nothing pushed; an unchanged image is
not rebuilt).  A pool's worker is then one container started in HTTP mode with
`toolkit.images.run_container` (``python -m runtime.server`` inside, ``TOOLKIT_FUNCTION`` set to
the function's tag), its port 8080 published on a free 127.0.0.1 port that the gateway
proxies to with `tcp_connector`.

The serve gateway stays the only one that applies the web semantics.  ``runtime.server``
wraps the function in the same `runtime.gateway.Gateway`, so each container is configured to
step aside: ``TOOLKIT_RATE_LIMIT=0`` (no second rate limit), no call store (no second 303
budget: without ``TOOLKIT_CALLS_TABLE`` it always answers inline), and proxy auth with a
token pair private to this serve session: the serve gateway checks the client's
``Toolkit-Key``/``Toolkit-Secret`` and then replaces them with that pair upstream, so the
container's own check always passes and the client's secret never enters the container.
What it cannot be told: its body cap is the runtime's default (32 MiB), so a
``--max-body-size`` above that is still cut at 32 MiB by the container.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import socket
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime.environment import ContainerEnv
from runtime.gateway.auth import TOKEN_ID_HEADER, TOKEN_SECRET_HEADER, hash_secret
from runtime.manifest import load
from toolkit.exception import InvalidError
from toolkit.serve.upstream import UpstreamPool, tcp_connector
from toolkit.serve.workers import WebWorker, WorkerStartError

ENGINES = ("podman", "docker")
HEALTH_TIMEOUT_S = 120.0
INTERNAL_TOKEN_ID = "tk-serve-containers"


class NoContainerEngineError(InvalidError):
    """Neither podman nor docker can be used to serve with --containers."""


def pick_engine(name: str | None = None, path: str | None = None) -> str:
    """The local engine to build and run with: ``name`` (``--builder``), else ``TOOLKIT_BUILDER``,
    else podman, else docker.  Raises one line naming both engines and the fix."""
    choice = name or os.environ.get("TOOLKIT_BUILDER") or None
    if choice is not None and choice not in ENGINES:
        raise NoContainerEngineError(
            f"toolkit serve --containers builds and runs images locally, so it needs podman or docker, "
            f"not {choice!r}: pass --builder podman or --builder docker.")
    for engine in (choice,) if choice else ENGINES:
        if shutil.which(engine, path=path):
            return engine
    missing = f"{choice} is not on PATH" if choice else "neither podman nor docker is on PATH"
    raise NoContainerEngineError(
        f"toolkit serve --containers needs a container engine, but {missing}: install podman "
        "(apt-get install podman) or docker, or serve without --containers (local worker processes).")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ContainerImages:
    """Builds the app's images into the local engine and starts their containers."""

    engine: str
    log: Callable[[str], None] = lambda _m: None
    progress: Callable[[str], None] | None = None  # where builds show (a `toolkit.progress.Display`), else ``log``
    images: dict[str, str] = field(default_factory=dict)  # function tag -> local image reference
    binds: dict[str, list[tuple[str, str, bool]]] = field(default_factory=dict)  # tag -> its volumes' -v binds
    _secret: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)

    # -- images ---------------------------------------------------------------------------------
    def build(self, manifest: Mapping[str, Any]) -> dict[str, str]:
        """Plan and build (into local storage only) every image that holds a web function; blocking."""
        from toolkit.images import build_images, pick_builder, plan_app
        from toolkit.images.plan import PlanOptions
        from toolkit.volume import container_binds

        web = {fn.tag for fn in load(manifest).functions if fn.web is not None}
        self.binds = {fn.tag: container_binds(fn.tag, fn.volumes, fn.bucket_mounts)  # refused before any build
                      for fn in load(manifest).functions if fn.tag in web}
        plans = [p for p in plan_app(manifest, PlanOptions.from_env()) if web & set(p.functions)]
        show = self.progress or self.log
        built = build_images(plans, pick_builder(self.engine, log=show), None, log=show)
        return {fn: image.ref for image in built for fn in image.functions if fn in web}

    async def prepare(self, manifest: Mapping[str, Any]) -> None:
        """Build the images of this generation of the app; new pools start containers from them."""
        self.images = await asyncio.to_thread(self.build, manifest)

    # -- containers -----------------------------------------------------------------------------
    def container_env(self, tag: str, env: Mapping[str, str]) -> dict[str, str]:
        tokens = json.dumps({INTERNAL_TOKEN_ID: hash_secret(self._secret)})
        return {**env, **ContainerEnv(function=tag, rate_limit=0, proxy_tokens=tokens).to_environ()}

    @property
    def auth_headers(self) -> tuple[tuple[bytes, bytes], ...]:
        """What replaces the client's token headers on the way into a container."""
        return ((TOKEN_ID_HEADER, INTERNAL_TOKEN_ID.encode()), (TOKEN_SECRET_HEADER, self._secret.encode()))

    async def start(self, tag: str, env: Mapping[str, str]) -> ContainerWorker:
        """One container of ``tag``'s image, healthy; raises WorkerStartError with its log otherwise."""
        from toolkit.images import ImageError, run_container

        image = self.images.get(tag)
        if image is None:
            raise WorkerStartError(f"No image was built for {tag}.")
        try:
            handle = await asyncio.to_thread(run_container, image, _free_port(), self.container_env(tag, env),
                                             engine=self.engine, binds=self.binds.get(tag, ()))
        except ImageError as exc:
            raise WorkerStartError(str(exc)) from None
        try:
            # At once, before the health wait: from here on, serve dying removes the container.
            waiter = await asyncio.create_subprocess_exec(  # exits with the container (`toolkit.serve.lifeline`)
                sys.executable, "-m", "toolkit.serve.lifeline", str(os.getpid()), self.engine, handle.container_id,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
                start_new_session=True)  # Ctrl-C in the terminal must not end it before the container
            await asyncio.to_thread(handle.wait_healthy, HEALTH_TIMEOUT_S)
        except BaseException as exc:
            await asyncio.to_thread(handle.stop)
            if isinstance(exc, ImageError):
                raise WorkerStartError(str(exc)) from None
            raise
        self.log(f"{tag}: container {handle.container_id[:12]} of {image} on {handle.url}")
        return ContainerWorker(waiter, UpstreamPool(tcp_connector("127.0.0.1", handle.port)), None, handle.port,
                               auth_headers=self.auth_headers, handle=handle)


@dataclass(eq=False)
class ContainerWorker(WebWorker):
    """A worker whose process is ``<engine> wait <id>``: it exits when the container does, so the
    pool notices a container that died; stopping removes the container."""

    handle: Any = None  # toolkit.images.ContainerHandle

    async def stop(self) -> None:
        self.stopping = True
        if self.handle is not None:
            await asyncio.to_thread(self.handle.stop)
        with contextlib.suppress(ProcessLookupError):
            if self.proc.returncode is None:
                self.proc.terminate()
        await super().stop()
