"""``toolkit deploy | plan | preview | destroy | url | logs``: thin shells over toolkit.deploy.

Each command loads the app, builds a :class:`~toolkit.deploy.deployer.Deployer` from its
options, calls one method and prints the result.  Domain errors propagate to the group's
boundary (one line, exit 1).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from toolkit.cli.extras import AWS_MODULES, require_aws
from toolkit.cli.options import app_ref_argument, parse_ref
from toolkit.deploy.state_store import STATE_URL_ENVS

__all__ = ["deploy", "destroy", "logs", "plan", "preview", "url"]


def deploy_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options every stack command shares: they decide which stack, where."""
    f = click.option("--state-url", "--backend-url", "state_url", envvar=list(STATE_URL_ENVS), metavar="URL",
                     help="Where Pulumi keeps stack state (default: file:// under $TOOLKIT_HOME; s3://bucket "
                          "for teams). --backend-url, as Pulumi spells it, is the same option.")(f)
    f = click.option("--target", type=click.Choice(["aws", "localstack"]), default="aws", show_default=True,
                     help="A real AWS account, or LocalStack at $LOCALSTACK_ENDPOINT (http://localhost:4566).")(f)
    f = click.option("--region", metavar="REGION", help="AWS region (default: AWS_REGION or your AWS profile's).")(f)
    f = click.option("--env", "environment", metavar="NAME", help="Environment: one stack (and URL suffix) each.")(f)
    f = click.option("--name", "app_name", metavar="NAME",
                     help="The app's name, for a toolkit.App() created without one (as `modal deploy --name`).")(f)
    return app_ref_argument(f)


def _loaded(ref: str | None, module: str | None, needs: tuple[str, ...] = AWS_MODULES, app_name: str | None = None,
            **options: Any) -> tuple[Any, Any]:
    require_aws(f"toolkit {click.get_current_context().info_name}", needs)
    from toolkit.deploy.deployer import DeployOptions, load_app_for_deploy
    from toolkit.loader import load_app

    parsed = parse_ref(ref, module)
    opts = DeployOptions(**options)
    if app_name is not None:
        name_unnamed_apps(app_name)
    app = load_app(parsed)
    if app_name is not None and app.name != app_name:
        from toolkit.deploy.errors import DeployError

        raise DeployError(f"--name {app_name!r}: the app is named {app.name!r} in its source, and a deploy names "
                          f"its stack and URLs after that; drop --name, or create it as toolkit.App({app_name!r}).")
    return load_app_for_deploy(app, opts), opts


def name_unnamed_apps(name: str) -> None:
    """What ``toolkit.App()`` without a name is called in this process and what it starts (the deployed
    containers get the same through their environment: infra/components/function.py)."""
    import os

    from runtime.environment import ContainerEnv
    from toolkit.urls import slugify

    if not slugify(name):
        raise click.BadParameter(f"{name!r} needs letters or digits, e.g. --name my-app.", param_hint="--name")
    os.environ[ContainerEnv.name("app_name")] = name


def _deployer(opts: Any, quiet: bool = False) -> Any:
    from toolkit.deploy.deployer import Deployer
    from toolkit.deploy.progress import Progress

    return Deployer(opts, Progress(quiet=quiet))


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))


@click.command()
@deploy_options
@click.option("--images", "images_file", type=click.Path(dir_okay=False, path_type=Path), envvar="TOOLKIT_IMAGES_FILE",
              help="Use images already pushed: JSON {function: repo@sha256:...} (skips building; also "
                   "$TOOLKIT_IMAGES_FILE, which App.deploy() honours too).")
@click.option("--verify/--no-verify", default=True, show_default=True,
              help="End by checking that each endpoint's URL and each function's call path answer.")
@click.option("--verify-timeout", default=120.0, show_default=True, metavar="SECONDS",
              help="How long new DNS records, certificates and starting tasks may take to answer.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
def deploy(ref: str | None, module: str | None, images_file: Path | None, verify: bool, verify_timeout: float,
           as_json: bool, **options: Any) -> None:
    """Build and push changed images, then create or update the app's AWS resources, then check
    that what was deployed answers (exit 1 when a check fails; the table says why)."""
    from toolkit.deploy.images import PrebuiltImages

    loaded, opts = _loaded(ref, module, verify=verify, verify_timeout_s=verify_timeout, **options)
    deployer = _deployer(opts)
    if images_file is not None:
        deployer.publisher = PrebuiltImages(images_file)
    with deployer.progress:  # its last phase ends (spinner stopped) before the result or an error prints
        outcome = deployer.deploy(loaded)
    if as_json:
        _echo_json(outcome.to_json())
    else:
        _print_endpoints(outcome.deployed, loaded.manifest)
        _print_snapshots(loaded.app)
    _raise_for_checks(outcome)


def _raise_for_checks(outcome: Any) -> None:
    from toolkit.deploy.errors import DeployError

    failed = outcome.failed_checks
    if failed:
        first = failed[0]
        raise DeployError(f"Deployed {outcome.stack}, but {len(failed)} of {len(outcome.checks)} checks failed "
                          f"(table above); first: {first.name} {first.target}: {first.diagnosis}")


def _print_endpoints(deployed: Any, manifest: dict[str, Any]) -> None:
    from runtime.manifest import load

    app = load(manifest)
    hosts = {f.tag: f.web.host for f in app.functions if f.web}
    if not deployed.endpoints:
        click.echo(f"Deployed {deployed.app or app.app_name} (no web endpoints).")
    for endpoint in deployed.endpoints:
        click.echo(f"{endpoint.tag}: {endpoint.url}" + (f"  ({hosts[endpoint.tag]})" if endpoint.tag in hosts
                                                       and hosts[endpoint.tag] not in endpoint.url else ""))
        for custom in endpoint.custom_urls:
            click.echo(f"{' ' * len(endpoint.tag)}  {custom}")
        if endpoint.stream_url:
            click.echo(f"{' ' * len(endpoint.tag)}  {endpoint.stream_url}  (Function URL, streamed responses)")
    _print_schedules(app.functions)
    from toolkit.proxy import deployed_lines

    for line in deployed_lines(deployed.proxy_ips):  # the static IPs to allowlist (docs/proxy.md)
        click.echo(line)


def _print_schedules(functions: Any) -> None:
    """Each schedule and its next run: EventBridge Scheduler runs these (docs/primitives.md)."""
    from toolkit.schedule import schedule_lines

    for line in schedule_lines(functions):
        click.echo(f"⏲ {line}")


def _print_snapshots(app: Any) -> None:
    """Functions that asked for a memory snapshot: not taken on AWS, and why (docs/deploy.md)."""
    from toolkit.deploy.snapshots import snapshot_lines

    for line in snapshot_lines(app):
        click.echo(line)


@click.command()
@deploy_options
@click.option("--json", "as_json", is_flag=True, help="Print the resources as JSON on stdout.")
def plan(ref: str | None, module: str | None, as_json: bool, **options: Any) -> None:
    """The resources a deploy would declare, computed offline (no Pulumi CLI, no AWS credentials)."""
    loaded, opts = _loaded(ref, module, **options)
    deployer = _deployer(opts, quiet=as_json)
    result = deployer.plan(loaded)
    if as_json:
        _echo_json(result.to_json())
        return
    rows = [(typ, str(n)) for typ, n in result.counts().items()]
    deployer.progress.table(f"{result.stack}: {len(result.resources)} resources", ("type", "count"), rows)
    for resource in result.resources:
        if not resource.is_component:
            click.echo(f"{resource.type}  {resource.name}")
    from runtime.manifest import load

    _print_schedules(load(loaded.manifest).functions)
    from toolkit.proxy import planned_lines

    for line in planned_lines(loaded.manifest):
        click.echo(line)
    _print_snapshots(loaded.app)


@click.command()
@deploy_options
def preview(ref: str | None, module: str | None, **options: Any) -> None:
    """Run `pulumi preview` on the app's stack (needs the Pulumi CLI and AWS credentials)."""
    loaded, opts = _loaded(ref, module, **options)
    deployer = _deployer(opts)
    with deployer.progress:
        changes = deployer.preview(loaded)
    click.echo(json.dumps(changes, sort_keys=True))


@click.command()
@deploy_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--delete-volumes", is_flag=True,
              help="Also delete the app's volume bucket and every file in it (kept by default: it holds data).")
def destroy(ref: str | None, module: str | None, yes: bool, delete_volumes: bool, **options: Any) -> None:
    """Delete every AWS resource of the app's stack, then the stack (volumes stay unless --delete-volumes)."""
    loaded, opts = _loaded(ref, module, **options)
    if not yes:
        extra = " and every volume's files" if delete_volumes else " (volumes are kept)"
        click.confirm(f"Destroy every resource of {loaded.stack}{extra}?", abort=True)
    deployer = _deployer(opts)
    with deployer.progress:
        deployer.destroy(loaded, delete_volumes=delete_volumes)
    click.echo(f"Destroyed {loaded.stack}.")


def _function_tag(ref: str | None, module: str | None) -> str:
    parsed = parse_ref(ref, module)
    if not parsed.object_name:
        raise click.UsageError("Name the function: app.py::function_name.")
    return parsed.object_name


def _app_only(ref: str | None) -> str | None:
    return ref.partition("::")[0] if ref else ref


def _module_only(module: str | None) -> str | None:
    return module.partition("::")[0] if module else module


@click.command()
@deploy_options
def url(ref: str | None, module: str | None, **options: Any) -> None:
    """Print the deployed URL of a web function (app.py::function), its custom domains and, for
    an endpoint on Lambda, its streaming Function URL (last)."""
    from toolkit.deploy.errors import DeployError

    tag = _function_tag(ref, module)
    loaded, opts = _loaded(_app_only(ref), _module_only(module), **options)
    endpoint = _deployer(opts).outputs(loaded).endpoint(tag)
    if endpoint is None:
        raise DeployError(f"{tag!r} has no deployed URL in {loaded.stack}; only web functions "
                          "(fastapi_endpoint, asgi_app, wsgi_app, web_server) have one.")
    for line in (endpoint.url, *endpoint.custom_urls, *([endpoint.stream_url] if endpoint.stream_url else [])):
        click.echo(line)


@click.command()
@deploy_options
@click.option("-f", "--follow", is_flag=True, help="Keep printing new log events (Ctrl-C stops).")
@click.option("--since", default=10.0, show_default=True, metavar="MINUTES", help="Start this many minutes ago.")
def logs(ref: str | None, module: str | None, follow: bool, since: float, **options: Any) -> None:
    """Print a deployed function's CloudWatch logs (app.py::function), or every function's (app.py),
    read from CloudWatch Logs directly: needs AWS credentials, not the Pulumi CLI."""
    from toolkit.deploy.errors import DeployError
    from toolkit.deploy.logs import AppLogs, LogTail, function_log_groups, since_ms
    from toolkit.deploy.target import check_credentials, resolve_target

    tag = parse_ref(ref, module).object_name
    loaded, opts = _loaded(_app_only(ref), _module_only(module), needs=("boto3",), **options)
    target = resolve_target(opts.target, opts.region)
    groups = function_log_groups(loaded.manifest, loaded.stack, target.region)
    if tag is not None and tag not in groups:
        raise DeployError(f"{loaded.app.name!r} has no function {tag!r}; its functions: {', '.join(groups)}.")
    check_credentials(target)
    client = target.client("logs")
    start = since_ms(since)
    chosen = {tag: groups[tag]} if tag else groups
    tails = AppLogs({t: LogTail(client, group, start) for t, group in chosen.items()}, target.region)
    if not follow:
        for line in tails.fetch():
            click.echo(line)
        return
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how follow mode ends
        tails.follow(click.echo)
