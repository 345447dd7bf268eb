"""`FunctionSpec`: everything toolkit knows about one function, resolved and validated.

Built once by ``@app.function`` / ``@app.cls``; the manifest is a plain-data view of it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from runtime.manifest import ComputeTarget, Kind
from toolkit.exception import InvalidError
from toolkit.image import Image
from toolkit.partial import BatchConfig, WebConfig
from toolkit.schedule import Cron, Period
from toolkit.secret import Secret

COMPUTE_TARGET_CHOICES = ("auto", "lambda", "ecs", "gpu")  # what the user option backend= accepts
LAMBDA_MAX_TIMEOUT = 900
LAMBDA_MEMORY_RANGE = (128, 10240)
_GPU_RE = re.compile(r"^(any|t4|l4|a10g|l40s|a100(-40gb|-80gb)?|h100|h200)(:[1-8])?$", re.IGNORECASE)


@dataclass(frozen=True)
class Retries:
    """Retry a failed input: ``max_retries`` more tries, waiting ``initial_delay`` * coefficient**n."""

    max_retries: int
    backoff_coefficient: float = 2.0
    initial_delay: float = 1.0
    max_delay: float = 60.0

    def __post_init__(self) -> None:
        if not isinstance(self.max_retries, int) or not 0 <= self.max_retries <= 10:
            raise InvalidError(f"Retries(max_retries={self.max_retries!r}) must be an int from 0 to 10.")
        if not 1.0 <= self.backoff_coefficient <= 10.0:
            raise InvalidError(f"Retries(backoff_coefficient={self.backoff_coefficient!r}) must be between 1 and 10.")
        if self.initial_delay < 0 or self.max_delay < self.initial_delay:
            raise InvalidError("Retries needs 0 <= initial_delay <= max_delay (seconds).")

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        return float(min(self.max_delay, self.initial_delay * self.backoff_coefficient ** (attempt - 1)))


@dataclass(frozen=True)
class ClsInfo:
    name: str
    user_cls: type
    parameters: tuple[tuple[str, str, Any], ...]  # (name, type name, default)
    enter_methods: tuple[str, ...] = ()
    exit_methods: tuple[str, ...] = ()
    snap_methods: tuple[str, ...] = ()  # the @enter(snap=True) hooks among enter_methods


@dataclass(frozen=True)
class FunctionSpec:
    app_name: str
    tag: str
    name: str
    raw_f: Callable[..., Any]
    module: str
    source_file: str | None
    is_async: bool = False
    is_generator: bool = False
    cls: ClsInfo | None = None
    web: WebConfig | None = None
    image: Image = field(default_factory=Image)
    gpu: str | None = None
    cpu: float | None = None
    memory: int | None = None
    ephemeral_disk: int | None = None
    timeout: int = 300
    secrets: tuple[Secret, ...] = ()
    min_containers: int = 0
    max_containers: int | None = None
    buffer_containers: int = 0
    scaledown_window: int = 60
    retries: Retries | None = None
    backend: ComputeTarget = "lambda"
    max_inputs: int = 1
    target_inputs: int | None = None
    batch: BatchConfig | None = None  # @toolkit.batched
    inputs_per_container: int | None = None  # a worker retires after this many (single_use_containers: 1)
    regions: tuple[str, ...] = ()  # region=: where it may run; a deploy elsewhere is refused
    schedule: Period | Cron | None = None
    volumes: tuple[tuple[str, str, bool, bool], ...] = ()  # (mount path, name, create_if_missing, read_only)
    bucket_mounts: tuple[tuple[str, Any], ...] = ()  # (mount path, toolkit.CloudBucketMount): synced buckets
    proxy: str | None = None  # proxy=toolkit.Proxy.from_name(name): a static egress IP when deployed
    memory_snapshot: bool = False  # enable_memory_snapshot=True: asked for, not applied (`toolkit plan` says so)

    @property
    def kind(self) -> Kind:
        return cast(Kind, self.web.kind) if self.web else "function"  # the web decorators set only web kinds


def resolve_compute_target(name: str, backend: str, gpu: str | None, web: WebConfig | None, timeout: int) -> ComputeTarget:
    """Where the function runs: the user's ``backend=`` choice, with "auto" resolved and impossible ones refused."""
    if backend not in COMPUTE_TARGET_CHOICES:
        raise InvalidError(f"{name}: backend={backend!r} is not one of {COMPUTE_TARGET_CHOICES}.")
    long_lived = web is not None and web.kind == "web_server"
    if backend == "auto":
        return "gpu" if gpu else ("ecs" if long_lived or timeout > LAMBDA_MAX_TIMEOUT else "lambda")
    if backend == "lambda" and (gpu or long_lived or timeout > LAMBDA_MAX_TIMEOUT):
        why = "a GPU" if gpu else ("a web_server" if long_lived else f"timeout={timeout} (Lambda stops at 900 s)")
        raise InvalidError(f"{name}: backend='lambda' cannot run {why}; use backend='auto', 'ecs' or 'gpu'.")
    if backend == "gpu" and not gpu:
        raise InvalidError(f"{name}: backend='gpu' needs gpu=..., e.g. gpu='T4'.")
    return cast(ComputeTarget, backend)  # one of COMPUTE_TARGET_CHOICES, and not "auto"


def check_resources(name: str, *, gpu: str | None, cpu: float | None, memory: int | None, timeout: int,
                    min_containers: int, max_containers: int | None) -> None:
    if gpu is not None and (not isinstance(gpu, str) or not _GPU_RE.match(gpu)):
        raise InvalidError(f"{name}: gpu={gpu!r} is not known; use e.g. 'T4', 'A10G', 'L4', 'L40S', 'A100', 'H100', "
                           "'any', with ':N' for several (e.g. 'H100:2').")
    if cpu is not None and (not isinstance(cpu, (int, float)) or not 0.125 <= cpu <= 64):
        raise InvalidError(f"{name}: cpu={cpu!r} must be a number of cores from 0.125 to 64.")
    if memory is not None and (not isinstance(memory, int) or not LAMBDA_MEMORY_RANGE[0] <= memory <= 512_000):
        raise InvalidError(f"{name}: memory={memory!r} must be MiB as an int, at least 128 (e.g. memory=1024).")
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not 1 <= timeout <= 24 * 3600:
        raise InvalidError(f"{name}: timeout={timeout!r} must be whole seconds from 1 to 86400.")
    if not isinstance(min_containers, int) or min_containers < 0:
        raise InvalidError(f"{name}: min_containers={min_containers!r} must be an int >= 0.")
    if max_containers is not None and (not isinstance(max_containers, int) or max_containers < 1):
        raise InvalidError(f"{name}: max_containers={max_containers!r} must be an int >= 1 (or None for no cap).")
    if max_containers is not None and min_containers > max_containers:
        raise InvalidError(f"{name}: min_containers={min_containers} is above max_containers={max_containers}.")


def as_retries(name: str, retries: int | Retries | None) -> Retries | None:
    if retries is None or isinstance(retries, Retries):
        return retries
    if isinstance(retries, bool) or not isinstance(retries, int):
        raise InvalidError(f"{name}: retries={retries!r} must be an int or toolkit.Retries(...).")
    return Retries(max_retries=retries, initial_delay=1.0) if retries else None


def as_secrets(name: str, secrets: Sequence[Secret]) -> tuple[Secret, ...]:
    for secret in secrets:
        if not isinstance(secret, Secret):
            raise InvalidError(f"{name}: secrets must be toolkit.Secret objects, got {secret!r} "
                               "(e.g. toolkit.Secret.from_name('my-secret')).")
    return tuple(secrets)
