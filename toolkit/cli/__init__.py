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

from toolkit.exception import Error

EXIT_USER_ERROR = 1
EXIT_REMOTE_ERROR = 3


class UserCodeFailed(click.ClickException):
    """The user's function raised: show its (remote) traceback, exit 3."""

    exit_code = EXIT_REMOTE_ERROR

    def __init__(self, exc: BaseException) -> None:
        super().__init__(f"{type(exc).__name__}: {exc}")
        self.exc = exc

    def show(self, file: Any = None) -> None:
        import traceback

        cause = self.exc.__cause__
        detail = getattr(cause, "tb", None) or "".join(traceback.format_exception(self.exc))
        click.echo(detail.rstrip(), err=True)
        click.echo(click.style("Error: ", fg="red") + self.format_message(), err=True)


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
        manifest_cmd,
        run_cmd,
        secret_cmd,
        serve_cmd,
        token_cmd,
    )

    for command in (manifest_cmd.manifest, run_cmd.run, secret_cmd.secret, serve_cmd.serve, token_cmd.token,
                    build_cmd.build, deploy_cmd.deploy, deploy_cmd.plan, deploy_cmd.preview, deploy_cmd.destroy,
                    deploy_cmd.url, deploy_cmd.logs, app_cmd.app):
        cli.add_command(command)


_register()


def main() -> None:
    sys.exit(cli.main(prog_name="toolkit"))
