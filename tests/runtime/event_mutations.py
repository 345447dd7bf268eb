"""Mutating an event sample field by field, for the runtime's fuzz tests (test_hostile_events.py,
test_event_samples_extra.py): every path into the event, and a copy with one field replaced or deleted."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

DELETE = object()  # the value that means "remove the field" in `mutated`


def field_paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path into ``value`` (dict keys and list indexes), parents before children."""
    if prefix:
        yield prefix
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, item in items:
        yield from field_paths(item, (*prefix, key))


def mutated(event: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A copy of ``event`` with the field at ``path`` set to ``value`` (removed for `DELETE`)."""
    event = copy.deepcopy(event)
    target: Any = event
    for key in path[:-1]:
        target = target[key]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return event


__all__ = ["DELETE", "field_paths", "mutated"]
