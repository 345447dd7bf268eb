"""``toolkit doctor [APP_REF]``: what would break a first deploy, each with its fix (toolkit.deploy.doctor).

Exit 0 when nothing fails (warnings allowed), 1 when a check fails.  With an app, its GPU
functions make the G/VT vCPU quotas requirements; without one they are only reported.
"""

from __future__ import annotations

import json
from typing import Any

import click

from toolkit.cli.extras import require_aws
from toolkit.cli.options import app_ref_argument, parse_ref

__all__ = ["doctor"]


@click.command()
@app_ref_argument
@click.option("--target", type=click.Choice(["aws", "localstack"]), default="aws", show_default=True,
              help="A real AWS account, or LocalStack at $LOCALSTACK_ENDPOINT.")
@click.option("--region", metavar="REGION", help="AWS region (default: AWS_REGION or your AWS profile's).")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON on stdout.")
def doctor(ref: str | None, module: str | None, target: str, region: str | None, as_json: bool) -> None:
    """Check credentials, region, the Pulumi CLI, the VPC and the quotas a first deploy needs."""
    require_aws("toolkit doctor")
    from toolkit.deploy.doctor import Level, run_doctor
    from toolkit.deploy.errors import DeployError

    findings = run_doctor(target, region, _manifest(ref, module))  # type: ignore[arg-type]
    if as_json:
        click.echo(json.dumps([f.to_json() for f in findings], indent=2))
    else:
        _table(findings)
    failed = [f for f in findings if f.level is Level.FAIL]
    if failed:
        raise DeployError(f"{len(failed)} check(s) failed; first: {failed[0].check}: {failed[0].detail}. "
                          f"Fix: {failed[0].fix}")


def _manifest(ref: str | None, module: str | None) -> dict[str, Any] | None:
    if ref is None and module is None:
        return None
    from toolkit.loader import load_app
    from toolkit.manifest import build_manifest

    return build_manifest(load_app(parse_ref(ref, module)))


def _table(findings: list[Any]) -> None:
    from toolkit.deploy.progress import Progress

    Progress().table("toolkit doctor", ("check", "result", "detail", "fix"), [f.row() for f in findings])
