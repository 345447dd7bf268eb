"""ALB routing for ECS endpoints: stable listener-rule priorities and listener ports.

An ALB refuses two rules of one listener with the same priority (``PriorityInUse``), and
Pulumi creates a changed rule before it deletes the old one. Priorities taken from list
positions therefore shift whenever an endpoint is added or removed, and the redeploy fails.
Here each endpoint's slot comes from a hash of its host label, so it does not move when
other endpoints come and go; a collision is resolved by probing the next slot, in the
sorted order of the labels, which is deterministic for the same set of endpoints.

Without a base domain there is no host name to route on: each endpoint then gets its own
listener port on the shared ALB (``http://<alb dns>:<port>``), chosen the same way.

Pure: the plan, the components and the tests read it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

__all__ = [
    "ENDPOINT_PORTS",
    "PRIORITY_STRIDE",
    "endpoint_ports",
    "rule_priorities",
]

# ALB listener rule priorities run 1..50000; each endpoint owns a block of PRIORITY_STRIDE.
PRIORITY_STRIDE = 10
_PRIORITY_SLOTS = range(1, 50000 // PRIORITY_STRIDE)
# Listener ports of endpoints without a domain: one security group rule opens the range.
ENDPOINT_PORTS = range(8000, 9000)


def _hash(label: str) -> int:
    return int.from_bytes(hashlib.sha256(label.encode()).digest()[:8], "big")


def _assign(labels: Iterable[str], slots: range) -> dict[str, int]:
    """Each label to a slot: its hash, or the next free one (labels taken in sorted order)."""
    taken: dict[int, str] = {}
    chosen: dict[str, int] = {}
    unique = sorted(set(labels))
    if len(unique) > len(slots):
        raise ValueError(f"{len(unique)} endpoints need more than the {len(slots)} slots available")
    for label in unique:
        index = _hash(label) % len(slots)
        while slots[index] in taken:
            index = (index + 1) % len(slots)
        taken[slots[index]] = label
        chosen[label] = slots[index]
    return chosen


def rule_priorities(labels: Iterable[str]) -> dict[str, int]:
    """Host label -> the priority of its first listener rule (a block of ``PRIORITY_STRIDE``)."""
    return {label: slot * PRIORITY_STRIDE for label, slot in _assign(labels, _PRIORITY_SLOTS).items()}


def endpoint_ports(labels: Iterable[str]) -> dict[str, int]:
    """Host label -> its own ALB listener port in ``ENDPOINT_PORTS``."""
    return _assign(labels, ENDPOINT_PORTS)
