"""Optional dependency groups: a command that needs one says the one command that installs it.

``pip install toolkit-serverless`` is enough to write, run and serve apps locally.  Deploying
(Pulumi, the AWS provider, boto3) comes with the ``aws`` extra; without it ``toolkit deploy``
prints ``pip install 'toolkit-serverless[aws]'`` instead of an ImportError traceback.
"""

from __future__ import annotations

import importlib.util

import click

__all__ = ["AWS_INSTALL", "AWS_MODULES", "missing_modules", "require_aws"]

AWS_MODULES = ("boto3", "pulumi", "pulumi_aws")
AWS_INSTALL = "pip install 'toolkit-serverless[aws]'"


def missing_modules(modules: tuple[str, ...]) -> list[str]:
    """The names among ``modules`` that cannot be imported here."""
    missing = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a finder refused it, or a half-removed package
            found = False
        if not found:
            missing.append(name)
    return missing


def require_aws(what: str, modules: tuple[str, ...] = AWS_MODULES) -> None:
    """Stop ``what`` (e.g. ``toolkit deploy``) with the install command when the aws extra is missing."""
    missing = missing_modules(modules)
    if missing:
        raise click.ClickException(f"{what} needs {', '.join(missing)} (the aws extra, not installed with "
                                   f"toolkit-serverless alone). Install it with: {AWS_INSTALL}")
