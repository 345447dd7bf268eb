"""Real tools for the container tests: podman (configured as DESIGN.md §6 says), a debootstrap
base image cached under /tmp, and Debian's docker-registry on a free loopback port.

Tests skip only when a tool is not installed, naming the apt package that provides it.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from loopback import free_port

TOOLS = {"podman": "podman", "runc": "runc", "skopeo": "skopeo", "debootstrap": "debootstrap",
         "docker-registry": "docker-registry"}
CACHE_ROOT = Path(tempfile.gettempdir()) / "toolkit-test-cache"
BASE_REPO = "localhost/toolkit-test-base"
BASE_MIRROR = f"docker.io/library/python={BASE_REPO}"  # debian_slim("3.11") -> our debootstrap image
CONTAINERS_CONF = """[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
"""
SYSTEM_CA = Path("/etc/ssl/certs/ca-certificates.crt")
SAMPLE_APP = Path(__file__).parent / "sample_app"


def require_tools(*names: str) -> None:
    for name in names:
        if shutil.which(name) is None and not Path(f"/usr/sbin/{name}").exists():
            pytest.skip(f"{name} is not installed (apt-get install {TOOLS[name]})")


def run(cmd: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]


# -- podman configuration ----------------------------------------------------------------------

def write_containers_conf(directory: Path) -> Path:
    path = directory / "containers.conf"
    path.write_text(CONTAINERS_CONF)
    return path


# -- the base image --------------------------------------------------------------------------------

def debian_mirror(sources: Path = Path("/etc/apt/sources.list.d/debian.sources")) -> str:
    """The machine's Debian mirror: the first ``URIs:`` line (never a hard-coded host)."""
    for line in sources.read_text().splitlines():
        if line.startswith("URIs:"):
            return line.split()[1]
    raise RuntimeError(f"No 'URIs:' line in {sources}; configure a Debian mirror there.")


def base_image_key(mirror: str) -> str:
    return f"{datetime.date.today():%Y%m%d}-{hashlib.sha256(mirror.encode()).hexdigest()[:8]}"


def ensure_rootfs(mirror: str) -> Path:
    """debootstrap minbase + python3 + pip, cached per day and mirror (~1 min when cold)."""
    rootfs = CACHE_ROOT / f"base-{base_image_key(mirror)}" / "rootfs"
    if (rootfs / "usr/bin/python3").exists():
        return rootfs
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="debootstrap-", dir=CACHE_ROOT))
    done = run(["debootstrap", "--variant=minbase", "--include=python3,python3-pip", "bookworm",
                str(staging / "rootfs"), mirror])
    if done.returncode != 0:
        raise RuntimeError(f"debootstrap from {mirror} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    for deb in (staging / "rootfs/var/cache/apt/archives").glob("*.deb"):
        deb.unlink()  # the downloaded packages are 40 MB the image does not need
    rootfs.parent.mkdir(parents=True, exist_ok=True)
    (staging / "rootfs").rename(rootfs)
    shutil.rmtree(staging, ignore_errors=True)
    return rootfs


def ensure_base_image(mirror: str, env: dict[str, str]) -> str:
    """Import the rootfs into podman once per key; tag it as the python:3.11-slim-bookworm stand-in."""
    keyed = f"{BASE_REPO}:{base_image_key(mirror)}"
    if run(["podman", "image", "exists", keyed], env=env).returncode != 0:
        rootfs = ensure_rootfs(mirror)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        done = run(["podman", "import", "-", keyed], stdin=tar.stdout, env=env)
        tar.wait()
        assert done.returncode == 0, done.stderr
    tagged = run(["podman", "tag", keyed, f"{BASE_REPO}:3.11-slim-bookworm"], env=env)
    assert tagged.returncode == 0, tagged.stderr
    return keyed


# -- the registry ---------------------------------------------------------------------------------

@dataclass
class LocalRegistry:
    host: str
    process: subprocess.Popen[bytes]
    storage: Path

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def start_registry(directory: Path) -> LocalRegistry:
    port = free_port()
    storage = directory / "storage"
    storage.mkdir()
    config = directory / "registry.yml"
    config.write_text(f"version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {storage}\n"
                      f"  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n")
    log = open(directory / "registry.log", "wb")  # noqa: SIM115 - lives as long as the process
    process = subprocess.Popen([shutil.which("docker-registry") or "/usr/bin/docker-registry", "serve", str(config)],
                               stdout=log, stderr=subprocess.STDOUT)
    registry = LocalRegistry(f"127.0.0.1:{port}", process, storage)
    _wait_for(f"http://{registry.host}/v2/", process, directory / "registry.log")
    return registry


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"docker-registry did not answer {url} in {timeout} s: {log.read_text()[-2000:]}")


# -- inspecting results -------------------------------------------------------------------------------

def skopeo_inspect(ref: str, env: dict[str, str], *, config: bool = False) -> dict:
    args = ["skopeo", "inspect", "--tls-verify=false", *(["--config"] if config else []), f"docker://{ref}"]
    done = run(args, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def toolkit_build(app_dir: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`toolkit build` as a user runs it: a separate process, from the app's directory."""
    return run([sys.executable, "-m", "toolkit.cli", "build", *args], cwd=app_dir, env=env)


def copy_app(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


# -- toolkit serve --containers -------------------------------------------------------------------------

@dataclass
class ContainerServe:
    """A running ``toolkit serve --containers``: its gateway's URL and each web function's Host; once stopped,
    its exit status and everything it printed."""

    port: int
    hosts: dict[str, str]
    returncode: int | None = None
    output: str = field(default="", repr=False)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def serving_containers(app_dir: Path, app_file: str, env: dict[str, str]) -> Iterator[ContainerServe]:
    """``toolkit serve --containers --builder podman --no-reload APP_FILE`` from ``app_dir`` on a free port, once
    it lists its endpoints; stopped with SIGINT on leaving (killed after 60 s), its status and output kept."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "toolkit.cli", "serve", "--containers", "--builder", "podman",
                             "--no-reload", "--port", str(port), app_file],
                            cwd=app_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    served = ContainerServe(port, {})
    try:
        served.hosts = {e["function"]: e["url"].split("://", 1)[1] for e in wait_for_endpoints(served.base, proc)}
        yield served
    finally:
        _stop(proc, served)


def _stop(proc: subprocess.Popen[str], served: ContainerServe) -> None:
    if proc.returncode is not None:  # wait_for_endpoints gave up on it and already read its output
        return
    proc.send_signal(signal.SIGINT)
    try:
        served.output, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        served.output, _ = proc.communicate()
    served.returncode = proc.returncode


def wait_for_endpoints(base: str, proc: subprocess.Popen[str], timeout: float = 300.0) -> list[dict[str, str]]:
    """What ``base/api/endpoints`` lists once the serve answers (it builds the images first); fails with the
    serve's output if it exits or does not answer within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            reply = httpx.get(base + "/api/endpoints", timeout=2.0)
            if reply.status_code == 200:
                return list(reply.json())
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    out, _ = proc.communicate()
    raise AssertionError(f"toolkit serve --containers never served its index:\n{out[-6000:]}")
