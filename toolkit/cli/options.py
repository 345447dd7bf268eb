"""Arguments shared by commands that load an app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from click.shell_completion import CompletionItem

from toolkit.loader import AppRef


def complete_app_file(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Shell completion of APP_REF: the shell completes file names (app.py; ``::name`` is typed)."""
    return [CompletionItem(incomplete, type="file")]


def app_ref_argument(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.argument("ref", required=False, metavar="APP_REF", shell_complete=complete_app_file)(f)
    return click.option("-m", "module", metavar="MODULE", help="Load the app from a module (package.module[::name]).")(f)


def parse_ref(ref: str | None, module: str | None) -> AppRef:
    if bool(ref) == bool(module):
        raise click.UsageError("Give either a file (app.py, app.py::name) or -m package.module, not both or neither.")
    return AppRef.parse(module, is_module=True) if module else AppRef.parse(ref or "")
