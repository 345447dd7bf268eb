"""``toolkit app list | stop | logs``: the apps you have running, locally and on AWS.

Local serves come from serve's registry (``$TOOLKIT_HOME/serve/registry.json``: pid and start
time, port, labels), deployed apps from the Pulumi state store (needs the aws extra and the
Pulumi CLI).  ``stop`` ends local serves the way Ctrl-C does; a deployed app is removed with
``toolkit destroy``.  ``logs`` is ``toolkit logs`` (CloudWatch, deployed functions).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import click

from toolkit.cli.deploy_cmd import logs
from toolkit.cli.extras import AWS_INSTALL, missing_modules, require_aws
from toolkit.deploy.state_store import STATE_URL_ENVS
from toolkit.exception import InvalidError, NotFoundError

__all__ = ["LocalServe", "app", "local_serves"]


@click.group()
def app() -> None:
    """Apps running locally (toolkit serve) and deployed to AWS."""


@dataclass(frozen=True)
class LocalServe:
    """One live ``toolkit serve`` as the registry records it."""

    record: Any  # toolkit.serve.registry.ServeRecord

    def url(self, label: str) -> str:
        scheme, _, hostport = self.record.origin.partition("://")
        return f"{scheme}://{label}.{hostport}"

    @property
    def urls(self) -> list[str]:
        return [self.url(label) for label in sorted(self.record.labels)]

    def to_json(self) -> dict[str, Any]:
        r = self.record
        return {"where": "local", "app": r.app, "pid": r.process.pid, "origin": r.origin, "port": r.port,
                "source": r.source, "started": datetime.fromtimestamp(r.started).isoformat(timespec="seconds"),
                "endpoints": [{"label": label, "url": self.url(label)} for label in sorted(r.labels)]}


def local_serves() -> list[LocalServe]:
    """The serves whose process is still the one that registered (pid and start time)."""
    from toolkit.serve.registry import ServeRegistry

    return [LocalServe(r) for r in ServeRegistry().read().records if r.process.alive()]


@app.command("list")
@click.option("--local", "only_local", is_flag=True, help="Only local serves (needs nothing from AWS).")
@click.option("--deployed", "only_deployed", is_flag=True, help="Only deployed apps.")
@click.option("--state-url", "--backend-url", "state_url", envvar=list(STATE_URL_ENVS), metavar="URL",
              help="Where Pulumi keeps stack state (--backend-url, as Pulumi spells it, is the same option).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout: one list, each row with 'where'.")
def list_apps(only_local: bool, only_deployed: bool, state_url: str | None, as_json: bool) -> None:
    """List local serves (app, pid, URLs) and every toolkit stack in the state store with its URLs."""
    rows: list[dict[str, Any]] = []
    if not only_deployed:
        serves = local_serves()
        rows.extend(s.to_json() for s in serves)
        if not as_json:
            _print_local(serves)
    if only_local:
        _emit_json(rows, as_json)
        return
    if not only_deployed and missing_modules(("pulumi",)):  # a light install: say why, list what is here
        click.echo(f"Deployed apps are not listed: that needs the aws extra ({AWS_INSTALL}).", err=True)
        _emit_json(rows, as_json)
        return
    require_aws("toolkit app list --deployed", ("pulumi",))
    from toolkit.deploy.inventory import deployed_apps

    deployed = deployed_apps(state_url)
    rows.extend({"where": "deployed", **row.to_json()} for row in deployed)
    if as_json:
        _emit_json(rows, as_json)
        return
    if not deployed:
        click.echo("No deployed apps (deploy one with `toolkit deploy app.py`).")
    for row in deployed:
        click.echo(f"{row.app}  stack={row.stack}  resources={row.resources}  updated={row.last_update or '-'}")
        for endpoint in row.endpoints:
            click.echo(f"  {endpoint.tag}: {endpoint.url}")


def _emit_json(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(rows, indent=2, sort_keys=True))


def _print_local(serves: list[LocalServe]) -> None:
    if not serves:
        click.echo("No local serves (start one with `toolkit serve app.py`).")
    for serve in serves:
        r = serve.record
        since = datetime.fromtimestamp(r.started).strftime("%H:%M:%S")
        click.echo(f"{r.app}  local  pid={r.process.pid}  {r.origin}  since {since}")
        for url in serve.urls:
            click.echo(f"  {url}")


@app.command("stop")
@click.argument("name", required=False)
@click.option("--port", type=int, help="The serve on this port.")
@click.option("--all", "stop_all", is_flag=True, help="Every local serve.")
@click.option("--timeout", default=30.0, show_default=True, metavar="SECONDS",
              help="How long each serve may take to finish in-flight work and exit.")
def stop(name: str | None, port: int | None, stop_all: bool, timeout: float) -> None:
    """Stop local serves of app NAME (or --port, --all) as Ctrl-C would, and wait until they exit."""
    serves = local_serves()
    chosen = _choose(serves, name, port, stop_all)
    for serve in chosen:
        if serve.record.process.alive():  # checked again: it may have exited since the listing
            os.kill(serve.record.process.pid, signal.SIGINT)  # what Ctrl-C sends: in-flight work finishes
    deadline = time.monotonic() + timeout
    for serve in chosen:
        r = serve.record
        while r.process.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if r.process.alive():
            raise InvalidError(f"Serve of {r.app!r} (pid {r.process.pid}) is still stopping after {timeout:g} s; "
                               f"wait, or end it with: kill -9 {r.process.pid}")
        click.echo(f"Stopped {r.app!r} (pid {r.process.pid}, {r.origin}).")


def _choose(serves: list[LocalServe], name: str | None, port: int | None, stop_all: bool) -> list[LocalServe]:
    running = ", ".join(f"{s.record.app} (port {s.record.port})" for s in serves) or "none"
    if sum((name is not None, port is not None, stop_all)) != 1:
        raise click.UsageError(f"Name one app, or give --port or --all. Local serves: {running}.")
    chosen = [s for s in serves if stop_all or s.record.app == name or s.record.port == port]
    if not chosen and not stop_all:
        which = f"app {name!r}" if name is not None else f"port {port}"
        raise NotFoundError(f"No local serve of {which} (local serves: {running}). A deployed app is removed "
                            "with: toolkit destroy APP_FILE")
    return chosen


@app.command("logs", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("name")
@click.option("--function", "function", metavar="NAME", help="A local serve: only this function's lines.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines (Ctrl-C stops).")
@click.pass_context
def app_logs(ctx: click.Context, name: str, function: str | None, follow: bool) -> None:
    """Logs of NAME: a local serve's app (its workers' output) or a deployed app's file (app.py[::fn]),
    whose CloudWatch logs `toolkit logs` prints (its options apply)."""
    serve = next((s for s in local_serves() if s.record.app == name), None)
    if serve is None:  # not running here: a deployed app, by its file
        ctx.invoke(logs, ref=name, module=None, follow=follow, **_logs_options(ctx))
        return
    _local_logs(serve.record.origin, function, follow)


def _logs_options(ctx: click.Context) -> dict[str, Any]:
    """`toolkit logs`'s own options (--since, --region, --env, ...) given after NAME."""
    parsed = logs.make_context("toolkit app logs", ["placeholder.py", *ctx.args], parent=ctx)
    return {k: v for k, v in parsed.params.items() if k not in ("ref", "module", "follow")}


def _local_logs(origin: str, function: str | None, follow: bool, interval: float = 1.0) -> None:
    import httpx

    after = 0
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how follow mode ends
        while True:
            params = {"after": str(after), **({"function": function} if function else {})}
            try:
                lines = httpx.get(f"{origin}/api/logs", params=params, timeout=10, trust_env=False).json()
            except httpx.HTTPError as exc:
                raise InvalidError(f"The serve at {origin} did not answer ({exc}); is it still running?") from None
            for line in lines:
                after = max(after, int(line["seq"]))
                click.echo(f"[{line['function']}] {line['line']}")
            if not follow:
                return
            time.sleep(interval)
