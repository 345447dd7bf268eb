"""Compute sizes: manifest ``resources`` to Lambda memory and Fargate CPU/memory pairs.

Lambda has one knob (memory; CPU follows at one vCPU per 1769 MiB), Fargate accepts only
fixed CPU/memory combinations. Both are pure functions so the tests pin them down.
"""

from __future__ import annotations

import math

__all__ = ["DEFAULT_MEMORY_MIB", "fargate_size", "lambda_ephemeral_mib", "lambda_memory_mib"]

DEFAULT_MEMORY_MIB = 1024
_LAMBDA_MIB_PER_VCPU = 1769
_LAMBDA_MEMORY = (128, 10240)

# Fargate: cpu units -> (min memory, max memory, step), MiB.
_FARGATE: list[tuple[int, tuple[int, int, int]]] = [
    (256, (512, 2048, 512)),
    (512, (1024, 4096, 1024)),
    (1024, (2048, 8192, 1024)),
    (2048, (4096, 16384, 1024)),
    (4096, (8192, 30720, 1024)),
    (8192, (16384, 61440, 4096)),
    (16384, (32768, 122880, 8192)),
]


def lambda_memory_mib(cpu: float | None, memory: int | None) -> int:
    """Memory for a Lambda function: what was asked, raised to buy the requested CPU."""
    wanted = max(memory or 0, math.ceil((cpu or 0) * _LAMBDA_MIB_PER_VCPU)) or DEFAULT_MEMORY_MIB
    return min(max(wanted, _LAMBDA_MEMORY[0]), _LAMBDA_MEMORY[1])


def lambda_ephemeral_mib(disk: int | None) -> int:
    """/tmp size: Lambda accepts 512-10240 MiB."""
    return min(max(disk or 512, 512), 10240)


def fargate_size(cpu: float | None, memory: int | None) -> tuple[int, int]:
    """The smallest valid Fargate (cpu units, memory MiB) holding ``cpu`` cores and ``memory``."""
    want_cpu = math.ceil((cpu or 1.0) * 1024)
    want_mem = memory or 2048
    for units, (low, high, step) in _FARGATE:
        if units >= want_cpu and high >= want_mem:
            mem = max(low, low + math.ceil((want_mem - low) / step) * step) if want_mem > low else low
            return units, mem
    raise ValueError(f"cpu={cpu} memory={memory} exceeds Fargate's largest task (16 vCPU, 120 GiB)")
