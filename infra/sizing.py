"""Compute sizes: manifest ``resources`` to Lambda memory and Fargate CPU/memory pairs.

Lambda has one knob (memory; CPU follows at one vCPU per 1769 MiB), Fargate accepts only
fixed CPU/memory combinations. Both are pure functions so the tests pin them down.
"""

from __future__ import annotations

import math

from runtime.fargate import FARGATE_SIZES

__all__ = [
    "DEFAULT_MEMORY_MIB",
    "FARGATE_SIZES",
    "SizeError",
    "fargate_ephemeral_gib",
    "fargate_size",
    "is_fargate_size",
    "lambda_ephemeral_mib",
    "lambda_memory_mib",
]

DEFAULT_MEMORY_MIB = 1024
_LAMBDA_MIB_PER_VCPU = 1769
_LAMBDA_MEMORY = (128, 10240)

class SizeError(ValueError):
    """A cpu/memory request no Fargate task size can hold."""


def lambda_memory_mib(cpu: float | None, memory: int | None) -> int:
    """Memory for a Lambda function: what was asked, raised to buy the requested CPU."""
    wanted = max(memory or 0, math.ceil((cpu or 0) * _LAMBDA_MIB_PER_VCPU)) or DEFAULT_MEMORY_MIB
    return min(max(wanted, _LAMBDA_MEMORY[0]), _LAMBDA_MEMORY[1])


def lambda_ephemeral_mib(disk: int | None) -> int:
    """/tmp size: Lambda accepts 512-10240 MiB."""
    return min(max(disk or 512, 512), 10240)


def fargate_ephemeral_gib(disk: int | None) -> int | None:
    """Fargate ephemeral storage for ``disk`` MiB: None keeps Fargate's 20 GiB; ECS accepts 21-200 GiB."""
    if not disk:
        return None
    gib = max(21, math.ceil(disk / 1024))  # rounded up: never less than asked
    if gib > 200:
        raise SizeError(f"ephemeral_disk={disk} MiB exceeds Fargate's 200 GiB of task storage; "
                        "ask for at most 204800, or use a Volume for larger data")
    return gib


def is_fargate_size(cpu_units: int, memory_mib: int) -> bool:
    """Whether ECS accepts this (cpu, memory) pair for a Fargate task."""
    return memory_mib in FARGATE_SIZES.get(cpu_units, ())


def fargate_size(cpu: float | None, memory: int | None) -> tuple[int, int]:
    """The smallest valid Fargate (cpu units, memory MiB) holding ``cpu`` cores and ``memory``."""
    want_cpu = math.ceil((cpu or 1.0) * 1024)
    want_mem = memory or 2048
    for units, memories in FARGATE_SIZES.items():
        fits = [m for m in memories if m >= want_mem]
        if units >= want_cpu and fits:
            return units, fits[0]
    raise SizeError(
        f"cpu={cpu} memory={memory} exceeds Fargate's largest task (16 vCPU, 120 GiB); "
        "ask for less, or use gpu= (EC2 capacity) for bigger machines"
    )
