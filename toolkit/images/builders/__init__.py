"""Builders: podman, docker (local engines) and AWS CodeBuild (remote), picked by `pick_builder`."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping

from toolkit.images.builders.base import Builder, Log
from toolkit.images.errors import BuilderUnavailableError

BUILDER_ENV = "TOOLKIT_BUILDER"
BUILDERS = ("podman", "docker", "codebuild")

__all__ = ["BUILDERS", "BUILDER_ENV", "Builder", "pick_builder"]


def pick_builder(name: str | None = None, *, log: Log | None = None, env: Mapping[str, str] | None = None) -> Builder:
    """The named builder, else ``TOOLKIT_BUILDER``, else podman, docker, then CodeBuild when
    a build bucket is configured."""
    choice = name or os.environ.get(BUILDER_ENV) or _first_available()
    if choice not in BUILDERS:
        raise BuilderUnavailableError(f"Unknown builder {choice!r}; use one of {', '.join(BUILDERS)}.")
    if choice == "codebuild":
        from toolkit.images.builders.codebuild import CodeBuildBuilder

        return CodeBuildBuilder(log=log)
    from toolkit.images.builders.engine import Engine

    return Engine(choice, env=env, log=log)


def _first_available() -> str:
    for engine in ("podman", "docker"):
        if shutil.which(engine):
            return engine
    from toolkit.images.builders.codebuild import BUCKET_ENV

    if os.environ.get(BUCKET_ENV):
        return "codebuild"
    raise BuilderUnavailableError("No image builder found: install podman (apt-get install podman) or docker, "
                                  f"or set {BUCKET_ENV} to build with AWS CodeBuild.")
