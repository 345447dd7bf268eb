"""The one call deploy needs: manifest -> ``{function tag: "repo@sha256:..."}``, built and pushed.

``toolkit deploy`` passes the stack's ECR repository URL (``<acct>.dkr.ecr.<region>.amazonaws.com/<name>``);
a registry override (tests, air-gapped users) replaces it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from toolkit.images import registry as registries
from toolkit.images.build import BuiltImage, build_images
from toolkit.images.builders import pick_builder
from toolkit.images.plan import PlanOptions, plan_app


def publish(manifest: Mapping[str, Any], *, repository_url: str | None = None, registry: str | None = None,
            report: Callable[[str], None] = lambda line: None, builder: str | None = None,
            options: PlanOptions | None = None) -> dict[str, str]:
    plans = plan_app(manifest, options or PlanOptions.from_env())
    target = registries.from_option(registry)
    if target is None and repository_url:
        host, _, repository = repository_url.split("://", 1)[-1].partition("/")
        target = registries.ecr() if ".dkr.ecr." in host else registries.ImageRegistry(host)
        plans = [dataclasses.replace(p, repository=repository) for p in plans]
    if target is None:
        target = registries.ecr()
    return pinned(build_images(plans, pick_builder(builder, log=report), target, log=report))


def pinned(images: list[BuiltImage]) -> dict[str, str]:
    """function tag -> ``registry/repository@digest`` (what Lambda and ECS task definitions take)."""
    return {fn: f"{image.ref.rsplit(':', 1)[0]}@{image.digest}" for image in images for fn in image.functions}
