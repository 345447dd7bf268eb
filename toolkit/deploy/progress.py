"""What a deploy shows while it runs: build steps, one line per resource operation, a summary.

Written to stderr, so ``--json`` leaves stdout to the machine-readable result.  Resource
lines come from Pulumi's structured engine events (``on_event``); Pulumi's own text output
(``on_output``) is kept, not shown, and its tail explains a failure.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Progress"]

_SHOWN_OPS = {"create": ("+", "green"), "update": ("~", "yellow"), "delete": ("-", "red"),
              "replace": ("+-", "magenta"), "create-replacement": ("+-", "magenta"),
              "delete-replaced": ("-", "red")}
_DONE = {"create": "created", "update": "updated", "delete": "deleted", "replace": "replaced",
         "create-replacement": "replaced", "delete-replaced": "deleted"}


@dataclass
class Progress:
    quiet: bool = False
    changes: dict[str, int] = field(default_factory=dict)
    output_tail: deque[str] = field(default_factory=lambda: deque(maxlen=40))
    _console: Any = None

    @property
    def console(self) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=True, highlight=False)
        return self._console

    def step(self, text: str) -> None:
        if not self.quiet:
            self.console.print(f"[bold cyan]==>[/] {text}")

    def detail(self, text: str) -> None:
        if not self.quiet:
            self.console.print(f"    {text}", markup=False)

    def on_output(self, line: str) -> None:
        self.output_tail.append(line)

    def on_event(self, event: Any) -> None:
        """A ``pulumi.automation.events.EngineEvent``."""
        if event.resource_pre_event is not None:
            self._resource(event.resource_pre_event.metadata, done=False)
        elif event.res_outputs_event is not None:
            self._resource(event.res_outputs_event.metadata, done=True)
        elif event.res_op_failed_event is not None:
            self._failed(event.res_op_failed_event.metadata)
        elif event.diagnostic_event is not None and event.diagnostic_event.severity == "error":
            self.output_tail.append("error: " + event.diagnostic_event.message.strip())
        elif event.summary_event is not None:
            self.changes = {str(k): int(v) for k, v in (event.summary_event.resource_changes or {}).items()}

    def _resource(self, metadata: Any, *, done: bool) -> None:
        op = getattr(metadata.op, "value", str(metadata.op))
        if op not in _SHOWN_OPS or self.quiet or metadata.type.startswith("pulumi:"):
            return
        symbol, colour = _SHOWN_OPS[op]
        name = metadata.urn.rsplit("::", 1)[-1]
        verb = _DONE[op] if done else op + "..."
        self.console.print(f"  [{colour}]{symbol}[/] {metadata.type} [bold]{name}[/] [dim]{verb}[/]")

    def _failed(self, metadata: Any) -> None:
        if not self.quiet:
            self.console.print(f"  [red]x[/] {metadata.type} {metadata.urn.rsplit('::', 1)[-1]} failed")

    def summary(self, what: str) -> None:
        changed = {op: n for op, n in self.changes.items() if op != "same" and n}
        same = self.changes.get("same", 0)
        text = ", ".join(f"{n} {_DONE.get(op, op)}" for op, n in sorted(changed.items())) or "no changes"
        self.step(f"{what}: {text}" + (f" ({same} unchanged)" if same else ""))

    def table(self, title: str, columns: tuple[str, ...], rows: list[tuple[str, ...]], *, err: bool = False) -> None:
        """A result (not progress): printed on stdout, or stderr with ``err`` (stdout stays the
        command's machine-readable answer)."""
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title, title_justify="left")
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        Console(highlight=False, stderr=err).print(table)
