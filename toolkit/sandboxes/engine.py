"""The local container engine a sandbox runs in, and the arguments a sandbox spec becomes.

Isolation is the point of a sandbox, so there is no fallback: without podman or docker on PATH
`find_engine` raises `NoSandboxEngineError` saying how to install one.  Nothing of the host is
mounted (only volumes the user asked for), ports are published on 127.0.0.1 only, and
``block_network`` is ``--network none``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from toolkit.exception import InvalidError

ENGINES = ("podman", "docker")
ENGINE_ENV = "TOOLKIT_SANDBOX_ENGINE"
CONTAINER_PREFIX = "toolkit-sb-"
LABEL = "dev.toolkit.sandbox"
ENGINE_TIMEOUT_S = 60
KEEP_ALIVE = ("sleep", "infinity")  # the command of a sandbox created without one: it waits for exec


class NoSandboxEngineError(InvalidError):
    """No container engine to run a sandbox in; toolkit never runs one as a bare process."""


def find_engine(path: str | None = None) -> str:
    """``TOOLKIT_SANDBOX_ENGINE`` if set, else podman, else docker; the error says how to get one."""
    choice = os.environ.get(ENGINE_ENV) or None
    if choice is not None and choice not in ENGINES:
        raise NoSandboxEngineError(f"{ENGINE_ENV}={choice!r} is not a container engine toolkit drives; "
                                   "set it to 'podman' or 'docker', or unset it.")
    for engine in (choice,) if choice else ENGINES:
        if shutil.which(engine, path=path):
            return engine
    missing = f"{choice} is not on PATH" if choice else "neither podman nor docker is on PATH"
    raise NoSandboxEngineError(
        f"toolkit.Sandbox runs every sandbox in a container and {missing}; toolkit never falls back to an "
        "unisolated process. Install podman (apt-get install podman) or docker, then retry.")


@dataclass(frozen=True)
class RunSpec:
    """What ``<engine> run`` is asked for: every field a checked, typed value."""

    sandbox_id: str
    image: str
    command: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    workdir: str | None = None
    cpu: float | None = None
    memory_mib: int | None = None
    block_network: bool = False
    ports: tuple[int, ...] = ()
    mounts: tuple[tuple[str, str], ...] = ()  # (host directory, container path): volumes the user asked for
    labels: Mapping[str, str] = field(default_factory=dict)
    log_path: str | None = None  # podman: the k8s-file log goes here (toolkit.sandboxes.logs)
    stdin: bool = False  # keep the command's stdin open (-i): `toolkit.sandboxes.main_stdin` writes it

    @property
    def container_name(self) -> str:
        return CONTAINER_PREFIX + self.sandbox_id


def run_args(engine: str, spec: RunSpec) -> list[str]:
    """``<engine> run -d ...`` for ``spec``; the container is removed by the supervisor, not ``--rm``,
    so its exit code and output can be saved first."""
    args = [engine, "run", "-d", *(["-i"] if spec.stdin else []), "--name", spec.container_name,
            "--label", f"{LABEL}={spec.sandbox_id}"]
    args += [f"--label={k}={v}" for k, v in spec.labels.items()]
    args += [f"--env={k}={v}" for k, v in spec.env.items()]
    if spec.workdir:
        args += ["--workdir", spec.workdir]
    if spec.cpu is not None:
        args += ["--cpus", f"{spec.cpu:g}"]
    if spec.memory_mib is not None:
        args += ["--memory", f"{spec.memory_mib}m", "--memory-swap", f"{spec.memory_mib}m"]
    if spec.block_network:
        args += ["--network", "none"]
    args += [f"--publish=127.0.0.1::{port}" for port in spec.ports]
    args += [f"--volume={host}:{path}" for host, path in spec.mounts]
    if spec.log_path and engine == "podman":
        args += ["--log-driver", "k8s-file", "--log-opt", f"path={spec.log_path}"]
    # `--entrypoint` makes the command what runs, whatever ENTRYPOINT the image declares
    return [*args, "--entrypoint", spec.command[0], spec.image, *spec.command[1:]]


def exec_args(engine: str, container: str, command: Sequence[str], *, env: Mapping[str, str],
              workdir: str | None, stdin: bool) -> list[str]:
    args = [engine, "exec", *(["-i"] if stdin else [])]
    args += [f"--env={k}={v}" for k, v in env.items()]
    if workdir:
        args += ["--workdir", workdir]
    return [*args, container, *command]


def published_ports(engine: str, container: str) -> dict[int, int]:
    """Container port -> 127.0.0.1 port, from ``<engine> port`` (lines like ``8000/tcp -> 127.0.0.1:40451``)."""
    done = subprocess.run([engine, "port", container], capture_output=True, text=True, timeout=30)
    ports: dict[int, int] = {}
    for line in done.stdout.splitlines():
        inside, _, outside = line.partition(" -> ")
        if inside and outside:
            ports[int(inside.split("/")[0])] = int(outside.rsplit(":", 1)[1])
    return ports


def image_exists(engine: str, image: str) -> bool:
    done = subprocess.run([engine, "image", "exists" if engine == "podman" else "inspect", image],
                          capture_output=True, timeout=60)
    return done.returncode == 0


def remove(engine: str, container: str) -> None:
    """Kill and remove at once: PID 1 of a sandbox often ignores SIGTERM, a grace period buys nothing."""
    subprocess.run([engine, "rm", "--force", "--time", "0", container], capture_output=True, timeout=60)


def commit(engine: str, container: str, ref: str) -> None:
    done = subprocess.run([engine, "commit", container, ref], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise InvalidError(f"{engine} commit of sandbox container {container} failed: {done.stderr.strip()}")


def live_containers(engine: str) -> list[str]:
    """Names of the sandbox containers the engine knows (running or not): what `toolkit sandbox list` checks."""
    done = subprocess.run([engine, "ps", "-a", "--filter", f"label={LABEL}", "--format", "{{.Names}}"],
                          capture_output=True, text=True, timeout=60)
    return [line for line in done.stdout.split() if line.startswith(CONTAINER_PREFIX)]
