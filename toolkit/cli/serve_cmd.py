"""``toolkit serve``: every web endpoint of an app on one local port, with live reload."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from runtime.gateway.budget import DEFAULT_BUDGET_S
from runtime.gateway.limits import DEFAULT_BURST_SECONDS, DEFAULT_MAX_BODY_BYTES, DEFAULT_RATE_PER_SECOND
from toolkit.cli.extras import require_aws
from toolkit.cli.options import app_ref_argument, parse_ref
from toolkit.cli.units import ByteSize, KiB, MiB, format_size

F = TypeVar("F", bound=Callable[..., Any])
SECONDS = click.FloatRange(0.1, 86400)  # under 0.1 s the connection timers would spin; a day is plenty

# What one client connection may hold (`toolkit.serve.guard.ClientLimits`): flag, field, type, help.
# Each flag also reads TOOLKIT_SERVE_<FIELD>; the flag wins.  The defaults are ClientLimits' own.
CLIENT_LIMITS: tuple[tuple[str, str, click.ParamType, str], ...] = (
    ("--max-request-head", "max_head_bytes", ByteSize(1 * KiB, 16 * MiB),
     "Largest request line plus headers, in bytes or with a unit (16KiB); a bigger head gets 431."),
    ("--header-timeout", "header_timeout", SECONDS,
     "Seconds a request head may take to arrive whole; then 408."),
    ("--body-timeout", "body_timeout", SECONDS,
     "Seconds a request body may pause between two reads; then 408."),
    ("--min-body-rate", "min_body_rate", click.FloatRange(1, 1_000_000_000),
     "Bytes per second a request body must average once --body-grace has passed; then 408."),
    ("--body-grace", "body_grace", SECONDS,
     "Seconds a request body may arrive at any rate before --min-body-rate applies."),
    ("--idle-timeout", "idle_timeout", SECONDS,
     "Seconds a kept-alive connection may wait for its next request before it is closed."),
    ("--max-connections", "max_connections", click.IntRange(1, 1_000_000),
     "Open client connections at most (lowered to fit the open-file limit); past it a new one gets 503."),
)


def client_limit_options(command: F) -> F:
    """The `CLIENT_LIMITS` options, in order, each defaulting to ClientLimits' value (shown in --help)."""
    from toolkit.serve.guard import ENV_PREFIX, ClientLimits

    for flag, name, kind, text in reversed(CLIENT_LIMITS):
        default = getattr(ClientLimits, name)
        shown = format_size(default) if isinstance(kind, ByteSize) else f"{default:g}"
        command = click.option(flag, name, type=kind, default=None, envvar=ENV_PREFIX + name.upper(),
                               show_envvar=True, help=f"{text} [default: {shown}]")(command)
    return command


@click.command()
@app_ref_argument
@click.option("--port", default=None, type=click.IntRange(1, 65535),
              help="The gateway's port [default: 8000, or the next free one if the app's web_server uses 8000].")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@click.option("--request-timeout", default=DEFAULT_BUDGET_S, show_default=True, type=click.FloatRange(min=0.01),
              help="Seconds a request may run before the client gets 303 to its result URL.")
@click.option("--rate-limit", default=DEFAULT_RATE_PER_SECOND, show_default=True, type=click.FloatRange(min=0.01),
              envvar="TOOLKIT_SERVE_RATE_LIMIT", help="Requests per second for the whole workspace (then 429).")
@click.option("--burst-seconds", default=DEFAULT_BURST_SECONDS, show_default=True, type=click.FloatRange(min=0.01),
              envvar="TOOLKIT_SERVE_BURST_SECONDS", help="Burst allowance, in seconds' worth of --rate-limit.")
@click.option("--max-body-size", default=DEFAULT_MAX_BODY_BYTES, show_default=True, type=click.IntRange(min=0),
              envvar="TOOLKIT_SERVE_MAX_BODY_BYTES", help="Largest request body in bytes (then 413).")
@client_limit_options
@click.option("--no-reload", is_flag=True, help="Do not restart workers when the app's files change.")
@click.option("--no-schedules", is_flag=True,
              help="Do not run the app's schedule=Period/Cron functions (by default they run when due).")
@click.option("--local-env", "local_env", type=click.Choice(["image", "current"]), default=None,
              help="Local workers run in each image's own environment, built with uv (image, the default; "
                   "config key local_env), or in the Python toolkit runs in (current).")
@click.option("--containers", is_flag=True,
              help="Run each web function in its real image (built locally with podman or docker, not pushed) "
                   "instead of local worker processes.")
@click.option("--builder", type=click.Choice(["podman", "docker"]), default=None,
              help="With --containers: the engine that builds and runs the images "
                   "[default: TOOLKIT_BUILDER, else podman, else docker].")
@click.option("-q", "--quiet", is_flag=True, help="No access log line per request (workers' output still shows).")
@click.option("--json-logs", is_flag=True, help="Print the access log and workers' output as JSON lines, for scripts.")
@click.option("--cloud", is_flag=True, help="Serve from AWS instead: an ephemeral -dev stack, destroyed on exit.")
@click.option("--env", "environment", default=None, help="With --cloud: the environment to serve under.")
@click.option("--region", default=None, help="With --cloud: the AWS region.")
@click.option("--target", type=click.Choice(["aws", "localstack"]), default="aws", show_default=True,
              help="With --cloud: where to deploy.")
def serve(ref: str | None, module: str | None, port: int | None, host: str, request_timeout: float,
          rate_limit: float, burst_seconds: float, max_body_size: int, no_reload: bool, no_schedules: bool,
          containers: bool, local_env: str | None,
          builder: str | None, quiet: bool, json_logs: bool, cloud: bool,
          environment: str | None, region: str | None, target: str, **client_limits: float | None) -> None:
    """Serve the web endpoints of APP_REF at http://<label>.localhost:PORT (the list at http://localhost:PORT/).

    A newer serve of the same endpoints takes them over from an older one: on the same port the
    older serve finishes its requests and exits; on another port it redirects them (docs/serve.md).
    """
    from toolkit.serve.gateway import GatewayLimits
    from toolkit.serve.guard import ClientLimits
    from toolkit.serve.server import ServeOptions
    from toolkit.serve.server import serve as run_serve

    parsed = parse_ref(ref, module)
    if builder and not containers:
        raise click.UsageError("--builder only applies with --containers.")
    if cloud:
        from typing import cast

        from toolkit.deploy.cloud_serve import serve_cloud
        from toolkit.deploy.deployer import DeployOptions
        from toolkit.deploy.target import TargetKind
        from toolkit.loader import load_app

        require_aws("toolkit serve --cloud")
        options = DeployOptions(environment=environment, region=region, target=cast(TargetKind, target))
        serve_cloud(load_app(parsed), options)
        return
    app_target = parsed.target + (f"::{parsed.object_name}" if parsed.object_name else "")
    limits = GatewayLimits(budget=request_timeout, rate=rate_limit, burst_seconds=burst_seconds,
                           max_body_bytes=max_body_size)
    client = ClientLimits(**{k: v for k, v in client_limits.items() if v is not None})  # type: ignore[arg-type]
    run_serve(ServeOptions(app_target, parsed.is_module, host, port or 8000, limits, client, reload=not no_reload,
                           port_explicit=port is not None, containers=containers, builder=builder,
                           schedules=not no_schedules, local_env=local_env, quiet=quiet, json_logs=json_logs))
