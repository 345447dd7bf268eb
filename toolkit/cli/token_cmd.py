"""``toolkit token``: proxy-auth tokens for endpoints with ``requires_proxy_auth=True``."""

from __future__ import annotations

import json
import time
from datetime import datetime

import click


@click.group()
def token() -> None:
    """Create, list and revoke proxy-auth tokens (Toolkit-Key / Toolkit-Secret headers)."""


@token.command("create")
def create() -> None:
    """Create a token; its secret is shown once."""
    from toolkit.serve.tokens import TokenStore

    new = TokenStore().create()
    click.echo(f"Toolkit-Key: {new.key}")
    click.echo(f"Toolkit-Secret: {new.secret}")
    click.echo("Store the secret now: only its hash is kept. Send both headers to protected endpoints, e.g.\n"
               f"  curl -H 'Toolkit-Key: {new.key}' -H 'Toolkit-Secret: {new.secret}' URL", err=True)


@token.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
def list_(as_json: bool) -> None:
    """List token keys (secrets are never shown again)."""
    from toolkit.serve.tokens import TokenStore

    entries = TokenStore().list()
    if as_json:
        click.echo(json.dumps([{"key": e.key, "created": _iso(e.created_at)} for e in entries], indent=2))
        return
    if not entries:
        click.echo("No tokens; create one with `toolkit token create`.", err=True)
    for entry in entries:
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry.created_at))
        click.echo(f"{entry.key}\tcreated {created}")


@token.command("revoke")
@click.argument("key")
def revoke(key: str) -> None:
    """Revoke token KEY (requests using it get 401 at once)."""
    from toolkit.serve.tokens import TokenStore

    TokenStore().revoke(key)
    click.echo(f"Revoked {key}")


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")
