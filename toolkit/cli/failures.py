"""How the CLI fails: exit codes and the error that shows a user function's own traceback.

Its own module so that command modules can raise it without importing the CLI's root.
"""

from __future__ import annotations

from typing import Any

import click

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
