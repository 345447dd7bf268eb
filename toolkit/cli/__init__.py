"""The ``toolkit`` command line: thin shells over the SDK, one module per noun.

Domain errors become ``click.ClickException`` in one place (`ToolkitGroup.invoke`), so a
user mistake prints one line and exits non-zero instead of a traceback.  Exit codes:
1 user error (bad input, missing file, broken app), 2 usage error (click),
3 the user's remote function raised (its traceback is printed).
"""

from __future__ import annotations

import sys
from typing import Any

import click

from toolkit.cli.failures import EXIT_REMOTE_ERROR, EXIT_USER_ERROR, UserCodeFailed
from toolkit.exception import Error

__all__ = ["EXIT_REMOTE_ERROR", "EXIT_USER_ERROR", "UserCodeFailed", "cli", "main"]


class ToolkitGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Error as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=ToolkitGroup)
@click.version_option(package_name="toolkit-serverless", prog_name="toolkit")
def cli() -> None:
    """Serverless functions and web endpoints: run locally, deploy into your own AWS account."""


def _register() -> None:
    # Plain imports on purpose: a broken command module must fail loudly, not vanish from the CLI.
    from toolkit.cli import (
        app_cmd,
        build_cmd,
        deploy_cmd,
        dict_cmd,
        doctor_cmd,
        init_cmd,
        manifest_cmd,
        queue_cmd,
        run_cmd,
        sandbox_cmd,
        secret_cmd,
        serve_cmd,
        token_cmd,
        volume_cmd,
    )

    for command in (manifest_cmd.manifest, run_cmd.run, secret_cmd.secret, serve_cmd.serve, token_cmd.token,
                    build_cmd.build, deploy_cmd.deploy, deploy_cmd.plan, deploy_cmd.preview, deploy_cmd.destroy,
                    deploy_cmd.url, deploy_cmd.logs, app_cmd.app, dict_cmd.dict_group, queue_cmd.queue_group,
                    doctor_cmd.doctor, volume_cmd.volume_group, sandbox_cmd.sandbox_group, init_cmd.init):
        cli.add_command(command)


_register()


def main() -> None:
    sys.exit(cli.main(prog_name="toolkit"))
