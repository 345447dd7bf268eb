"""Which running ``toolkit serve`` holds which endpoint labels: one JSON file under the toolkit home.

``$TOOLKIT_HOME/serve/registry.json`` lists the live serve processes (pid and process start
time, so a reused pid is not mistaken for a serve), their port and origin, and the labels
(the endpoints' host names) each one holds.  A label has one holder at a time: the serve
that registered it last, since "the latest iteration of an ephemeral endpoint serves".

Every change happens under an exclusive ``flock`` on ``registry.lock`` and replaces the file
atomically, so readers that do not lock (the 0.25 s poll of each serve) always see a whole
document.  Nothing else signals between serves: no pids are ever signalled, so a stale or
reused pid can never be hurt.  Entries of dead processes are dropped on the next change.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from toolkit import config
from toolkit.processes import process_start, stat_fields

VERSION = 1


@dataclass(frozen=True)
class ProcessId:
    """A process, told apart from a later one that reuses its pid by its start time."""

    pid: int
    start: str | None  # None where the start time cannot be read: then the pid alone decides

    @staticmethod
    def current() -> ProcessId:
        return ProcessId(os.getpid(), process_start(os.getpid()))

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # another user's process: it exists
            pass
        fields = stat_fields(self.pid)  # read once: the state and the start time
        if fields is not None and fields[0] == b"Z":  # exited, not yet reaped
            return False
        return self.start is None or process_start(self.pid, fields) == self.start


@dataclass(frozen=True)
class Holder:
    """A serve as another one refers to it: who it is and where it serves."""

    process: ProcessId
    origin: str  # http://localhost:PORT

    def to_json(self) -> dict[str, Any]:
        return {"pid": self.process.pid, "start": self.process.start, "origin": self.origin}

    @staticmethod
    def from_json(data: dict[str, Any]) -> Holder:
        return Holder(ProcessId(int(data["pid"]), data.get("start")), str(data["origin"]))


@dataclass
class ServeRecord:
    """One running ``toolkit serve``."""

    process: ProcessId
    host: str
    port: int
    origin: str
    app: str
    started: float  # wall clock, for people reading the file; ``seq`` orders serves
    seq: int = 0  # registration order: a larger one is a newer serve
    labels: list[str] = field(default_factory=list)  # the labels it holds now
    taken: dict[str, Holder] = field(default_factory=dict)  # its labels a newer serve took, and by whom
    handover_to: Holder | None = None  # a newer serve on its port asked it to stop
    # what it serves, for ``Function.from_name`` in other processes (`toolkit.lookup`)
    source: str = ""  # an absolute app.py[::app] path, or a module name
    is_module: bool = False
    cwd: str = ""  # where the serve runs: a module target is imported from there

    @property
    def holder(self) -> Holder:
        return Holder(self.process, self.origin)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(pid=self.process.pid, start=self.process.start, labels=sorted(self.labels),
                    taken={k: v.to_json() for k, v in self.taken.items()},
                    handover_to=self.handover_to.to_json() if self.handover_to else None)
        del data["process"]
        return data

    @staticmethod
    def from_json(data: dict[str, Any]) -> ServeRecord:
        handover = data.get("handover_to")
        return ServeRecord(
            ProcessId(int(data["pid"]), data.get("start")), str(data["host"]), int(data["port"]),
            str(data["origin"]), str(data["app"]), float(data["started"]), int(data["seq"]),
            [str(label) for label in data["labels"]],
            {k: Holder.from_json(v) for k, v in data.get("taken", {}).items()},
            Holder.from_json(handover) if handover else None,
            str(data.get("source", "")), bool(data.get("is_module", False)), str(data.get("cwd", "")),
        )


def absolute_target(target: str, is_module: bool) -> str:
    """``app.py::app`` with the file's absolute path, so other processes find it from any directory."""
    if is_module:
        return target
    path, sep, name = target.partition("::")
    return os.path.abspath(path) + sep + name


@dataclass
class Serves:
    """The registry's content: the serves, in registration order."""

    records: list[ServeRecord] = field(default_factory=list)
    next_seq: int = 1

    def find(self, process: ProcessId) -> ServeRecord | None:
        return next((r for r in self.records if r.process == process), None)

    def holder_of(self, label: str) -> ServeRecord | None:
        return next((r for r in self.records if label in r.labels), None)

    def others(self, process: ProcessId) -> list[ServeRecord]:
        return [r for r in self.records if r.process != process]

    def add(self, record: ServeRecord) -> ServeRecord:
        record.seq, self.next_seq = self.next_seq, self.next_seq + 1
        self.records.append(record)
        return record

    def drop_dead(self) -> None:
        self.records = [r for r in self.records if r.process.alive()]

    def to_json(self) -> str:
        return json.dumps({"version": VERSION, "next_seq": self.next_seq,
                           "serves": [r.to_json() for r in self.records]}, indent=1)

    @staticmethod
    def from_json(text: str) -> Serves:
        data = json.loads(text)
        if data.get("version") != VERSION:
            return Serves()
        return Serves([ServeRecord.from_json(r) for r in data["serves"]], int(data["next_seq"]))


class ServeRegistry:
    """The registry file.  `edit` for changes (locked), `read_if_changed` for the cheap poll."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or config.home() / "serve"
        self.path = self.directory / "registry.json"
        self._seen: tuple[int, int, int] | None = None

    @contextlib.contextmanager
    def edit(self) -> Iterator[Serves]:
        """The live serves, under the lock; what the block leaves in them is written back."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / "registry.lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, even if this process dies
            serves = self._load()
            serves.drop_dead()
            yield serves
            self._save(serves)

    def read(self) -> Serves:
        return self._load()

    def read_if_changed(self) -> Serves | None:
        """The registry if it changed since the last call (one ``stat`` when it did not)."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        signature = (st.st_ino, st.st_mtime_ns, st.st_size)
        if signature == self._seen:
            return None
        self._seen = signature
        return self._load()

    def _load(self) -> Serves:
        try:
            return Serves.from_json(self.path.read_text())
        except FileNotFoundError:
            return Serves()
        except (ValueError, KeyError, TypeError):  # a damaged file only coordinates serves: start it afresh
            return Serves()

    def _save(self, serves: Serves) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".registry-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as out:
                out.write(serves.to_json())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


__all__ = ["Holder", "ProcessId", "ServeRegistry", "ServeRecord", "Serves", "absolute_target", "process_start"]
