"""Manifest -> plan: what to create for each function, decided without Pulumi.

The Pulumi components only execute this plan (DESIGN §7: plan -> apply from inert data).
Everything a reviewer may want to question lives here as plain data: which compute target
(``backend=``) runs a function, how its worker is started, which front door serves it, which
domains it needs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Literal

from infra.asl import Retry
from infra.config import ConfigError, Settings
from infra.dns import workspace_url
from infra.gpu import GpuError, GpuSelection, gpu_task_size, select_gpu
from infra.naming import physical_name, slug
from infra.sizing import SizeError, fargate_ephemeral_gib, fargate_size
from runtime import manifest as schema

__all__ = [
    "CLOUDFRONT_BUDGET_MARGIN",
    "LAMBDA_MAX_TIMEOUT",
    "AppPlan",
    "FunctionPlan",
    "WebPlan",
    "plan_app",
]

Worker = Literal["lambda", "ecs"]
FrontDoor = Literal["http_api", "alb"]

LAMBDA_MAX_TIMEOUT = 900  # seconds; past it a call must run on ECS
# CloudFront gives up on an origin that sends nothing for its read timeout: the runtime's 303
# must leave this much earlier (the same margin the HTTP API budget keeps under its 30 s)
CLOUDFRONT_BUDGET_MARGIN = 5
DEFAULT_MAX_SERVICE_TASKS = 10


@dataclass(frozen=True)
class WebPlan:
    kind: str
    label: str
    host: str  # <workspace>[-<env>]--<label>: the DNS label under the base domain
    url: str | None  # workspace URL on the base domain, None without one
    custom_domains: tuple[str, ...]
    requires_proxy_auth: bool
    port: int | None
    method: str | None
    startup_timeout: float | None = None


@dataclass(frozen=True)
class FunctionPlan:
    tag: str
    slug: str
    name: str  # physical base name: <app>-<stack>-<function slug>
    kind: str
    backend: schema.ComputeTarget
    image_uri: str
    timeout: int
    cpu: float | None
    memory: int | None
    ephemeral_disk: int | None
    gpu: GpuSelection | None
    min_containers: int
    max_containers: int | None
    retries: Retry | None
    secrets: tuple[str, ...]
    web: WebPlan | None
    # (cpu units, memory MiB) of its ECS task, checked at plan time: a valid Fargate pair, or a
    # GPU task's share of its instance. None when it never runs on ECS.
    task_size: tuple[int, int] | None = None
    architecture: str = "x86_64"  # Lambda's name for it; GPU instances are x86_64 only
    volumes: tuple[str, ...] = ()  # names of the volumes it mounts (infra/components/volumes.py)
    read_only_volumes: tuple[str, ...] = ()  # those of them it mounts only read-only (no write grant)
    bucket_mounts: tuple[schema.BucketMount, ...] = ()  # CloudBucketMounts: synced by the runtime, granted by IAM
    proxy: str | None = None  # proxy=: runs in the proxy's private subnets, egress via its NAT (components/proxy.py)
    scheduled: bool = False  # schedule=: EventBridge Scheduler runs it (infra/schedules.py)
    image_key: str = ""  # its image's spec hash: sandboxes ask for an image by it (components/sandboxes.py)

    @property
    def bucket_secrets(self) -> tuple[str, ...]:
        """Secrets whose keys sign a bucket mount's requests: read by the runtime, never put in os.environ."""
        return tuple(sorted({m.secret for m in self.bucket_mounts if m.secret}))

    @property
    def worker(self) -> Worker:
        """Lambda stops at 15 minutes and has no GPUs: such calls run as ECS tasks."""
        if self.backend != "lambda" or self.timeout > LAMBDA_MAX_TIMEOUT:
            return "ecs"
        return "lambda"

    @property
    def front_door(self) -> FrontDoor | None:
        if self.web is None:
            return None
        return "http_api" if self.backend == "lambda" else "alb"

    @property
    def has_function_url(self) -> bool:
        """Web endpoints on Lambda also answer on a Function URL in RESPONSE_STREAM mode: no 30 s
        cut and raw streamed bodies (SSE), where API Gateway buffers the whole response."""
        return self.web is not None and self.backend == "lambda"

    def stream_budget(self, origin_read_timeout: int) -> int | None:
        """``TOOLKIT_STREAM_BUDGET_S`` when CloudFront (custom domains) fronts the Function URL:
        the 303 must come before CloudFront's origin read timeout.  None: the runtime's default."""
        if not (self.has_function_url and self.web and self.web.custom_domains):
            return None
        return max(1, origin_read_timeout - CLOUDFRONT_BUDGET_MARGIN)

    @property
    def has_service(self) -> bool:
        """A long-running ECS service exists only to answer web requests."""
        return self.front_door == "alb"

    @property
    def has_lambda(self) -> bool:
        return self.backend == "lambda"

    @property
    def service_capacity(self) -> tuple[int, int]:
        """(min, max) tasks: an ALB cannot wake a service from zero, so keep one running."""
        low = max(self.min_containers, 1)
        return low, max(self.max_containers or DEFAULT_MAX_SERVICE_TASKS, low)


@dataclass(frozen=True)
class AppPlan:
    app: str
    prefix: str  # <app>-<stack>: the head of every physical name
    workspace: str
    environment: str | None
    functions: tuple[FunctionPlan, ...]
    base_domain: str | None
    hosted_zone: str | None
    # (spec hash, image URI) of each sandbox-only image, with toolkit:sandboxes (components/sandboxes.py)
    sandbox_images: tuple[tuple[str, str], ...] = ()

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(sorted({s for f in self.functions for s in (*f.secrets, *f.bucket_secrets)}))

    @property
    def proxies(self) -> tuple[str, ...]:
        """The proxy names functions ask for: one NAT gateway and Elastic IP each."""
        return tuple(sorted({f.proxy for f in self.functions if f.proxy}))

    @property
    def needs_ecs(self) -> bool:
        return any(f.worker == "ecs" or f.has_service for f in self.functions)

    @property
    def needs_volumes(self) -> bool:
        return any(f.volumes for f in self.functions)

    @property
    def needs_alb(self) -> bool:
        return any(f.has_service for f in self.functions)

    @property
    def custom_domains(self) -> tuple[str, ...]:
        return tuple(d for f in self.functions if f.web for d in f.web.custom_domains)


def log_group_name(plan: FunctionPlan, prefix: str) -> str:
    """A function's CloudWatch log group: Lambda's own name for it, else one under the app's prefix.
    Planned here, without Pulumi, so `toolkit logs` finds it from the manifest alone."""
    if plan.has_lambda:
        return f"/aws/lambda/{plan.name}"
    return f"/toolkit/{prefix}/{plan.slug}"


def _retries(retries: schema.Retries | None) -> Retry | None:
    if retries is None or not retries.max_retries:
        return None  # max_retries=0: one try, no Retry block
    return Retry(max_retries=retries.max_retries, backoff_coefficient=float(retries.backoff_coefficient),
                 initial_delay=float(retries.initial_delay), max_delay=float(retries.max_delay))


def _web(fn: schema.FunctionEntry, base_domain: str | None) -> WebPlan | None:
    web = fn.web
    if web is None:
        return None
    return WebPlan(
        kind=fn.kind,
        label=web.label,
        host=web.host,
        url=workspace_url(web.host, base_domain) or web.url,
        custom_domains=web.custom_domains,
        requires_proxy_auth=web.requires_proxy_auth,
        port=web.port,
        method=web.method,
        startup_timeout=web.startup_timeout,
    )


def _image(tag: str, images: dict[str, str]) -> str:
    try:
        return images[tag]
    except KeyError:
        raise ConfigError(
            f"function {tag!r} has no image in toolkit:images; build and push it first "
            f"(`toolkit deploy` does) or set toolkit:images to {{\"{tag}\": \"<repo>@sha256:...\"}}"
        ) from None


def _task_size(plan: FunctionPlan) -> tuple[int, int] | None:
    """Size the ECS task before anything is declared: ECS refuses a Fargate pair off its table."""
    if plan.worker != "ecs" and not plan.has_service:
        return None
    try:
        if plan.gpu is not None:
            return gpu_task_size(plan.gpu, plan.memory)
        fargate_ephemeral_gib(plan.ephemeral_disk)  # refused here, before anything is declared
        return fargate_size(plan.cpu, plan.memory)
    except (SizeError, GpuError) as exc:
        raise ConfigError(f"function {plan.tag!r}: {exc}") from None


def plan_function(fn: schema.FunctionEntry, settings: Settings, prefix: str) -> FunctionPlan:
    if fn.proxy and fn.resources.gpu:
        raise ConfigError(f"function {fn.tag!r} asks for proxy={fn.proxy!r} and gpu={fn.resources.gpu!r}: GPU instances "
                          "run in the app's subnets, not a proxy's. Call what needs the static IP from a CPU function "
                          "with proxy=, or drop proxy= from the GPU function.")
    plan = _plan_function(fn, settings, prefix)
    return replace(plan, task_size=_task_size(plan))


def _plan_function(fn: schema.FunctionEntry, settings: Settings, prefix: str) -> FunctionPlan:
    res, scaling = fn.resources, fn.scaling
    gpu = res.gpu
    return FunctionPlan(
        tag=fn.tag,
        slug=slug(fn.tag),
        name=physical_name(prefix, fn.tag, max_len=56),  # room for "-sfn"/"-role" suffixes
        kind=fn.kind,
        backend=fn.backend,  # resolved where the manifest is parsed (a GPU, a web_server: runtime.manifest)
        image_uri="" if settings.registry_only else _image(fn.tag, settings.images),
        timeout=res.timeout,
        cpu=res.cpu,
        memory=res.memory,
        ephemeral_disk=res.ephemeral_disk,
        gpu=select_gpu(gpu) if gpu else None,
        min_containers=scaling.min_containers,
        max_containers=scaling.max_containers,
        retries=_retries(fn.retries),
        secrets=tuple(s.name for s in fn.secrets),
        web=_web(fn, settings.base_domain),
        architecture="x86_64" if gpu else settings.architecture,
        volumes=tuple(sorted({m.name for m in fn.volumes})),
        read_only_volumes=tuple(sorted({m.name for m in fn.volumes} - {m.name for m in fn.volumes if not m.read_only})),
        bucket_mounts=fn.bucket_mounts,
        proxy=fn.proxy,
        scheduled=fn.schedule is not None,
        image_key=fn.image.spec_hash if fn.image else "",
    )


def _project_mark(app: str, project: str | None) -> str:
    """Empty for ``toolkit deploy``'s project (``toolkit-<app>``), else a short hash of the
    project: the repo's ``Pulumi.yaml`` and ``toolkit deploy`` keep separate states, and the
    same stack name in both must not declare the same IAM roles, tables and log groups."""
    if project is None or project == f"toolkit-{slug(app)}":
        return ""
    return "p" + hashlib.sha256(project.encode()).hexdigest()[:4]


def _manifest(settings: Settings) -> schema.Manifest:
    try:
        return schema.load(settings.manifest)
    except schema.ManifestError as exc:
        raise ConfigError(f"toolkit:manifest: {exc}") from None


def plan_app(settings: Settings) -> AppPlan:
    """Turn the manifest in ``settings`` into an :class:`AppPlan`."""
    manifest = _manifest(settings)
    app = manifest.app_name
    if not app:
        raise ConfigError("the manifest has no app name; give it one: toolkit.App('my-app')")
    prefix = physical_name(app, settings.stack, _project_mark(app, settings.project), max_len=40)
    return AppPlan(
        app=app,
        prefix=prefix,
        workspace=manifest.workspace,
        environment=manifest.environment,
        functions=tuple(plan_function(fn, settings, prefix) for fn in manifest.functions),
        base_domain=settings.base_domain,
        hosted_zone=settings.hosted_zone,
        sandbox_images=_sandbox_images(manifest, settings),
    )


def _sandbox_images(manifest: schema.Manifest, settings: Settings) -> tuple[tuple[str, str], ...]:
    """The images declared only for sandboxes (docs/sandboxes.md), built by the deploy under their keys."""
    if not settings.sandboxes or settings.registry_only:
        return ()
    missing = [i.spec_hash for i in manifest.sandbox_images if schema.sandbox_image_key(i.spec_hash) not in settings.images]
    if missing:
        key = schema.sandbox_image_key(missing[0])
        raise ConfigError(f"sandbox image im-{missing[0][:24]} has no image in toolkit:images; build and push it "
                          f"first (`toolkit deploy` with TOOLKIT_SANDBOXES=true does) or set toolkit:images "
                          f"{{\"{key}\": \"<repo>@sha256:...\"}}")
    return tuple((i.spec_hash, settings.images[schema.sandbox_image_key(i.spec_hash)]) for i in manifest.sandbox_images)
