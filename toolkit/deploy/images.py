"""The image step of a deploy, behind one small interface.

``ImagePublisher.publish`` builds the app's images if their inputs changed, pushes them,
and answers function tag -> ``<repository>@sha256:<digest>``: a digest, never a tag, so
Lambda and ECS run exactly what was built and an unchanged app gives an unchanged config.
``PrebuiltImages`` reads that answer from a file (``toolkit build --json`` output, or a CI
job that built elsewhere); ``ToolkitImages`` calls the image builder in ``toolkit.images``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from runtime.manifest import load, sandbox_image_key
from toolkit.deploy.errors import DeployError

__all__ = ["ImagePublisher", "PrebuiltImages", "ToolkitImages", "check_images", "for_this_deploy", "image_keys"]

Report = Callable[[str], None]
_PINNED = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")


class ImagePublisher(Protocol):
    @property
    def needs_registry(self) -> bool:
        """True when ``publish`` needs the stack's ECR repository (the deploy creates it first)."""
        ...

    def publish(self, manifest: Mapping[str, Any], repository_url: str | None, report: Report) -> dict[str, str]:
        """Build what changed, push, return function tag -> digest-pinned image URI."""
        ...


def sandboxes_on(manifest: Mapping[str, Any]) -> bool:
    """The deploy plans sandboxes (so it builds the sandbox-only images too) when the app's code names
    ``Sandbox`` or ``TOOLKIT_SANDBOXES=true``; ``TOOLKIT_SANDBOXES=false`` turns it off."""
    from toolkit.deploy.stack_config import sandboxes_planned

    return sandboxes_planned(manifest)


def for_this_deploy(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest whose images this deploy builds: without ``sandbox_images`` unless sandboxes are on
    (an app that plans no sandboxes spends no build on them)."""
    data = dict(manifest)
    if not sandboxes_on(manifest):
        data["sandbox_images"] = []
    return data


def image_keys(manifest: Mapping[str, Any]) -> list[str]:
    """The ``toolkit:images`` keys a deploy needs: each function's tag, and each sandbox-only image's key."""
    app = load(for_this_deploy(manifest))
    return [fn.tag for fn in app.functions] + [sandbox_image_key(i.spec_hash) for i in app.sandbox_images]


def check_images(manifest: Mapping[str, Any], images: Mapping[str, str], where: str) -> dict[str, str]:
    tags = image_keys(manifest)
    missing = [t for t in tags if t not in images]
    if missing:
        raise DeployError(f"{where} has no image for {', '.join(missing)}; rebuild with `toolkit build --json`.")
    unpinned = sorted(t for t in tags if not _PINNED.match(images[t]))
    if unpinned:
        raise DeployError(f"{where}: the image of {unpinned[0]!r} ({images[unpinned[0]]!r}) is not pinned by "
                          "digest; give '<repository>@sha256:<64 hex>'.")
    return {t: images[t] for t in tags}


@dataclass(frozen=True)
class PrebuiltImages:
    path: Path

    @property
    def needs_registry(self) -> bool:
        return False

    def publish(self, manifest: Mapping[str, Any], repository_url: str | None, report: Report) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise DeployError(f"Cannot read images from {str(self.path)!r} ({exc}); pass the JSON that "
                              "`toolkit build --json` printed.") from None
        images = data.get("images", data) if isinstance(data, dict) else {}
        report(f"using prebuilt images from {self.path}")
        return check_images(manifest, images, str(self.path))


@dataclass(frozen=True)
class ToolkitImages:
    """Adapter to ``toolkit.images`` (the builder owned by the images package)."""

    registry: str | None = None  # a registry override (tests, air-gapped users) instead of ECR

    @property
    def needs_registry(self) -> bool:
        from toolkit.images.registry import REGISTRY_ENV

        return self.registry is None and not os.environ.get(REGISTRY_ENV)

    def publish(self, manifest: Mapping[str, Any], repository_url: str | None, report: Report) -> dict[str, str]:
        from toolkit.images.publish import publish as build_and_push

        images = build_and_push(for_this_deploy(manifest), repository_url=repository_url, registry=self.registry,
                                report=report)
        return check_images(manifest, dict(images), "the image build")
