"""A sandbox's cpu=/memory= become a task size Fargate runs (toolkit/sandboxes/aws_sizes.py).

RunTask refuses task-level overrides outside Fargate's combinations ("No Fargate configuration exists
for given values"): examples/sandbox_code_runner.py asks for cpu=0.5, memory=256, which ECS refused
on every request before sizes were rounded up.  The sandbox client runs in function images (no
``infra``), so it keeps its own table: it must stay equal to the deploy's (infra/sizing.py).
"""

from __future__ import annotations

import pytest

from infra.sizing import FARGATE_SIZES, fargate_size, is_fargate_size
from toolkit.exception import InvalidError
from toolkit.sandboxes import aws_sizes
from toolkit.sandboxes.aws_sizes import fargate_task_size


def test_the_sandbox_table_is_the_deploys() -> None:
    assert aws_sizes.FARGATE_SIZES == FARGATE_SIZES


@pytest.mark.parametrize(("cpu", "memory", "size"), [
    (0.5, 256, (512, 1024)),       # examples/sandbox_code_runner.py: 256 MiB exists for no CPU size
    (0.25, None, (256, 2048)),     # memory unset: the task definition's 2048
    (None, 256, (1024, 2048)),     # cpu unset: the task definition's 1 CPU, whose least memory is 2048
    (4, None, (4096, 8192)),       # 4 CPUs take at least 8 GiB
    (0.5, 1024, (512, 1024)),      # already a Fargate size: unchanged
    (1.5, 3000, (2048, 4096)),
])
def test_sizes_round_up_to_what_fargate_runs(cpu: float | None, memory: int | None, size: tuple[int, int]) -> None:
    assert fargate_task_size(cpu, memory) == size
    assert is_fargate_size(*size)
    assert size == fargate_size(cpu, memory if memory is not None else 2048)  # the deploy's rounding agrees


def test_a_size_past_fargates_largest_names_the_fix() -> None:
    with pytest.raises(InvalidError, match=r"cpu=32 .*gpu="):
        fargate_task_size(32, None)
