"""The records ``Function`` and ``FunctionCall`` members return, under the platform's names and fields
(``toolkit.types`` re-exports them, where the platform keeps them).

Locally the numbers come from this process's worker pools (`toolkit.local.pool`); fields the
platform fills from its control plane that toolkit has no source for are 0, None or empty, and
the docstring of each record says which.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class FunctionCurrentStats:
    """Right now, over this process's pools of the function: ``backlog`` inputs queued,
    ``num_total_runners`` workers (starting or ready), ``num_running_inputs`` inputs held by them,
    ``input_headroom`` free input slots on ready workers.  ``num_idle_runners`` is toolkit's: ready
    workers with nothing to run (kept by ``min_containers`` or waiting out ``scaledown_window``)."""

    backlog: int
    num_total_runners: int
    num_running_inputs: int
    input_headroom: int
    num_idle_runners: int = 0


@dataclass(frozen=True)
class StatsPercentile:
    percentile: float
    value: float


@dataclass(frozen=True)
class StatsPercentileDistribution:
    unit: str
    percentiles: list[StatsPercentile]


@dataclass(frozen=True)
class FunctionStats:
    """Counts over ``[since, until)`` from this process's pools of the function.  Input run times are in
    ``input_percentile_stats["execution_time"]`` (seconds); ``container_percentile_stats`` stays empty
    (no per-container timings), ``container_creating_at_end_count`` counts workers still starting now."""

    since: datetime
    until: datetime
    input_success_count: int
    input_failure_count: int
    input_timeout_count: int
    input_running_at_end_count: int
    input_percentile_stats: dict[str, StatsPercentileDistribution]
    container_started_count: int
    container_error_count: int
    container_creating_at_end_count: int
    container_percentile_stats: dict[str, StatsPercentileDistribution]
    container_total_count: int
    variant_count: int
    all_variants: bool
    input_cancelled_count: int = 0  # toolkit's: inputs stopped by FunctionCall.cancel()
    input_throttled_count: int = 0  # toolkit's: on AWS, Lambda's Throttles (refused at the concurrency limit)


@dataclass(frozen=True)
class FunctionAutoscalerSettings:
    min_containers: int | None
    max_containers: int | None
    scaledown_window: int | None
    buffer_containers: int | None


@dataclass(frozen=True)
class FunctionInfo:
    """What the function asks for, from its decorator (the platform's field names; ``backend`` and
    ``max_inputs`` are toolkit's).  Memory and disk are MiB, as on the platform."""

    cpu: float | None
    memory_mib: int | None
    gpus: list[tuple[str, int]]
    ephemeral_disk_mib: int | None
    timeout: int
    max_retries: int | None
    regions: list[str] | None
    schedule: str | None
    single_use_containers: bool
    secrets: list[str]
    volumes: dict[str, str]  # mount path -> volume name
    method_names: list[str] | None
    web_url: str | None
    backend: str
    max_inputs: int


class InputStatus(enum.IntEnum):
    """Where an input of a call stands (the platform's values)."""

    PENDING = 0  # queued or running
    SUCCESS = 1
    FAILURE = 2
    INIT_FAILURE = 3  # its worker could not import the function
    TERMINATED = 4  # cancelled (FunctionCall.cancel), or lost with the process that owned it
    TIMEOUT = 5


@dataclass
class InputInfo:
    """One input of a call, and the calls spawned while it ran (``FunctionCall.get_call_graph``).
    ``task_id`` is "" locally (no worker is recorded per input); ``module_name`` is the app's name (the
    store keeps no module)."""

    input_id: str
    function_call_id: str
    task_id: str
    status: InputStatus
    function_name: str
    module_name: str
    children: list[InputInfo] = field(default_factory=list)
