"""``toolkit secret create | list | delete``: named secrets in the local store (local runs and
serve), or in AWS Secrets Manager with ``--target aws`` (what deployed functions read).
Values are never printed: listings show names and keys (local) or names and last change (AWS)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from toolkit.cli.extras import require_aws

__all__ = ["secret"]


@click.group()
def secret() -> None:
    """Manage named secrets."""


def _parse_pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise click.UsageError(f"{pair!r} is not KEY=VALUE.")
        values[key] = value
    return values


def target_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--region", metavar="REGION", help="AWS region for --target aws (default: AWS_REGION).")(f)
    return click.option("--target", type=click.Choice(["local", "aws", "localstack"]), default="local",
                        show_default=True,
                        help="local: the store serve and local runs read; aws/localstack: Secrets Manager, "
                             "for deploys.")(f)


def _secrets_manager(target: str, region: str | None) -> Any:
    require_aws(f"toolkit secret --target {target}", ("boto3",))
    from toolkit.deploy.target import check_credentials, resolve_target

    where = resolve_target("localstack" if target == "localstack" else "aws", region)
    check_credentials(where)
    return where.client("secretsmanager")


@secret.command("create")
@click.argument("name")
@click.argument("pairs", nargs=-1, required=True, metavar="KEY=VALUE...")
@target_options
def create(name: str, pairs: tuple[str, ...], target: str, region: str | None) -> None:
    """Create or replace secret NAME (values are never printed)."""
    from toolkit.secret import Secret

    values = _parse_pairs(pairs)
    Secret.from_dict(values)  # validates key names
    Secret.from_name(name)  # validates the name
    if target == "local":
        from toolkit.local.secrets import write_named

        path = write_named(name, values)
        click.echo(f"Created secret {name!r} with keys {', '.join(sorted(values))} in {path}")
        return
    from toolkit.deploy.aws_secrets import put_workspace_secret

    arn = put_workspace_secret(_secrets_manager(target, region), name, values)
    click.echo(f"Stored secret {name!r} with keys {', '.join(sorted(values))} in Secrets Manager ({arn})")


@secret.command("list")
@target_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
def list_secrets(target: str, region: str | None, as_json: bool) -> None:
    """List secrets: names and keys (local), names and last change (Secrets Manager)."""
    rows: list[dict[str, Any]]
    if target == "local":
        from toolkit.local.secrets import list_named

        rows = [{"name": name, "keys": keys} for name, keys in list_named().items()]
    else:
        from toolkit.deploy.aws_secrets import list_workspace_secrets

        rows = list_workspace_secrets(_secrets_manager(target, region))
    if as_json:
        click.echo(json.dumps(rows, indent=2, sort_keys=True))
        return
    if not rows:
        click.echo(f"No {target} secrets (create one with `toolkit secret create NAME KEY=VALUE`"
                   f"{'' if target == 'local' else f' --target {target}'}).")
    for row in rows:
        detail = ", ".join(row["keys"]) if "keys" in row else f"changed {row['changed'] or '-'}"
        click.echo(f"{row['name']}\t{detail}")


@secret.command("delete")
@click.argument("name")
@target_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True,
              help="Secrets Manager: delete at once instead of after the 7-day recovery window.")
def delete(name: str, target: str, region: str | None, yes: bool, force: bool) -> None:
    """Delete secret NAME (functions that use it fail to start until it is created again)."""
    if not yes:
        click.confirm(f"Delete {target} secret {name!r}?", abort=True)
    if target == "local":
        from toolkit.local.secrets import delete_named

        click.echo(f"Deleted secret {name!r} ({delete_named(name)})")
        return
    from toolkit.deploy.aws_secrets import delete_workspace_secret

    delete_workspace_secret(_secrets_manager(target, region), name, recovery_days=None if force else 7)
    click.echo(f"Deleted secret {name!r} from Secrets Manager"
               + ("." if force else " (restorable for 7 days: aws secretsmanager restore-secret)."))
