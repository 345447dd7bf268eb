"""Which Pulumi project and stack hold an app's resources.

One Pulumi project per app (``toolkit-<app>``) and one stack per environment and region:
``<env>-<region>`` (``main-eu-west-1``; ``main`` when no environment is set), and
``toolkit serve --cloud`` uses ``<env>-dev-<region>``.  The infra program prefixes every
physical name with ``<app>-<stack>`` (``hello-main-eu-west-1-square``), so keeping the app
out of the stack name keeps AWS names short, and two apps never share a stack.

The region is part of the stack because a stack's state describes one region's resources:
deploying the same app to another region under the same stack would replace everything,
collide on IAM names (global: ``EntityAlreadyExists``) while the old region's still exist,
and push images to the old region's ECR.  Each region gets its own stack and names instead.
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
        """How ``pulumi stack ls --all`` names it in a DIY (file or S3) state store."""
        return f"organization/{self.project}/{self.stack}"

    def __str__(self) -> str:
        return f"{self.project}/{self.stack}"

    @staticmethod
    def parse(qualified: str) -> StackName:
        """``organization/toolkit-hello/main`` or ``toolkit-hello/main`` -> StackName."""
        parts = qualified.split("/")
        return StackName(parts[-2] if len(parts) > 1 else "", parts[-1])


def stack_name(app: str, environment: str | None = None, *, region: str | None = None,
               ephemeral: bool = False) -> StackName:
    """``region=None`` only for callers that name no AWS resources (tests of the slugging)."""
    stack = (_slug(environment or "") or DEFAULT_STACK) + (EPHEMERAL_SUFFIX if ephemeral else "")
    if region:
        stack = f"{stack}-{_slug(region)}"
    return StackName(f"{PROJECT_PREFIX}{_slug(app) or 'app'}", stack)
