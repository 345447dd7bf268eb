"""``toolkit queue``: look at and tidy named Queues in the store `toolkit.state` picks (as ``toolkit dict``)."""

from __future__ import annotations

import click

from toolkit.cli.dict_cmd import listing, require_deployed_store_packages, show, where

_PARTITION = click.option("--partition", default=None, help="A partition key (default: the default partition).")


@click.group("queue")
def queue_group() -> None:
    """Named Queues (toolkit.Queue)."""
    require_deployed_store_packages()


@queue_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
def list_queues(as_json: bool) -> None:
    """The Queues that exist."""
    listing("queue", as_json)


@queue_group.command("peek")
@click.argument("name")
@click.option("-n", "count", default=1, show_default=True, type=click.IntRange(min=1), help="Items to show.")
@_PARTITION
def peek(name: str, count: int, partition: str | None) -> None:
    """The next items of Queue NAME, left in place."""
    from toolkit.queues import Queue

    values = Queue.from_name(name).peek(count, partition=partition)
    if not values:
        click.echo(f"Queue {name!r} is empty{f' in partition {partition!r}' if partition else ''}.")
    for value in values:
        click.echo(show(value))


@queue_group.command("len")
@click.argument("name")
@_PARTITION
@click.option("--total", is_flag=True, help="Count every partition.")
def length(name: str, partition: str | None, total: bool) -> None:
    """How many items Queue NAME holds."""
    from toolkit.queues import Queue

    click.echo(Queue.from_name(name).len(partition=partition, total=total))


@queue_group.command("clear")
@click.argument("name")
@_PARTITION
@click.option("--all", "every", is_flag=True, help="Clear every partition.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def clear(name: str, partition: str | None, every: bool, yes: bool) -> None:
    """Remove the items of Queue NAME (one partition, or --all)."""
    from toolkit.queues import Queue

    q = Queue.from_name(name)
    what = "every partition" if every else f"partition {partition!r}" if partition else "the default partition"
    q.len(total=True)  # a missing Queue fails here, before the question
    if yes or click.confirm(f"Remove the items of {what} of Queue {name!r} in the {where()}?"):
        q.clear(partition=partition, all=every)
        click.echo(f"Cleared {what} of Queue {name!r}.")


@queue_group.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete(name: str, yes: bool) -> None:
    """Delete Queue NAME and its items."""
    from toolkit.queues import Queue

    if yes or click.confirm(f"Delete Queue {name!r} and its items from the {where()}?"):
        Queue.delete(name)
        click.echo(f"Deleted Queue {name!r}.")
