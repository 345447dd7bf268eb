"""``toolkit secret``: named secrets in the local store (local runs and serve), or in AWS
Secrets Manager with ``--target aws`` (what deployed functions read)."""

from __future__ import annotations

import click


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


@secret.command("create")
@click.argument("name")
@click.argument("pairs", nargs=-1, required=True, metavar="KEY=VALUE...")
@click.option("--target", type=click.Choice(["local", "aws", "localstack"]), default="local", show_default=True,
              help="local: the store serve and local runs read; aws/localstack: Secrets Manager, for deploys.")
@click.option("--region", metavar="REGION", help="AWS region for --target aws.")
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
    from toolkit.deploy.target import check_credentials, resolve_target

    where = resolve_target("localstack" if target == "localstack" else "aws", region)
    check_credentials(where)
    arn = put_workspace_secret(where.client("secretsmanager"), name, values)
    click.echo(f"Stored secret {name!r} with keys {', '.join(sorted(values))} in Secrets Manager ({arn})")
