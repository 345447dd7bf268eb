"""What a deploy shows while it runs: its phases, one line per resource operation, a summary.

Written to stderr, so ``--json`` leaves stdout to the machine-readable result.  Resource
lines come from Pulumi's structured engine events (``on_event``); Pulumi's own text output
(``on_output``) is kept, not shown, and its tail explains a failure.

Each ``step`` opens a phase that the next one (or ``summary``, or ``close``) ends, with how long
it took: on a terminal a spinner runs beside the phase while it lasts and ``✓ <phase> done in
12.3s`` replaces it; elsewhere ``    done in 12.3s`` follows the phase's lines (no escape sequences).
"""

from __future__ import annotations

import atexit
import time
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
    _phase: tuple[str, float] | None = None  # the running phase: its text, its monotonic start
    _status: Any = None  # its spinner, on a terminal

    @property
    def console(self) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=True, highlight=False)
        return self._console

    def step(self, text: str) -> None:
        """A new phase: the one before it ends here."""
        self.close()
        if self.quiet:
            return
        self.console.print(f"[bold cyan]==>[/] {text}")
        self._phase = (text, time.monotonic())
        if self.console.is_terminal:
            self._status = self.console.status(f"{text} ...", spinner="dots")
            self._status.start()
            atexit.register(self.close)  # a failure raised past the deploy: the spinner stops before exit

    def close(self) -> None:
        """End the running phase, saying how long it took (the display is ready for other output)."""
        if self._phase is None:
            return
        text, started = self._phase
        self._phase = None
        seconds = time.monotonic() - started
        self.hand_over()
        if self.console.is_terminal:
            self.console.print(f"[green]✓[/] {text} [dim]done in {seconds:.1f}s[/]", markup=True)
        else:
            self.console.print(f"    done in {seconds:.1f}s")

    def hand_over(self) -> None:
        """Stop the running phase's spinner, keeping the phase open: what runs next draws a live display
        of its own (an image build's `toolkit.progress.Display`), and a terminal holds one at a time."""
        if self._status is not None:
            self._status.stop()
            self._status = None
            atexit.unregister(self.close)

    def display(self) -> Any:
        """A `toolkit.progress.Display` for long work inside a phase (image builds): live on a terminal,
        plain lines elsewhere, nothing when quiet; on stderr, like the phases."""
        from toolkit.progress import Display

        self.hand_over()
        return Display.choose(quiet=self.quiet, stream=self.console.file, prefix="    ")

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

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
        """The changes the last phase made, as a line of their own (not a phase: nothing runs after it)."""
        self.close()
        changed = {op: n for op, n in self.changes.items() if op != "same" and n}
        same = self.changes.get("same", 0)
        text = ", ".join(f"{n} {_DONE.get(op, op)}" for op, n in sorted(changed.items())) or "no changes"
        if not self.quiet:
            self.console.print(f"[bold cyan]==>[/] {what}: {text}" + (f" ({same} unchanged)" if same else ""))

    def table(self, title: str, columns: tuple[str, ...], rows: list[tuple[str, ...]], *, err: bool = False) -> None:
        """A result (not progress): printed on stdout, or stderr with ``err`` (stdout stays the
        command's machine-readable answer)."""
        self.close()
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title, title_justify="left")
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        Console(highlight=False, stderr=err).print(table)
