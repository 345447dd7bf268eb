"""What a `Function` handle offers besides ``.remote``/``.spawn``/``.map``: the call styles that run
many inputs without returning them (``for_each``, ``spawn_map``, ``experimental_spawn_map``), its
identity (``object_id``, ``app``, ``info()``, ``get_dashboard_url()``), and the live side of its
local worker pools (``stats()``, ``get_current_stats()``, ``update_autoscaler()``, ``logs``).

The live side is this process's pools (`toolkit.local.pool`): a program that calls a function
sees the workers it started.  Inside a deployed function, or on a handle looked up from a deployed
app, ``stats``/``get_current_stats`` read the app's call table and CloudWatch metrics
(`toolkit.cloud_stats`), ``logs`` its CloudWatch log group (`toolkit.cloud_logs`) and
``update_autoscaler`` changes the AWS bounds; the call styles work everywhere.
`Function` mixes this in (`toolkit.functions`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from toolkit.aio import aio_method
from toolkit.dashboard_urls import console_url, serve_origin
from toolkit.exception import InvalidError, NotFoundError, NotSupportedError
from toolkit.function_records import (
    FunctionAutoscalerSettings,
    FunctionCurrentStats,
    FunctionInfo,
    FunctionStats,
    StatsPercentile,
    StatsPercentileDistribution,
)
from toolkit.handles import Clientless
from toolkit.unsupported import UnsupportedProperty, refusal

if TYPE_CHECKING:
    from runtime.callmap import CallMap
    from runtime.params import Params
    from toolkit.calls import FunctionCall
    from toolkit.cloud_logs import CloudLogsView
    from toolkit.cloud_stats import DeployedFunction
    from toolkit.local.logs import LogsView
    from toolkit.local.pool import WorkerPool
    from toolkit.local.runner import LocalRunner
    from toolkit.spec import FunctionSpec

FUNCTION_ID_PREFIX = "fu-"
_ON_AWS = ("in the AWS console (Lambda / ECS / Step Functions metrics in CloudWatch), or print the function's "
           "logs with `toolkit logs app.py::function`")


def function_id(app_name: str, tag: str) -> str:
    """A function's stable id: ``fu-<app>:<tag>`` (toolkit names functions; it issues no ids)."""
    return f"{FUNCTION_ID_PREFIX}{app_name}:{tag}"


def parse_function_id(value: str) -> tuple[str, str]:
    app_name, sep, tag = value.removeprefix(FUNCTION_ID_PREFIX).partition(":")
    if not value.startswith(FUNCTION_ID_PREFIX) or not sep or not app_name or not tag:
        raise InvalidError(f"{value!r} is not a function id; ids look like 'fu-<app>:<function>' "
                           "(from fn.object_id).")
    return app_name, tag


class FunctionAdmin(Clientless):
    spec: FunctionSpec
    params: Params

    def _check_callable(self, how: str, generator: bool = False) -> None:
        raise NotImplementedError  # `toolkit.functions.Function` defines it

    def _runner(self) -> Any:
        raise NotImplementedError  # `toolkit.functions.Function` defines it: the runner its calls go through

    def _local(self, member: str) -> LocalRunner:
        """This process's local runner, or a refusal naming the AWS-side alternative."""
        from toolkit.local.runner import LocalRunner

        found = self._runner()
        if not isinstance(found, LocalRunner):
            raise NotSupportedError(refusal(
                f"Function.{member} on a deployed function", "it reads this process's local worker pools, and "
                "this handle runs on AWS", f"look at {self.spec.tag} {_ON_AWS}"))
        return found

    def _deployed(self, member: str) -> DeployedFunction | None:
        """This handle as `toolkit.cloud_stats` reads it when it runs on AWS; None when it is local."""
        runner = self._runner()
        if getattr(runner, "transport", None) is None:  # a CloudRunner has one: this handle runs on AWS
            return None
        return deployed_function(self.spec, runner, member)

    def _pools(self, member: str, all_variants: bool = False) -> list[WorkerPool]:
        """This handle's pool (a variant or a parameter set has its own), or every pool of the function."""
        local = self._local(member)
        if all_variants:
            return local.pools_of(self.spec.app_name, self.spec.tag)
        pool = local.existing_pool(self)  # type: ignore[arg-type]  # only Function mixes this in
        return [] if pool is None else [pool]

    # -- call styles that do not hand results back ------------------------------------------------
    @aio_method
    def for_each(self, *input_iterators: Iterable[Any], kwargs: dict[str, Any] | None = None,
                 ignore_exceptions: bool = False) -> None:
        """Run the function for every input and wait for all of them, discarding results; the first
        failure is raised unless ``ignore_exceptions=True``."""
        if not input_iterators:
            raise InvalidError(f"{self.spec.tag}.for_each() needs at least one iterable, e.g. .for_each(range(10)).")
        self._check_callable("for_each")
        results = self._runner().map(self, zip(*input_iterators, strict=False), kwargs or {}, False,
                                     ignore_exceptions)
        for _ in results:
            pass

    @aio_method
    def spawn_map(self, *input_iterators: Iterable[Any], kwargs: dict[str, Any] | None = None) -> None:
        """Start the function for every input and return once they are all queued, without waiting
        (as on the platform, nothing is returned: ``experimental_spawn_map`` returns a `FunctionCall`)."""
        self._spawn_map("spawn_map", input_iterators, kwargs)

    @aio_method
    def experimental_spawn_map(self, *input_iterators: Iterable[Any],
                               kwargs: dict[str, Any] | None = None) -> FunctionCall:
        """``spawn_map`` that returns the one `FunctionCall` of all the inputs: ``get(index=i)``,
        ``iter(start=, end=)`` and ``num_inputs()`` read their results, from any process."""
        return self._spawn_map("experimental_spawn_map", input_iterators, kwargs)

    def _spawn_map(self, how: str, input_iterators: tuple[Iterable[Any], ...],
                   kwargs: dict[str, Any] | None) -> FunctionCall:
        from toolkit.calls import FunctionCall

        if not input_iterators:
            raise InvalidError(f"{self.spec.tag}.{how}() needs at least one iterable, e.g. .{how}(range(10)).")
        self._check_callable(how)
        if self.spec.is_generator:
            raise InvalidError(f"{self.spec.tag!r} is a generator function; it cannot be used with .{how}().")
        runner = self._runner()
        if not hasattr(runner, "spawn_map"):
            raise NotSupportedError(refusal(
                f"Function.{how} of a deployed function", "one call with many inputs exists only in the local "
                "call store", "spawn one call per input: [fn.spawn(x) for x in inputs]"))
        arguments = list(zip(*input_iterators, strict=False))
        return FunctionCall.from_id(runner.spawn_map(self, arguments, kwargs or {}))

    # -- identity ---------------------------------------------------------------------------------
    @property
    def object_id(self) -> str:
        """``fu-<app>:<tag>``: stable, and ``Function.from_id`` finds the function again from it."""
        return function_id(self.spec.app_name, self.spec.tag)

    @property
    def app(self) -> Any:
        """The `App` this function belongs to."""
        from toolkit.loaded import find_by_name

        return find_by_name(self.spec.app_name)

    @aio_method
    def hydrate(self, client: Any = None) -> Any:
        """Returns the function: a handle already knows everything it needs."""
        return self

    @aio_method
    def info(self, *, refresh: bool = False) -> FunctionInfo:
        """What the function asks for, from its decorator (``refresh`` changes nothing: it is local)."""
        spec = self.spec
        web_url = self.get_web_url() if spec.web is not None else None  # type: ignore[attr-defined]
        methods = None
        if spec.cls is not None:
            app = self.app
            methods = sorted(n for n, fn in app.registered_functions.items() if fn.spec.cls is spec.cls)
        return FunctionInfo(
            cpu=spec.cpu, memory_mib=spec.memory, gpus=_gpus(spec.gpu), ephemeral_disk_mib=spec.ephemeral_disk,
            timeout=spec.timeout, max_retries=spec.retries.max_retries if spec.retries else None,
            regions=list(spec.regions) or None, schedule=repr(spec.schedule) if spec.schedule else None,
            single_use_containers=spec.inputs_per_container == 1, secrets=[s.name for s in spec.secrets if s.name],
            volumes={path: name for path, name, *_ in spec.volumes}, method_names=methods, web_url=web_url,
            backend=spec.backend, max_inputs=spec.max_inputs)

    @aio_method
    def get_dashboard_url(self) -> str:
        """Locally, the dashboard of the ``toolkit serve`` running this function's app (with
        ``#function=<tag>``); for a deployed function (called from inside its app, or looked up from
        it), the AWS console page of its Lambda, or of its Step Functions worker for ECS/GPU functions.
        NotFoundError when neither applies."""
        transport = getattr(self._runner(), "transport", None)  # a CloudRunner's: this handle runs on AWS
        if transport is not None:
            console = console_url(transport.targets.get(self.spec.tag))
            if console is None:
                raise NotFoundError(f"{self.spec.tag}.get_dashboard_url(): the deployed app {self.spec.app_name!r} "
                                    f"has no Lambda or state machine for {self.spec.tag!r}; deploy it first.")
            return console
        origin = serve_origin(self.spec.app_name)
        if origin is None:
            raise NotFoundError(
                f"{self.spec.tag}.get_dashboard_url(): app {self.spec.app_name!r} is not being served on this "
                "machine; start `toolkit serve app.py` for the local dashboard, or open the deployed function "
                "in the AWS console (`toolkit logs app.py::function` prints its logs).")
        return f"{origin}/#function={self.spec.tag}"

    # -- the live side of the local pools --------------------------------------------------------
    @aio_method
    def get_current_stats(self) -> FunctionCurrentStats:
        """Right now, over this handle's pool in this process (a variant or a class's parameter set has
        its own; ``stats(all_variants=True)`` adds them up).  On a deployed function, from AWS
        (`toolkit.cloud_stats.DeployedStats.current`): the backlog of unclaimed calls, and the running
        inputs (= runners: one execution environment or task each); headroom and idle runners are 0."""
        deployed = self._deployed("get_current_stats")
        if deployed is not None:
            from toolkit.cloud_stats import DeployedStats

            return DeployedStats(deployed.region).current(deployed)
        totals: dict[str, int] = {}
        for pool in self._pools("get_current_stats"):
            for key, value in pool.snapshot().items():
                totals[key] = totals.get(key, 0) + value
        return FunctionCurrentStats(backlog=totals.get("backlog", 0), num_total_runners=totals.get("runners", 0),
                                    num_running_inputs=totals.get("running_inputs", 0),
                                    input_headroom=totals.get("headroom", 0),
                                    num_idle_runners=totals.get("idle_runners", 0))

    @aio_method
    def stats(self, *, since: datetime | None = None, until: datetime | None = None, container: str | None = None,
              all_variants: bool = False) -> FunctionStats:
        """Inputs and workers over ``[since, until)`` (default: the last hour) in this process's pools.
        ``container`` (a worker as ``pid-<n>``, as log entries name it) is refused: counts are per pool.
        On a deployed function, the call records of the window and the Lambda's CloudWatch metrics
        of this handle's deployed tag (``all_variants`` adds no other variants there);
        `toolkit.cloud_stats` says which field comes from where and which AWS cannot fill."""
        if container is not None:
            raise NotSupportedError(refusal("Function.stats(container=...)", "toolkit counts per pool, not per "
                                            "worker", "call stats() without container="))
        start, end = stats_window(since, until)
        deployed = self._deployed("stats")
        if deployed is not None:
            from toolkit.cloud_stats import DeployedStats

            (found,) = DeployedStats(deployed.region).stats([deployed], start, end)
            return replace(found, all_variants=all_variants)
        return _stats_of(self._pools("stats", all_variants), start, end, all_variants)

    @aio_method
    def update_autoscaler(self, *, min_containers: int | None = None, max_containers: int | None = None,
                          buffer_containers: int | None = None,
                          scaledown_window: int | None = None) -> FunctionAutoscalerSettings:
        """Change this function's local pool bounds now (None keeps one): workers start up to a higher
        ``min_containers`` at once; idle ones above the floor stop after ``scaledown_window`` s.
        On a deployed function (looked up, or called inside its app), the AWS bounds instead, until the
        next ``toolkit deploy`` (`toolkit.deploy.autoscaler`): provisioned/reserved concurrency of its
        Lambda, or its ECS service's scaling range."""
        _check_bounds(self.spec.tag, min_containers, max_containers, buffer_containers, scaledown_window)
        transport = getattr(self._runner(), "transport", None)  # a CloudRunner's: this handle runs on AWS
        if transport is not None:
            return _update_deployed(self.spec, transport.targets.get(self.spec.tag), min_containers, max_containers,
                                    buffer_containers, scaledown_window)
        pool = self._local("update_autoscaler").pool_for(self)  # type: ignore[arg-type]
        low = pool.min_containers if min_containers is None else min_containers
        high = pool.max_containers if max_containers is None else max_containers
        if low > high:
            raise InvalidError(f"{self.spec.tag}.update_autoscaler(): min_containers={low} is above "
                               f"max_containers={high}; lower min_containers or raise max_containers.")
        pool.update_bounds(min_containers=min_containers, max_containers=max_containers,
                           buffer_containers=buffer_containers, scaledown_window=scaledown_window)
        return _settings(pool)

    @property
    def autoscaler(self) -> Autoscaler:
        """``fn.autoscaler.settings()`` / ``.update(...)``: the same as ``update_autoscaler``."""
        return Autoscaler(self)

    @property
    def logs(self) -> LogsView | CloudLogsView:
        """What this function's workers in this process printed: ``tail(n)``, ``fetch(since=...)``,
        ``stream(timeout)`` (`toolkit.local.logs`).  For a deployed function, its CloudWatch log group
        (`toolkit.cloud_logs`): a Lambda's from its ARN, an ECS/GPU function's from the call map."""
        from toolkit.local.logs import LogsView

        runner = self._runner()
        transport = getattr(runner, "transport", None)  # a CloudRunner's: this handle runs on AWS
        if transport is not None:
            return _cloud_logs(self.spec.tag, transport.targets.get(self.spec.tag), getattr(runner, "call_map", None))
        local = self._local("logs")
        app_name, tag = self.spec.app_name, self.spec.tag
        return LogsView(lambda: [pool.logs for pool in local.pools_of(app_name, tag)])

    metrics = UnsupportedProperty(
        "Function.metrics", "toolkit exports no metric series",
        "read counters with fn.stats() / fn.get_current_stats() locally, and CloudWatch metrics on AWS")


class Autoscaler:
    """``fn.autoscaler``: the platform's autoscaler namespace over `FunctionAdmin.update_autoscaler`."""

    def __init__(self, function: FunctionAdmin) -> None:
        self._function = function

    def settings(self) -> FunctionAutoscalerSettings:
        return _settings(self._function._local("autoscaler").pool_for(self._function))  # type: ignore[arg-type]

    def update(self, *, min_containers: int | None = None, max_containers: int | None = None,
               buffer_containers: int | None = None, scaledown_window: int | None = None
               ) -> FunctionAutoscalerSettings:
        result: FunctionAutoscalerSettings = self._function.update_autoscaler(
            min_containers=min_containers, max_containers=max_containers, buffer_containers=buffer_containers,
            scaledown_window=scaledown_window)
        return result


def _update_deployed(spec: FunctionSpec, target: Any, min_containers: int | None, max_containers: int | None,
                     buffer_containers: int | None, scaledown_window: int | None) -> FunctionAutoscalerSettings:
    from toolkit import config
    from toolkit.context import in_deployment
    from toolkit.deploy.autoscaler import aws_region, scaling_for

    if in_deployment():  # refused, not granted: see the why below and docs/deploy.md (IAM)
        raise NotSupportedError(refusal(
            f"{spec.tag}.update_autoscaler() inside a deployed function", "a function's role may not change its "
            "app's capacity (provisioned concurrency is billed by the hour, and ECS scaling needs Application Auto "
            "Scaling rights AWS scopes to no service by name)", "call it from your machine (a script or "
            "local_entrypoint with AWS credentials), or set min_containers/max_containers and run `toolkit deploy`"))
    if buffer_containers is not None or scaledown_window is not None:
        raise NotSupportedError(refusal(
            f"{spec.tag}.update_autoscaler(buffer_containers=/scaledown_window=) on a deployed function",
            "Lambda and ECS keep no idle buffer and scale in on their own clocks", "pass only min_containers and "
            "max_containers"))
    if min_containers is not None and max_containers is not None and min_containers > max_containers:
        raise InvalidError(f"{spec.tag}.update_autoscaler(): min_containers={min_containers} is above "
                           f"max_containers={max_containers}; lower min_containers or raise max_containers.")
    region = aws_region()
    if region is None:
        raise InvalidError(f"{spec.tag}.update_autoscaler(): no AWS region is configured; set AWS_REGION to the "
                           "region the app is deployed in.")
    scaling = scaling_for(spec.tag, spec.app_name, getattr(target, "lambda_arn", None),
                          config.setting("environment"), region)
    bounds = scaling.apply(min_containers, max_containers)
    return FunctionAutoscalerSettings(min_containers=bounds.min_containers, max_containers=bounds.max_containers,
                                      scaledown_window=None, buffer_containers=None)


def _cloud_logs(tag: str, target: Any, call_map: CallMap | None) -> CloudLogsView:
    """A Lambda's group is in its ARN; any other function's, in the call map a lookup read."""
    from toolkit.cloud_logs import CloudLogsView, lambda_log_group

    arn = getattr(target, "lambda_arn", None)
    if arn:
        return CloudLogsView(*lambda_log_group(arn))
    mapped = call_map.functions.get(tag) if call_map is not None else None
    if call_map is not None and mapped is not None and mapped.log_group:
        return CloudLogsView(mapped.log_group, call_map.region)
    if call_map is None:  # inside the deployed app: its environment names no log groups
        raise NotSupportedError(refusal(
            f"Function.logs of the deployed ECS/GPU function {tag} inside its app", "a deployed function knows "
            "its app's Lambda ARNs, not the log groups the stack named", "print its logs with `toolkit logs "
            "app.py::function`, or read fn.logs on a handle looked up from outside (toolkit.App.lookup(...))"))
    raise NotSupportedError(refusal(
        f"Function.logs of the deployed function {tag}", "its app's call map was written before toolkit recorded "
        "log groups in it", "redeploy the app with `toolkit deploy` (or print its logs with "
        "`toolkit logs app.py::function`)"))


def deployed_function(spec: FunctionSpec, runner: Any, member: str) -> DeployedFunction:
    """Where a deployed function's calls and metrics are: its call table (callable functions), its Lambda
    (from the alias ARN, or infra's name for a web endpoint), the region."""
    from toolkit.cloud_stats import DeployedFunction
    from toolkit.variants import deployed_tag

    transport, tag = runner.transport, deployed_tag(spec)  # a variant's calls are recorded under its own tag
    target = transport.targets.get(tag)  # None for a web endpoint: it has no call target
    arn = getattr(target, "lambda_arn", None)
    region = _deployed_region(spec, getattr(runner, "call_map", None), arn, member)
    lambda_name = arn.split(":")[6] if arn else None  # arn:aws:lambda:<region>:<account>:function:<name>:<alias>
    if target is None:
        lambda_name = _web_lambda(spec, region, member)
    return DeployedFunction(spec.app_name, tag, region, lambda_name,
                            getattr(transport.store, "table", None) if target is not None else None,
                            on_worker=target is not None and arn is None)


def _deployed_region(spec: FunctionSpec, call_map: CallMap | None, arn: str | None, member: str) -> str:
    from toolkit.deploy.autoscaler import aws_region

    region = call_map.region if call_map is not None else arn.split(":")[3] if arn else aws_region()
    if region is None:
        raise InvalidError(f"{spec.tag}.{member}(): no AWS region is configured; set AWS_REGION to the region the "
                           "app is deployed in.")
    return region


def _web_lambda(spec: FunctionSpec, region: str, member: str) -> str:
    """A web endpoint's Lambda, by infra's name; an ECS web service has none (its ALB has the metrics)."""
    from runtime.awsclients import client
    from toolkit import config
    from toolkit.deploy.autoscaler import deployed_names

    name = deployed_names(spec.app_name, spec.tag, config.setting("environment"), region).function
    lam = client("lambda", region)
    try:
        lam.get_function(FunctionName=name)
    except lam.exceptions.ResourceNotFoundException:
        raise NotSupportedError(refusal(
            f"{spec.tag}.{member}() on a deployed web endpoint without a Lambda function ({name!r} in {region})",
            "an ECS web service's requests pass through its load balancer, not the call table or a Lambda",
            "read the ALB's RequestCount and TargetResponseTime metrics in CloudWatch")) from None
    return name


def _settings(pool: WorkerPool) -> FunctionAutoscalerSettings:
    return FunctionAutoscalerSettings(min_containers=pool.min_containers, max_containers=pool.max_containers,
                                      scaledown_window=int(pool.scaledown_window),
                                      buffer_containers=pool.buffer_containers)


def _check_bounds(tag: str, *values: int | None) -> None:
    names = ("min_containers", "max_containers", "buffer_containers", "scaledown_window")
    for name, value in zip(names, values, strict=True):
        least = 1 if name == "max_containers" else 0
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < least):
            raise InvalidError(f"{tag}.update_autoscaler({name}={value!r}): pass an int >= {least}, or None to "
                               "keep the current value.")


def _stats_of(pools: list[WorkerPool], start: datetime, end: datetime, all_variants: bool) -> FunctionStats:
    from toolkit.local.pool_stats import PERCENTILES, percentile

    since, until = start.timestamp(), end.timestamp()
    counts: dict[str, int] = {}
    durations: list[float] = []
    running = starting = live = 0
    for pool in pools:
        for kind, n in pool.counters.counts(since, until).items():
            counts[kind] = counts.get(kind, 0) + n
        durations += pool.counters.durations(since, until)
        snap = pool.snapshot()
        running += snap["running_inputs"]
        live += snap["runners"]
        starting += snap["starting"]
    durations.sort()
    timing = {"execution_time": StatsPercentileDistribution(
        "seconds", [StatsPercentile(p, percentile(durations, p)) for p in PERCENTILES])} if durations else {}
    return FunctionStats(
        since=start, until=end, input_success_count=counts.get("success", 0),
        input_failure_count=counts.get("failure", 0), input_timeout_count=counts.get("timeout", 0),
        input_running_at_end_count=running, input_percentile_stats=timing,
        container_started_count=counts.get("container_started", 0),
        container_error_count=counts.get("container_error", 0), container_creating_at_end_count=starting,
        container_percentile_stats={}, container_total_count=live, variant_count=len(pools),
        all_variants=all_variants, input_cancelled_count=counts.get("cancelled", 0))


def stats_window(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    """``[since, until)`` in UTC; by default the hour up to now."""
    end = _utc(until) if until is not None else datetime.now(timezone.utc)
    start = _utc(since) if since is not None else end - timedelta(hours=1)
    if start >= end:
        raise InvalidError(f"stats(since={since!r}, until={until!r}): since must be before until.")
    return start, end


def _gpus(gpu: str | None) -> list[tuple[str, int]]:
    if not gpu:
        return []
    kind, _, count = gpu.partition(":")
    return [(kind, int(count) if count.isdigit() else 1)]


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)  # a naive datetime is local time, as on the platform
