"""The builder interface: what `toolkit.images.build` needs from podman, docker or CodeBuild."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # toolkit.images.plan imports builders.platform: no import cycle at runtime
    from toolkit.images.plan import ImagePlan
    from toolkit.images.registry import ImageRegistry

Log = Callable[[str], None]


class Builder(Protocol):
    name: str

    def has_image(self, ref: str) -> bool:
        """Whether ``ref`` is in this builder's local store (always False for remote builders)."""
        ...

    def local_digest(self, ref: str) -> str | None:
        """The local image ID of ``ref`` (for builds that are not pushed), or None."""
        ...

    def build(self, plan: ImagePlan, ref: str, registry: ImageRegistry | None) -> str | None:
        """Build ``plan`` as ``ref``; with a registry, push it too and return its digest.
        Raises BuildFailedError naming the failing step."""
        ...
