"""Pulumi components, one per concern. Each takes a typed args dataclass, registers under
``toolkit:<module>:<Type>``, parents its children and names them ``f"{name}-..."``."""

from __future__ import annotations

import json
from typing import Any

import pulumi

__all__ = ["child", "to_json"]


def child(parent: pulumi.Resource, **kwargs: Any) -> pulumi.ResourceOptions:
    """Options for a child resource: parented (so it inherits the component's provider)."""
    return pulumi.ResourceOptions(parent=parent, **kwargs)


def to_json(value: Any) -> pulumi.Output[str]:
    """JSON of a structure that may hold Outputs (policy documents with ARNs)."""
    return pulumi.Output.from_input(value).apply(lambda v: json.dumps(v, sort_keys=True))
