"""``toolkit secret``: named secrets in the local store (used by local runs and serve)."""

from __future__ import annotations

import click


@click.group()
def secret() -> None:
    """Manage named secrets."""


@secret.command("create")
@click.argument("name")
@click.argument("pairs", nargs=-1, required=True, metavar="KEY=VALUE...")
def create(name: str, pairs: tuple[str, ...]) -> None:
    """Create or replace secret NAME in the local store."""
    from toolkit.local.secrets import write_named
    from toolkit.secret import Secret

    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise click.UsageError(f"{pair!r} is not KEY=VALUE.")
        values[key] = value
    Secret.from_dict(values)  # validates key names
    path = write_named(name, values)
    click.echo(f"Created secret {name!r} with keys {', '.join(sorted(values))} in {path}")
