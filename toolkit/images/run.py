"""Run a built image locally in HTTP mode: what ``toolkit serve --containers`` starts per function.

    with run_container(ref, 8123, {"TOOLKIT_FUNCTION": "square"}) as c:
        c.wait_healthy()
        httpx.get(c.url + "/...")
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType

import httpx

from toolkit.images.errors import BuilderUnavailableError, ImageError
from toolkit.images.runtime_layer import HTTP_PORT

HEALTH_PATH = "/__toolkit/health"


@dataclass
class ContainerHandle:
    engine: str
    container_id: str
    port: int
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def logs(self) -> str:
        done = subprocess.run([self.engine, "logs", self.container_id], capture_output=True, text=True)
        return done.stdout + done.stderr

    def running(self) -> bool:
        done = subprocess.run([self.engine, "inspect", "--format", "{{.State.Running}}", self.container_id],
                              capture_output=True, text=True)
        return done.stdout.strip() == "true"

    def wait_healthy(self, timeout: float = 60.0) -> None:
        """Poll the runtime's health route; raise with the container's log if it never answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + HEALTH_PATH, timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if not self.running():
                break
            time.sleep(0.2)
        raise ImageError(f"Container {self.container_id[:12]} did not answer {HEALTH_PATH} on {self.url} "
                         f"within {timeout:.0f} s. Its log:\n{self.logs()[-4000:]}")

    def stop(self) -> None:
        subprocess.run([self.engine, "rm", "-f", "-t", "2", self.container_id], capture_output=True, text=True)

    def __enter__(self) -> ContainerHandle:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()


def run_container(image: str, port: int, env: Mapping[str, str], *, engine: str | None = None,
                  args: tuple[str, ...] = (), binds: Sequence[tuple[str, str, bool]] = ()) -> ContainerHandle:
    """Start ``image`` detached in HTTP mode, its port 8080 published on 127.0.0.1:``port``.
    ``env`` must name the function (``TOOLKIT_FUNCTION``); the image sets the manifest path.
    ``binds``: ``(host directory, container path, read only)`` bind mounts (local volumes)."""
    binary = engine or os.environ.get("TOOLKIT_BUILDER") or ("podman" if shutil.which("podman") else "docker")
    if binary not in ("podman", "docker") or shutil.which(binary) is None:
        raise BuilderUnavailableError(f"Running images needs podman or docker; {binary!r} is not available.")
    flags = [f"--env={key}={value}" for key, value in sorted(env.items())]
    flags += [f"--volume={host}:{path}:{'ro' if read_only else 'rw'}" for host, path, read_only in binds]
    cmd = [binary, "run", "-d", "--rm=false", "-p", f"127.0.0.1:{port}:{HTTP_PORT}", *flags, image, *args]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise ImageError(f"{binary} run {image} failed: {done.stderr.strip()}")
    return ContainerHandle(binary, done.stdout.strip().splitlines()[-1], port, dict(env))
