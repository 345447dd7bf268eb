"""Long work as it happens: image builds, local environments, deploys.

A command opens one `Display` for its run (`Display.choose`), picked from where its output goes
and its flags (`Mode`).  Work that takes long runs as a task (`Display.task`): a title, optional
numbered steps (``[2/7] RUN pip install ...``, parsed from the tool's output by a `StepParser`
or set with `Task.step`), the tool's own output lines, and an ending, ``done in 12.4s`` or
``failed after 3.1s``.  A `Display` is also a plain ``Callable[[str], None]`` log: a line given
to it belongs to the task running, or stands alone when none is.

Written to stderr unless told otherwise: stdout stays the command's answer (``--json`` results).
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

__all__ = ["Display", "Mode", "Step", "StepParser", "Task"]

TAIL_LINES = 4  # a live task shows this many of the tool's last lines under its status


class Mode(enum.Enum):
    """How a `Display` shows tasks."""

    LIVE = "a terminal: a status line per task (spinner, step counter, elapsed time, the tool's last lines), " \
           "replaced when the task ends by one line saying how long it took"
    PLAIN = "not a terminal (CI, a pipe, a file): a line per task start, step and end, the tool's output " \
            "indented; no escape sequences"
    QUIET = "--quiet: nothing (a failure still raises, and the command reports it)"
    JSON = "--json-logs: one JSON object per line and event (task started, step, output, done or failed)"


@dataclass(frozen=True)
class Step:
    number: int
    total: int | None
    text: str

    def label(self) -> str:
        return f"[{self.number}/{self.total}] {self.text}" if self.total else f"[{self.number}] {self.text}"


StepParser = Callable[[str], "Step | None"]  # a tool's output line -> the step it announces, if it does


class Task:
    """One piece of long work on a `Display`."""

    def __init__(self, display: Display, title: str, total: int | None, steps: StepParser | None) -> None:
        self.display, self.title, self.total, self.parse = display, title, total, steps
        self.started = time.monotonic()
        self.current: Step | None = None
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self._spinner: Any = None  # one per task: a new one each refresh would never turn

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def step(self, text: str, number: int | None = None) -> None:
        """The next step (or step ``number``) of ``total`` begins."""
        number = number if number is not None else (self.current.number + 1 if self.current else 1)
        self.current = Step(number, self.total, text)
        self.tail.clear()
        self.display.emit(self, "step", self.current.label(), step=number, total=self.total, text=text)

    def output(self, line: str) -> None:
        """A line the tool printed: a step when the parser says so, else output."""
        line = line.rstrip("\r\n")
        found = self.parse(line) if self.parse else None
        if found is not None:
            self.total = found.total or self.total
            self.step(found.text, found.number)
            return
        self.tail.append(line)
        self.display.emit(self, "output", line, line=line)

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.spinner import Spinner
        from rich.text import Text

        status = Text.assemble((self.title, "bold"), f"  {self.current.label() if self.current else ''}",
                               (f"  {self.elapsed:.0f}s", "dim"), no_wrap=True, overflow="ellipsis")
        if self._spinner is None:
            self._spinner = Spinner("dots", status)
        self._spinner.update(text=status)
        return Group(self._spinner, *(Text("    " + line, style="dim", no_wrap=True, overflow="ellipsis")
                                      for line in self.tail))


class Display:
    """Where tasks are shown, in one `Mode`; see the module's docstring."""

    def __init__(self, mode: Mode, stream: TextIO | None = None, prefix: str = "") -> None:
        self.mode = mode
        self.stream = stream if stream is not None else sys.stderr
        self.prefix = prefix  # leads each note (``toolkit: ``), where the command's output mixes with the app's
        self.tasks: list[Task] = []  # running, outermost first
        self._console: Any = None
        self._live: Any = None

    @classmethod
    def choose(cls, *, quiet: bool = False, json_logs: bool = False, stream: TextIO | None = None,
               prefix: str = "") -> Display:
        """QUIET, JSON, LIVE on a terminal (not ``TERM=dumb``), else PLAIN."""
        stream = stream if stream is not None else sys.stderr
        if quiet:
            mode = Mode.QUIET
        elif json_logs:
            mode = Mode.JSON
        else:
            mode = Mode.LIVE if stream.isatty() and os.environ.get("TERM") != "dumb" else Mode.PLAIN
        return cls(mode, stream, prefix)

    # -- the interface ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def task(self, title: str, *, total: int | None = None, steps: StepParser | None = None) -> Iterator[Task]:
        """Run a task: shown while the block runs, ended by ``done in Xs`` (or ``failed after Xs``, re-raised)."""
        task = Task(self, title, total, steps)
        self.tasks.append(task)
        self.emit(task, "started", title)
        try:
            yield task
        except BaseException as exc:
            self._end(task, "failed", f"{type(exc).__name__}: {exc}")
            raise
        self._end(task, "done", None)

    def __call__(self, line: str) -> None:
        """A log line: the running task's output, or a line of its own."""
        if self.tasks:
            self.tasks[-1].output(line)
        else:
            self.note(line)

    def note(self, text: str) -> None:
        """One line outside any task (``image x: up to date``)."""
        if self.mode is Mode.JSON:
            self._json({"event": "note", "text": text})
        elif self.mode is not Mode.QUIET:
            self.console.print(self.prefix + text, markup=False, highlight=False)

    # -- showing -----------------------------------------------------------------------------------

    @property
    def console(self) -> Any:
        if self._console is None:
            from rich.console import Console

            live = self.mode is Mode.LIVE
            self._console = Console(file=self.stream, force_terminal=live, no_color=not live, highlight=False,
                                    soft_wrap=not live, emoji=False)
        return self._console

    def emit(self, task: Task, event: str, shown: str, **fields: Any) -> None:
        """``event`` of ``task`` happened: ``shown`` is its line in PLAIN mode, ``fields`` its JSON."""
        if self.mode is Mode.JSON:
            self._json({"event": event if event in ("step", "output") else "task", "task": task.title,
                        **({"state": event} if event not in ("step", "output") else {}), **fields})
        elif self.mode is Mode.PLAIN:
            prefix = {"started": "", "step": "  ", "output": "    "}[event]
            self.console.print(f"{prefix}{shown}{' ...' if event == 'started' else ''}", markup=False)
        elif self.mode is Mode.LIVE:
            self._refresh(now=event != "output")  # a step shows at once; output lines at the refresh rate

    def _end(self, task: Task, state: str, error: str | None) -> None:
        self.tasks.remove(task)
        seconds = task.elapsed
        if self.mode is Mode.JSON:
            self._json({"event": "task", "task": task.title, "state": state, "seconds": round(seconds, 3),
                        **({"error": error} if error else {})})
            return
        if self.mode is Mode.QUIET:
            return
        if self.mode is Mode.LIVE:
            self._refresh()
        mark, style = ("✓", "green") if state == "done" else ("✗", "red")
        verb = f"done in {seconds:.1f}s" if state == "done" else f"failed after {seconds:.1f}s"
        if self.mode is Mode.LIVE:
            self.console.print(f"[{style}]{mark}[/] {_escape(task.title)} [dim]{verb}[/]")
        else:
            self.console.print(f"{task.title}: {verb}", markup=False)

    def _refresh(self, now: bool = True) -> None:
        """Start, update or stop the live region that shows the running tasks."""
        from rich.console import Group
        from rich.live import Live

        if not self.tasks:
            if self._live is not None:
                self._live.stop()
                self._live = None
            return
        view = Group(*self.tasks)
        if self._live is None:
            self._live = Live(view, console=self.console, transient=True, refresh_per_second=8)
            self._live.start()
        else:
            self._live.update(view, refresh=now)

    def _json(self, data: dict[str, Any]) -> None:
        self.stream.write(json.dumps({"time": round(time.time(), 3), **data}) + "\n")
        self.stream.flush()


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
