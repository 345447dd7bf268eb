"""``toolkit dict``: look at and tidy named Dicts in the store `toolkit.state` picks (local by default;
set TOOLKIT_STATE_TABLE, as ``toolkit deploy`` prints it, for a deployed app's)."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime

import click


def where() -> str:
    """Which store the command talks to, for its output."""
    from toolkit.state import TABLE_ENV, state_db_path

    table = os.environ.get(TABLE_ENV)
    return f"DynamoDB table {table}" if table else f"local store {state_db_path()}"


def show(value: object, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text):,} characters)"


def listing(kind: str, as_json: bool = False) -> None:
    from runtime.primitives.base import Kind
    from toolkit.state import state_store

    infos = state_store().list_objects(Kind(kind))
    if as_json:
        click.echo(json.dumps([{"name": i.name, "ephemeral": i.ephemeral,
                                "created": datetime.fromtimestamp(i.created_at).astimezone().isoformat(timespec="seconds")}
                               for i in infos], indent=2))
        return
    if not infos:
        click.echo(f"No {kind}s in the {where()}.")
    for info in infos:
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.created_at))
        click.echo(f"{info.name}\tcreated {created}{'  (ephemeral)' if info.ephemeral else ''}")


def require_deployed_store_packages() -> None:
    """A deployed app's store (TOOLKIT_STATE_TABLE set) is DynamoDB: boto3, from the aws extra."""
    from toolkit.cli.extras import require_aws
    from toolkit.state import TABLE_ENV

    if os.environ.get(TABLE_ENV):
        require_aws(f"A deployed app's store ({TABLE_ENV})", ("boto3",))


@click.group("dict")
def dict_group() -> None:
    """Named Dicts (toolkit.Dict)."""
    require_deployed_store_packages()


@dict_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
def list_dicts(as_json: bool) -> None:
    """The Dicts that exist."""
    listing("dict", as_json)


@dict_group.command("items")
@click.argument("name")
@click.option("-n", "limit", default=20, show_default=True, type=click.IntRange(min=1), help="Entries to show.")
def items(name: str, limit: int) -> None:
    """The first entries of Dict NAME."""
    from toolkit.dicts import Dict

    for i, (key, value) in enumerate(Dict.from_name(name).items()):
        if i == limit:
            click.echo(f"... (more: `toolkit dict items {name} -n {limit * 5}`)")
            break
        click.echo(f"{show(key)}: {show(value)}")


@dict_group.command("get")
@click.argument("name")
@click.argument("key")
def get(name: str, key: str) -> None:
    """The value of KEY (a string key) in Dict NAME."""
    from toolkit.dicts import Dict

    try:
        value = Dict.from_name(name)[key]
    except KeyError:
        raise click.ClickException(f"Dict {name!r} has no key {key!r} (string keys only here; "
                                   f"`toolkit dict items {name}` lists them).") from None
    click.echo(show(value, 10_000))


@dict_group.command("clear")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def clear(name: str, yes: bool) -> None:
    """Remove every entry of Dict NAME (the Dict stays)."""
    from toolkit.dicts import Dict

    d = Dict.from_name(name)
    d.len()  # a missing Dict fails here, before the question
    if yes or click.confirm(f"Remove all {d.len()} entries of Dict {name!r} in the {where()}?"):
        d.clear()
        click.echo(f"Cleared Dict {name!r}.")


@dict_group.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete(name: str, yes: bool) -> None:
    """Delete Dict NAME and everything in it."""
    from toolkit.dicts import Dict

    if yes or click.confirm(f"Delete Dict {name!r} and its entries from the {where()}?"):
        Dict.delete(name)
        click.echo(f"Deleted Dict {name!r}.")
