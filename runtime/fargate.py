"""Fargate's task sizes, for the deploy (infra/sizing.py) and the sandbox client in function images
(toolkit/sandboxes/aws_sizes.py), which carry no ``infra``: one table.  Stdlib only.

Front door (``runtime.FRONT_DOORS``): `FARGATE_SIZES`; infra may import it too.
"""

from __future__ import annotations

__all__ = ["FARGATE_SIZES"]


def _gib(low: int, high: int, step: int) -> tuple[int, ...]:
    return tuple(gib * 1024 for gib in range(low, high + 1, step))


# ECS developer guide, "Task CPU and memory": cpu units -> every memory value (MiB) Fargate accepts
# with it.  256 units take only 512, 1024 or 2048: a (min, max, step) range would also yield 1536,
# which RegisterTaskDefinition refuses.
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: _gib(1, 4, 1),
    1024: _gib(2, 8, 1),
    2048: _gib(4, 16, 1),
    4096: _gib(8, 30, 1),
    8192: _gib(16, 60, 4),
    16384: _gib(32, 120, 8),
}
