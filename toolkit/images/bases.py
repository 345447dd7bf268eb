"""Which base image a spec starts from, for CPU and GPU functions.

``Image.debian_slim(v)`` is the official ``python:<v>-slim-bookworm`` image: Debian pinned
to a release so that ``apt_install`` names mean the same packages on every build.

GPU functions (``gpu=...``) keep that slim base.  PyTorch's Linux wheels on PyPI carry the
CUDA runtime, cuDNN and NCCL as ``nvidia-*`` wheels, and the ECS GPU AMI's NVIDIA container
toolkit mounts the driver into the container, so a ~150 MB slim base plus the wheels runs
CUDA; a ``nvidia/cuda:*-devel`` base adds several GB (compilers, static libraries) that
only source builds of CUDA extensions need.  The image only has to ask the toolkit for the
devices, through the two ``NVIDIA_*`` variables below.  Users who need the CUDA toolkit
itself pick it explicitly: ``Image.from_registry("nvidia/cuda:12.4.1-runtime-ubuntu22.04",
add_python="3.11")``, or set ``TOOLKIT_GPU_BASE`` to such a reference to make it the
default base for every GPU ``debian_slim`` image.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GPU_BASE_ENV = "TOOLKIT_GPU_BASE"
GPU_ENV = {"NVIDIA_VISIBLE_DEVICES": "all", "NVIDIA_DRIVER_CAPABILITIES": "compute,utility"}


@dataclass(frozen=True)
class Base:
    ref: str                     # as the user's spec names it, before mirrors
    add_python: str | None       # a Python version to make sure of on top of ``ref``
    gpu: bool


def select_base(spec_base: Mapping[str, Any], *, gpu: bool, root: Path | None = None) -> Base:
    """``root``: where a Dockerfile's relative path is read from (the planning directory)."""
    if spec_base.get("kind") == "registry":
        return Base(str(spec_base["ref"]), spec_base.get("add_python"), gpu)
    if spec_base.get("kind") == "dockerfile":
        from toolkit.images.dockerfile import final_base, read_dockerfile

        text = read_dockerfile(root or Path.cwd(), spec_base)
        what = f"Image.from_dockerfile({spec_base['path']!r})"
        return Base(final_base(text, what, spec_base.get("build_args")), spec_base.get("add_python"), gpu)
    version = str(spec_base.get("python_version") or "3.11")
    gpu_base = os.environ.get(GPU_BASE_ENV) if gpu else None
    if gpu_base:
        return Base(gpu_base, version, gpu)
    return Base(f"docker.io/library/python:{version}-slim-bookworm", None, gpu)
