"""``toolkit app list``: the apps deployed in the state backend, with their URLs."""

from __future__ import annotations

import json
from typing import Any

import click

__all__ = ["app"]


@click.group()
def app() -> None:
    """Deployed apps."""


@app.command("list")
@click.option("--backend-url", envvar="TOOLKIT_BACKEND_URL", metavar="URL", help="Pulumi state backend.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
def list_apps(backend_url: str | None, as_json: bool) -> None:
    """List every toolkit stack in the backend and its endpoint URLs."""
    from toolkit.deploy.inventory import deployed_apps

    rows = deployed_apps(backend_url)
    if as_json:
        click.echo(json.dumps([r.to_json() for r in rows], indent=2, sort_keys=True))
        return
    if not rows:
        click.echo("No deployed apps (deploy one with `toolkit deploy app.py`).")
    for row in rows:
        _print(row)


def _print(row: Any) -> None:
    click.echo(f"{row.app}  stack={row.stack}  resources={row.resources}  updated={row.last_update or '-'}")
    for endpoint in row.endpoints:
        click.echo(f"  {endpoint.tag}: {endpoint.url}")
