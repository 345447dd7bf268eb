"""GPU requests ("T4", "a10g", "H100:2", "any") to EC2 instance types.

Pure data: the Pulumi GPU component and the tests read it. Each family lists instance types
by GPU count, smallest first, so a request takes the cheapest type with enough GPUs.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GPU_FAMILIES", "GpuError", "GpuSelection", "select_gpu"]


class GpuError(ValueError):
    """A GPU request that names no known GPU or asks for more than one instance holds."""


# GPU name -> [(gpus per instance, instance type)], ascending by GPU count.
GPU_FAMILIES: dict[str, list[tuple[int, str]]] = {
    "T4": [(1, "g4dn.xlarge"), (4, "g4dn.12xlarge"), (8, "g4dn.metal")],
    "A10G": [(1, "g5.xlarge"), (4, "g5.12xlarge"), (8, "g5.48xlarge")],
    "L4": [(1, "g6.xlarge"), (4, "g6.12xlarge"), (8, "g6.48xlarge")],
    "L40S": [(1, "g6e.xlarge"), (4, "g6e.12xlarge"), (8, "g6e.48xlarge")],
    "A100": [(8, "p4d.24xlarge")],
    "A100-40GB": [(8, "p4d.24xlarge")],
    "A100-80GB": [(8, "p4de.24xlarge")],
    "H100": [(8, "p5.48xlarge")],
}

# "any" means: the cheapest GPUs, several families so spot has more pools to draw from.
_ANY_FAMILIES = ("T4", "A10G", "L4")


@dataclass(frozen=True)
class GpuSelection:
    """What a function's ``gpu=`` resolved to."""

    name: str  # canonical GPU name, or "any"
    count: int  # GPUs per task (the ECS resourceRequirements value)
    instance_types: tuple[str, ...]  # candidates for the mixed instances policy, preferred first


def _parse(spec: str) -> tuple[str, int]:
    name, _, count_text = spec.strip().partition(":")
    try:
        count = int(count_text) if count_text else 1
    except ValueError:
        raise GpuError(f"GPU count in {spec!r} is not a number; write e.g. 'A10G:2'") from None
    if count < 1:
        raise GpuError(f"GPU count in {spec!r} must be at least 1")
    return name.strip().upper(), count


def _types_for(family: str, count: int) -> list[str]:
    return [itype for gpus, itype in GPU_FAMILIES[family] if gpus >= count][:1]


def select_gpu(spec: str) -> GpuSelection:
    """Resolve ``spec`` to instance types; raise :class:`GpuError` naming the fix."""
    name, count = _parse(spec)
    families = _ANY_FAMILIES if name == "ANY" else (name,)
    if name != "ANY" and name not in GPU_FAMILIES:
        known = ", ".join(sorted(GPU_FAMILIES))
        raise GpuError(f"unknown GPU {spec!r}; use one of {known} or 'any' (optionally ':<count>')")
    types = [t for family in families for t in _types_for(family, count)]
    if not types:
        raise GpuError(f"no single instance has {count} x {name}; ask for at most 8 GPUs")
    return GpuSelection(name="any" if name == "ANY" else name, count=count, instance_types=tuple(types))
