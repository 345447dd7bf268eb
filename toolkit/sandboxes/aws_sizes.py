"""A sandbox's ``cpu=``/``memory=`` as a task size Fargate runs.

RunTask's task-level ``cpu``/``memory`` overrides must be one of Fargate's fixed combinations (ECS
developer guide, "Task CPU and memory"): ``cpu=0.5, memory=256`` sent as is is refused ("No Fargate
configuration exists for given values").  A sandbox asks for at least that much, so it gets the
smallest Fargate size holding both, as a deployed ECS function does (`infra.sizing.fargate_size`;
both read the one table, `runtime.fargate`, since function images carry no ``infra``).
"""

from __future__ import annotations

import math

from runtime.fargate import FARGATE_SIZES
from toolkit.exception import InvalidError

__all__ = ["FARGATE_SIZES", "fargate_task_size"]

# The sandbox task definition's own size (infra/components/sandboxes.py): what an unset value keeps.
DEFAULT_CPU_UNITS, DEFAULT_MEMORY_MIB = 1024, 2048


def fargate_task_size(cpu: float | None, memory: int | None) -> tuple[int, int]:
    """The smallest (cpu units, memory MiB) Fargate runs that holds ``cpu`` cores and ``memory`` MiB; an unset
    value counts as the task definition's own."""
    want_cpu = math.ceil(cpu * 1024) if cpu is not None else DEFAULT_CPU_UNITS
    want_memory = int(memory) if memory is not None else DEFAULT_MEMORY_MIB
    for units, memories in FARGATE_SIZES.items():
        fits = [m for m in memories if m >= want_memory]
        if units >= want_cpu and fits:
            return units, fits[0]
    raise InvalidError(f"Sandbox cpu={cpu} memory={memory} is more than Fargate's largest task (16 CPUs, 122880 MiB); "
                       "ask for less, or for gpu= (EC2 capacity) for bigger machines.")
