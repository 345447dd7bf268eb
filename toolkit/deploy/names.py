"""Which Pulumi project and stack hold an app's resources.

One Pulumi project per app (``toolkit-<app>``) and one stack per environment (``main`` when
none is set); ``toolkit serve --cloud`` uses ``<env>-dev``.  The infra program prefixes every
physical name with ``<app>-<stack>`` (``hello-main-square``), so keeping the app out of the
stack name keeps AWS names short, and two apps never share a stack.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["DEFAULT_STACK", "PROJECT_PREFIX", "StackName", "stack_name"]

DEFAULT_STACK = "main"
PROJECT_PREFIX = "toolkit-"
EPHEMERAL_SUFFIX = "-dev"
_NOT_ALLOWED = re.compile(r"[^a-z0-9-]+")


def _slug(text: str) -> str:
    return re.sub("-{2,}", "-", _NOT_ALLOWED.sub("-", text.lower())).strip("-")


@dataclass(frozen=True)
class StackName:
    project: str  # toolkit-<app>
    stack: str  # <env or main>[-dev]

    @property
    def app(self) -> str:
        return self.project.removeprefix(PROJECT_PREFIX)

    @property
    def qualified(self) -> str:
        """How ``pulumi stack ls --all`` names it in a DIY (file or S3) backend."""
        return f"organization/{self.project}/{self.stack}"

    def __str__(self) -> str:
        return f"{self.project}/{self.stack}"

    @staticmethod
    def parse(qualified: str) -> StackName:
        """``organization/toolkit-hello/main`` or ``toolkit-hello/main`` -> StackName."""
        parts = qualified.split("/")
        return StackName(parts[-2] if len(parts) > 1 else "", parts[-1])


def stack_name(app: str, environment: str | None = None, *, ephemeral: bool = False) -> StackName:
    stack = _slug(environment or "") or DEFAULT_STACK
    return StackName(f"{PROJECT_PREFIX}{_slug(app) or 'app'}", stack + (EPHEMERAL_SUFFIX if ephemeral else ""))
