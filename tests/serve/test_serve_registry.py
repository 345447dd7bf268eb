"""The label registry and a serve's tenure in it, in-process against real files and real processes.

Other serves are stood in for by real child processes (``sleep``), so liveness and pid-reuse
checks run for real; the registry lives in the test's own directory.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from toolkit.exception import InvalidError
from toolkit.serve.registry import ProcessId, ServeRecord, ServeRegistry, process_start
from toolkit.serve.server import ServeOptions, gateway_port
from toolkit.serve.takeover import Tenure, port_yields


def routes(app: str, *labels: str, web_server_port: int | None = None) -> Any:
    endpoints = {label: SimpleNamespace(tag=f"fn-{label}", spec=SimpleNamespace(port=web_server_port))
                 for label in labels}
    return SimpleNamespace(endpoints=endpoints, app_name=app)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        proc.kill()
        proc.wait()


def stand_in(processes: list[subprocess.Popen[bytes]]) -> ProcessId:
    """A live process to play another serve."""
    proc = subprocess.Popen(["sleep", "60"])
    processes.append(proc)
    return ProcessId(proc.pid, process_start(proc.pid))


def tenure(registry: ServeRegistry, process: ProcessId, port: int, app: str = "demo") -> Tenure:
    held = Tenure("127.0.0.1", port, f"http://localhost:{port}", app, registry)
    held.record.process = process
    return held


def test_process_identity_survives_pid_reuse_and_death(processes: list[subprocess.Popen[bytes]]) -> None:
    live = stand_in(processes)
    assert live.alive() and live.start is not None
    assert not ProcessId(live.pid, "1").alive()  # same pid, another start time: a reused pid
    processes[0].kill()
    processes[0].wait()
    assert not live.alive()


def test_a_newer_serve_takes_labels_and_the_older_one_sees_where_they_went(
        tmp_path: Path, processes: list[subprocess.Popen[bytes]]) -> None:
    registry = ServeRegistry(tmp_path)
    older = tenure(registry, stand_in(processes), 9001)
    older.register(routes("demo", "a", "b"))
    older.poll(routes("demo", "a", "b"))  # consume the first change

    newer = tenure(ServeRegistry(tmp_path), stand_in(processes), 9002)
    assert newer.register(routes("demo", "a")) == {}
    assert newer.took_over

    news = older.poll(routes("demo", "a", "b"))
    assert news is not None and news.handover is None
    assert list(news.moved) == ["a"] and news.moved["a"].holder.origin == "http://localhost:9002"
    assert older.poll(routes("demo", "a", "b")) is None  # nothing changed since: one stat, no read

    # the older serve reloads: it keeps what is still its own and leaves the newer serve's label alone
    moved = older.register(routes("demo", "a", "b"))
    assert list(moved) == ["a"]
    holders = {label: r.process for r in registry.read().records for label in r.labels}
    assert holders == {"a": newer.process, "b": older.process}

    # once the newer serve is gone, a reload of the older one claims the label back
    processes[1].kill()
    processes[1].wait()
    assert older.register(routes("demo", "a", "b")) == {}
    assert [r.labels for r in registry.read().records] == [["a", "b"]]


def test_same_port_asks_the_older_serve_to_hand_over_only_when_it_serves_all_its_labels(
        tmp_path: Path, processes: list[subprocess.Popen[bytes]]) -> None:
    registry = ServeRegistry(tmp_path)
    older = tenure(registry, stand_in(processes), 9001)
    older.register(routes("demo", "a", "b"))

    with pytest.raises(InvalidError) as refused:
        port_free_after_handover(tenure(registry, stand_in(processes), 9001), routes("demo", "a"))
    message = str(refused.value)
    assert f"pid {older.process.pid}" in message and "also serves b" in message and "--port" in message
    assert [r.labels for r in registry.read().records] == [["a", "b"]]  # a refused serve changed nothing

    assert port_yields(9001, routes("demo", "a", "b", "c"), registry)
    assert not port_yields(9001, routes("demo", "a"), registry)
    newer = tenure(registry, stand_in(processes), 9001)
    port_free_after_handover(newer, routes("demo", "a", "b", "c"))
    news = older.poll(routes("demo", "a", "b"))
    assert news is not None and news.handover is not None and news.handover.process == newer.process


def port_free_after_handover(held: Tenure, table: Any) -> None:
    """Run ``bind`` with a listen that succeeds: the older serve has released the port."""
    import asyncio
    import socket

    sock = asyncio.run(held.bind(table, lambda: socket.socket(), lambda _m: None))
    sock.close()


def test_a_serve_with_no_labels_only_hands_its_port_to_the_same_app(
        tmp_path: Path, processes: list[subprocess.Popen[bytes]]) -> None:
    registry = ServeRegistry(tmp_path)
    tenure(registry, stand_in(processes), 9001, app="other").register(routes("other"))
    assert not port_yields(9001, routes("demo", "a"), registry)
    assert port_yields(9001, routes("other", "a"), registry)


def test_stale_and_reused_pid_entries_are_ignored(tmp_path: Path, processes: list[subprocess.Popen[bytes]]) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    reused = ProcessId(stand_in(processes).pid, "1")  # a live pid whose start time does not match
    registry = ServeRegistry(tmp_path)
    with registry.edit() as serves:  # as a serve killed with SIGKILL leaves them
        for process, labels in ((ProcessId(dead.pid, process_start(dead.pid) or "1"), ["a", "x"]), (reused, ["b", "y"])):
            serves.add(ServeRecord(process, "127.0.0.1", 9001, "http://localhost:9001", "demo", time.time(),
                                   labels=labels))
    assert port_yields(9001, routes("demo", "a", "b"), registry) is False  # no live holder: nothing to take over
    newer = tenure(registry, stand_in(processes), 9001)
    port_free_after_handover(newer, routes("demo", "a", "b"))  # live holders serving x and y would refuse
    assert [(r.process, sorted(r.labels)) for r in registry.read().records] == [(newer.process, ["a", "b"])]


def _claim(directory: str, labels: list[str], ready: Any, at_gate: Any, go: Any, done: Any) -> None:
    ready.wait()
    held = tenure(ServeRegistry(Path(directory)), ProcessId.current(), 9000)
    at_gate.put(os.getpid())
    go.wait()
    held.register(routes("demo", *labels))
    done.wait(30)  # stay alive while the parent reads the registry (a dead holder's record is ignored)


def test_concurrent_registrations_leave_one_holder_per_label(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    ready, go, done, at_gate = context.Event(), context.Event(), context.Event(), context.Queue()
    procs = [context.Process(target=_claim, args=(str(tmp_path), ["a", "b", "c"], ready, at_gate, go, done))
             for _ in range(6)]
    for proc in procs:
        proc.start()
    try:
        ready.set()
        for _ in procs:  # spawned interpreters start slowly: every one holds its tenure before any registers
            at_gate.get(timeout=30)
        go.set()
        deadline = time.monotonic() + 20
        while len(ServeRegistry(tmp_path).read().records) < 6:
            assert time.monotonic() < deadline, "the registrations did not all land"
            time.sleep(0.05)
        records = ServeRegistry(tmp_path).read().records
    finally:
        done.set()
    holders = [r for r in records if r.labels]
    newest = max(records, key=lambda r: r.seq)
    assert [h.process for h in holders] == [newest.process] and sorted(newest.labels) == ["a", "b", "c"]
    assert sorted(r.seq for r in records) == list(range(1, 7))
    assert all(sorted(r.taken) == ["a", "b", "c"] for r in records if r is not newest)
    for proc in procs:
        proc.join(10)
        assert proc.exitcode == 0


def test_a_damaged_registry_file_is_started_afresh(tmp_path: Path, processes: list[subprocess.Popen[bytes]]) -> None:
    (tmp_path / "registry.json").write_text("{not json")
    registry = ServeRegistry(tmp_path)
    tenure(registry, stand_in(processes), 9001).register(routes("demo", "a"))
    assert json.loads((tmp_path / "registry.json").read_text())["serves"][0]["labels"] == ["a"]


def test_default_port_moves_to_the_port_an_older_serve_of_the_app_would_hand_over(
        tmp_path: Path, processes: list[subprocess.Popen[bytes]]) -> None:
    import socket

    with socket.socket() as held:  # the older serve's listening socket
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        registry = ServeRegistry(tmp_path)
        table = routes("demo", "a", web_server_port=port - 1)
        tenure(registry, stand_in(processes), port).register(table)
        options = ServeOptions("app.py", port=port - 1, port_explicit=False)
        assert gateway_port(options, table, lambda p: port_yields(p, table, registry)) == port
        assert gateway_port(options, table) != port  # without the registry the busy port is skipped


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__]))
