"""The local sandbox registry: one directory per sandbox under ``$TOOLKIT_HOME/sandboxes``.

    <id>/record.json   who it is: app, name, tags, engine, container, ports, limits (the creator writes it;
                       ``set_tags`` rewrites it by rename, so a reader never sees half a file)
    <id>/spec.json     what the supervisor starts (`engine.RunSpec` and the deadlines)
    <id>/end.json      how it ended: returncode and reason (only the supervisor writes it)
    <id>/terminate     a marker: terminate() asked for the end (the supervisor reports "terminated")
    <id>/stdout.log    the main command's output, saved before the container is removed
    <id>/stderr.log
    <id>/activity      touched by exec and stdin writes: ``idle_timeout`` counts from its mtime
    <id>/execs/<pid>   one per running exec, named by its engine client's pid

Any process (a second script, a function, the CLI) reads the same files, which is what makes
``from_id``, ``from_name`` and ``list`` work across processes.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from toolkit import config

EndReason = Literal["exited", "terminated", "timeout", "idle_timeout", "creator_exited", "failed_to_start"]


def root() -> Path:
    return config.home() / "sandboxes"


def directory(sandbox_id: str) -> Path:
    return root() / sandbox_id


@dataclass(frozen=True)
class Record:
    sandbox_id: str
    app: str
    name: str | None
    engine: str
    container: str
    image: str
    command: tuple[str, ...]
    created_at: float
    timeout: float
    idle_timeout: float | None
    ports: Mapping[int, int] = field(default_factory=dict)  # container port -> 127.0.0.1 port
    tags: Mapping[str, str] = field(default_factory=dict)
    creator_pid: int = 0
    supervisor_pid: int = 0  # 0 until the supervisor has started the container

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ports"] = {str(k): v for k, v in self.ports.items()}
        return data

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Record:
        values = dict(data)
        values["command"] = tuple(values["command"])
        values["ports"] = {int(k): int(v) for k, v in values.get("ports", {}).items()}
        return Record(**values)

    def with_tags(self, tags: Mapping[str, str]) -> Record:
        return replace(self, tags=dict(tags))


@dataclass(frozen=True)
class End:
    returncode: int
    reason: EndReason
    ended_at: float
    detail: str = ""


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write by rename: a reader in another process sees the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


def save(record: Record) -> None:
    write_json(directory(record.sandbox_id) / "record.json", record.to_json())


def load(sandbox_id: str) -> Record | None:
    try:
        return Record.from_json(json.loads((directory(sandbox_id) / "record.json").read_text()))
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None


def load_end(sandbox_id: str) -> End | None:
    try:
        return End(**json.loads((directory(sandbox_id) / "end.json").read_text()))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def records() -> Iterator[Record]:
    """Every record on this machine, newest first."""
    found = [r for p in root().glob("sb-*") if (r := load(p.name)) is not None] if root().is_dir() else []
    yield from sorted(found, key=lambda r: r.created_at, reverse=True)


def touch_activity(sandbox_id: str) -> None:
    path = directory(sandbox_id) / "activity"
    try:
        os.utime(path)
    except FileNotFoundError:
        path.touch()


def exec_marker(sandbox_id: str, pid: int) -> Path:
    return directory(sandbox_id) / "execs" / str(pid)


def mark_exec(sandbox_id: str, pid: int) -> Path:
    marker = exec_marker(sandbox_id, pid)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(str(time.time()))
    return marker


def alive(pid: int) -> bool:
    """A running process (a zombie is not: it only waits for its parent to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def orphans() -> Iterator[Record]:
    """Records of sandboxes that never got an end although their supervisor is gone (it was killed):
    their container may still run, with no one to end it."""
    for record in records():
        if record.supervisor_pid and load_end(record.sandbox_id) is None and not alive(record.supervisor_pid):
            yield record


def write_end(sandbox_id: str, end: End) -> None:
    write_json(directory(sandbox_id) / "end.json", asdict(end))


def reap_orphans() -> None:
    """Remove the containers of `orphans` and record why (checked at every create and list, and by a
    handle that finds its supervisor gone, so even that leak does not outlive the next use)."""
    from toolkit.sandboxes import engine

    for record in orphans():
        engine.remove(record.engine, record.container)
        write_end(record.sandbox_id, End(137, "terminated", time.time(),
                                         "its supervisor was killed; the container was removed"))
