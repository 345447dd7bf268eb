"""Where a sandbox runs on AWS, decided from what the deploy planned: pure functions, no AWS calls.

The deploy plans one task definition per image the app's functions use or it declares for sandboxes
(`toolkit.sandboxes.declared`; each image is built with
toolkit's runtime layer, so it carries `runtime.sandbox_agent`), a default one (the app's image),
and for each ``gpu=`` function a GPU task definition on that function's EC2 capacity provider.
``Sandbox.create(image=..., gpu=...)`` picks among them by the image's spec hash and the GPU
asked for; anything the deploy did not plan is an error naming the value and the fix, never a
silent fallback to another image or to no GPU.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from toolkit.exception import InvalidError, NotSupportedError
from toolkit.unsupported import refusal

__all__ = ["GpuVariant", "Launch", "Planned", "choose_launch", "parse_gpu"]


@dataclass(frozen=True)
class GpuVariant:
    """A GPU task definition the deploy planned: a ``gpu=`` function's image on its capacity provider."""

    gpu: str                # the GPU type, e.g. "A10G"
    count: int
    image: str              # the image's spec hash
    task_definition: str
    capacity_provider: str
    cluster: str            # the app's ECS cluster, which the GPU capacity joins

    @staticmethod
    def from_output(raw: Mapping[str, Any]) -> GpuVariant:
        return GpuVariant(str(raw["gpu"]), int(raw["count"]), str(raw["image"]), str(raw["task_definition"]),
                          str(raw["capacity_provider"]), str(raw["cluster"]))

    @property
    def label(self) -> str:
        return f"{self.gpu}:{self.count} (image im-{self.image[:24]})"


@dataclass(frozen=True)
class Planned:
    """The task definitions a deploy planned for sandboxes."""

    cluster: str
    default_task_definition: str
    images: Mapping[str, str] = field(default_factory=dict)  # image spec hash -> Fargate task definition
    gpu: tuple[GpuVariant, ...] = ()


@dataclass(frozen=True)
class Launch:
    """What RunTask gets: a cluster, a task definition, and for a GPU sandbox its capacity provider."""

    cluster: str
    task_definition: str
    gpu: GpuVariant | None = None


def parse_gpu(gpu: str) -> tuple[str, int]:
    """``"A10G"`` -> ("A10G", 1); ``"a10g:2"`` -> ("A10G", 2); a bad count names the value."""
    name, _, count = gpu.partition(":")
    if not name or (count and not count.isdigit()) or count == "0":
        raise InvalidError(f"Sandbox gpu={gpu!r} must be a GPU type with an optional count, e.g. 'A10G' or 'A10G:2'.")
    return name.upper(), int(count or 1)


def choose_launch(planned: Planned, image_key: str | None, gpu: str | None, *, block_network: bool,
                  ports: Sequence[int]) -> Launch:
    if gpu:
        return Launch(planned.cluster, "", _gpu_variant(planned, image_key, gpu, block_network, ports))
    if image_key is None:
        return Launch(planned.cluster, planned.default_task_definition)
    task_definition = planned.images.get(image_key)
    if task_definition is None:
        raise InvalidError(
            f"Sandbox image im-{image_key[:24]} was not built by this app's deploy ({len(planned.images)} image(s) "
            "planned): `toolkit deploy` with TOOLKIT_SANDBOXES=true builds, each with toolkit's runtime (which "
            "carries the sandbox agent), the images of the app's functions (@app.function(image=...)), the app's "
            "App(image=...), and every toolkit.Image bound to a module-level name of the app's modules. An image "
            "made inside a function at run time is none of those: define it at module level of the app's file "
            "(`sandbox_image = toolkit.Image.debian_slim().pip_install(...)`) and deploy again, or leave image= "
            "unset to run the app's image.")
    return Launch(planned.cluster, task_definition)


def _gpu_variant(planned: Planned, image_key: str | None, gpu: str, block_network: bool,
                 ports: Sequence[int]) -> GpuVariant:
    if block_network or ports:
        option = "block_network=True" if block_network else f"ports {list(ports)}"
        raise NotSupportedError(refusal(
            f"Sandbox.create(gpu={gpu!r}) with {option}", "a GPU sandbox runs in bridge mode on the GPU instances, "
            "whose network is the instance's: no security group of its own and no public IP",
            "drop gpu= for a network-isolated or tunnelled sandbox, or run the GPU work in a gpu= function"))
    name, count = parse_gpu(gpu)
    if not planned.gpu:
        raise InvalidError(f"Sandbox gpu={gpu!r}: this deploy planned no GPU capacity. A sandbox with gpu= runs on "
                           "the capacity of the app's gpu= functions: deploy a function with "
                           f"@app.function(gpu={gpu!r}) in this app.")
    matches = [v for v in planned.gpu if v.gpu == name and v.count == count]
    if image_key is not None:
        matches = [v for v in matches if v.image == image_key]
    if not matches:
        wanted = f"{name}:{count}" + ("" if image_key is None else f" with image im-{image_key[:24]}")
        raise InvalidError(f"Sandbox gpu={gpu!r}: this deploy planned no GPU sandbox for {wanted}; planned: "
                           f"{', '.join(v.label for v in planned.gpu)}. Ask for one of those, or deploy a "
                           f"@app.function(gpu={gpu!r}) with that image.")
    return matches[0]
