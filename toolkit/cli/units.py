"""Option values with units: sizes (``64KiB``), so a limit reads as people write it."""

from __future__ import annotations

import re
from typing import Any

import click

KiB, MiB, GiB = 1024, 1024**2, 1024**3
UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": KiB, "mib": MiB, "gib": GiB}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


def format_size(size: int) -> str:
    """``65536`` -> ``64 KiB``; a size that is not a whole number of a binary unit stays in bytes."""
    for unit, name in ((GiB, "GiB"), (MiB, "MiB"), (KiB, "KiB")):
        if size >= unit and size % unit == 0:
            return f"{size // unit} {name}"
    return f"{size} B"


class ByteSize(click.ParamType):
    """A size in bytes: ``1024``, ``1KiB``, ``16 MiB``, ``2MB`` (KiB/MiB/GiB are powers of 1024, KB/MB/GB of 1000),
    within ``[low, high]``."""

    name = "size"

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            size = value
        else:
            match = _SIZE.match(str(value))
            unit = UNITS.get(match.group(2).lower()) if match else None
            if match is None or unit is None:
                self.fail(f"{value!r} is not a size: write bytes (65536) or a number with a unit "
                          "(B, KiB, MiB, GiB, KB, MB, GB), e.g. 64KiB.", param, ctx)
            size = int(float(match.group(1)) * unit)
        if not self.low <= size <= self.high:
            self.fail(f"{value} is not in the range {format_size(self.low)} to {format_size(self.high)}.", param, ctx)
        return size
