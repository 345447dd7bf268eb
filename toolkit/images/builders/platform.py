"""The CPU architecture images are built for, and the flags that make registries and AWS accept them.

Lambda and Fargate run ``linux/amd64`` (``x86_64``) unless told ``arm64`` (Graviton), and GPU
instances are x86_64 only.  A build that leaves the platform to the engine gets the host's:
on Apple Silicon an arm64 image that fails with ``exec format error`` on x86_64 Lambda.  So
every build names its platform, and the deploy tells Lambda (``architectures``) and ECS
(``runtime_platform``) the same one through ``toolkit:architecture``.

BuildKit (docker 23+, CodeBuild's docker) also attaches provenance and SBOM attestations by
default, which turns the pushed image into an image *index*; Lambda refuses image indexes
("The image manifest, config or layer media type ... is not supported"), so those are
switched off.  podman builds single-platform images with no attestations, so it needs only
``--platform``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from toolkit.images.errors import BuilderUnavailableError

__all__ = ["ARCHITECTURES", "ARCHITECTURE_ENV", "PLATFORM_LABEL", "architecture", "build_flags", "platform_for"]

ARCHITECTURE_ENV = "TOOLKIT_ARCHITECTURE"
ARCHITECTURES = {"x86_64": "linux/amd64", "arm64": "linux/arm64"}  # Lambda's names -> OCI platforms
PLATFORM_LABEL = "dev.toolkit.platform"  # part of the image's inputs: another platform, another tag
BUILDKIT_FLAGS = ("--provenance=false", "--sbom=false")


def architecture(env: Mapping[str, str] | None = None) -> str:
    """``$TOOLKIT_ARCHITECTURE`` (``x86_64`` or ``arm64``), default ``x86_64``."""
    value = (env if env is not None else os.environ).get(ARCHITECTURE_ENV) or "x86_64"
    if value not in ARCHITECTURES:
        raise BuilderUnavailableError(f"{ARCHITECTURE_ENV}={value!r} is not an architecture; use "
                                      f"{' or '.join(ARCHITECTURES)} (arm64: Graviton Lambda and Fargate).")
    return value


def platform_for(*, gpu: bool, env: Mapping[str, str] | None = None) -> str:
    """The OCI platform of an image: GPU images are always linux/amd64 (no arm64 GPU capacity)."""
    return ARCHITECTURES["x86_64"] if gpu else ARCHITECTURES[architecture(env)]


def build_flags(engine: str, platform: str) -> list[str]:
    """``--platform`` for every engine; BuildKit's attestation switches for docker."""
    flags = ["--platform", platform]
    return flags + list(BUILDKIT_FLAGS) if engine == "docker" else flags
