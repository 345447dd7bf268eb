"""GPU requests ("T4", "a10g", "H100:2", "any") to EC2 instance types.

Pure data: the Pulumi GPU component and the tests read it. Each family lists instance types
by GPU count, smallest first, so a request takes the cheapest type with enough GPUs.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GPU_FAMILIES", "INSTANCE_SPECS", "GpuError", "GpuSelection", "gpu_task_size", "select_gpu"]


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

# instance type -> (vCPUs, memory GiB), from the EC2 instance type pages: what a GPU task may be
# sized to (a task without a memory figure would otherwise get a few GiB of a 16-2048 GiB host).
INSTANCE_SPECS: dict[str, tuple[int, int]] = {
    "g4dn.xlarge": (4, 16), "g4dn.12xlarge": (48, 192), "g4dn.metal": (96, 384),
    "g5.xlarge": (4, 16), "g5.12xlarge": (48, 192), "g5.48xlarge": (192, 768),
    "g6.xlarge": (4, 16), "g6.12xlarge": (48, 192), "g6.48xlarge": (192, 768),
    "g6e.xlarge": (4, 32), "g6e.12xlarge": (48, 384), "g6e.48xlarge": (192, 1536),
    "p4d.24xlarge": (96, 1152), "p4de.24xlarge": (96, 1152), "p5.48xlarge": (192, 2048),
}
# Share of an instance's memory offered to tasks: the OS, the ECS agent and the Docker daemon
# keep the rest (ECS registers a little less than the nominal size; 10% stays clear of it).
TASK_MEMORY_SHARE = 0.9

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


def _gpus_on(instance_type: str) -> int:
    return next(g for family in GPU_FAMILIES.values() for g, t in family if t == instance_type)


def gpu_task_size(selection: GpuSelection, memory: int | None = None) -> tuple[int, int]:
    """(cpu units, memory MiB) to reserve for a task holding ``selection.count`` GPUs: its share
    of the smallest candidate instance, so it fits whichever type spot capacity brings.

    The memory is a reservation (the container gets no hard limit, so it may use the whole
    host): the manifest's ``memory`` is honoured up to what the host leaves for tasks; more than
    the instance has at all raises :class:`GpuError`.
    """
    shares = []
    for itype in selection.instance_types:
        vcpus, gib = INSTANCE_SPECS[itype]
        share = selection.count / _gpus_on(itype)
        shares.append((int(vcpus * 1024 * share), int(gib * 1024 * share)))
    cpu_units, nominal = min(s[0] for s in shares), min(s[1] for s in shares)
    if memory is not None and memory > nominal:
        raise GpuError(
            f"memory={memory} MiB is more than {selection.count} x {selection.name} comes with on "
            f"{', '.join(selection.instance_types)} ({nominal} MiB); ask for at most {nominal} MiB "
            "or for more GPUs of that kind (e.g. ':4'), which come on bigger instances"
        )
    available = int(nominal * TASK_MEMORY_SHARE)
    return cpu_units, min(memory or available, available)
