"""Dict and Queue round trips per second on the embedded store, against baselines in the same run.

    python bench/bench_primitives.py [--n 2000] [--repeat 3]

* Dict: ``d[k] = v`` then ``d[k]`` (one put and one get) vs the same two statements on a raw
  sqlite3 connection in WAL mode (the store's floor: toolkit adds pickling and its own checks).
* Queue, one process: ``q.put(x)`` then ``q.get()`` vs ``multiprocessing.Queue`` doing the same.
* Queue, ping-pong between two processes: one puts, the other blocks in ``get`` and answers on a
  second queue; per round trip that is two puts and two woken blocking gets (what a FIFO wake-up
  costs) vs the same over two ``multiprocessing.Queue`` s.
The best of ``--repeat`` runs is reported, by wall clock and by CPU time (this process and the
processes it started): on a machine shared with other work the wall-clock rate swings with the
load, the CPU-time rate much less, so compare changes by the second.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TOOLKIT_HOME", tempfile.mkdtemp(prefix="toolkit-bench-"))
os.environ.pop("TOOLKIT_STATE_TABLE", None)

import toolkit  # noqa: E402

VALUE = {"id": 7, "payload": "x" * 100}


def _cpu_seconds() -> float:
    """CPU time of this process and of its children that have ended (the ping-pong echo)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def rate(n: int, repeat: int, once: Callable[[int], None]) -> tuple[float, float]:
    """Best round trips per second of ``once(n)``: by wall clock, and by CPU time."""
    best_wall = best_cpu = float("inf")
    for _ in range(repeat):
        start, cpu = time.perf_counter(), _cpu_seconds()
        once(n)
        best_wall = min(best_wall, time.perf_counter() - start)
        best_cpu = min(best_cpu, _cpu_seconds() - cpu)
    return n / best_wall, n / best_cpu


def dict_toolkit(n: int) -> None:
    d = toolkit.Dict.from_name("bench", create_if_missing=True)
    for i in range(n):
        d[i % 100] = VALUE
        assert d[i % 100] == VALUE


def dict_sqlite(n: int) -> None:
    path = os.path.join(os.environ["TOOLKIT_HOME"], "raw.sqlite3")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE IF NOT EXISTS kv (k INTEGER PRIMARY KEY, v BLOB)")
    import pickle

    for i in range(n):
        conn.execute("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", (i % 100, pickle.dumps(VALUE)))
        assert pickle.loads(conn.execute("SELECT v FROM kv WHERE k = ?", (i % 100,)).fetchone()[0]) == VALUE
    conn.close()


def queue_toolkit(n: int) -> None:
    q = toolkit.Queue.from_name("bench", create_if_missing=True)
    for _ in range(n):
        q.put(VALUE)
        assert q.get() == VALUE


def queue_mp(n: int) -> None:
    q: multiprocessing.Queue[object] = multiprocessing.Queue()
    for _ in range(n):
        q.put(VALUE)
        assert q.get() == VALUE


def _toolkit_echo(n: int) -> None:
    requests, replies = toolkit.Queue.from_name("ping"), toolkit.Queue.from_name("pong")
    for _ in range(n):
        replies.put(requests.get(timeout=30))


def _mp_echo(requests: multiprocessing.Queue[object], replies: multiprocessing.Queue[object], n: int) -> None:
    for _ in range(n):
        replies.put(requests.get(timeout=30))


def pingpong_toolkit(n: int) -> None:
    requests = toolkit.Queue.from_name("ping", create_if_missing=True)
    replies = toolkit.Queue.from_name("pong", create_if_missing=True)
    requests.len(), replies.len()  # created before the echo process looks them up
    echo = multiprocessing.get_context("fork").Process(target=_toolkit_echo, args=(n,))
    echo.start()
    for _ in range(n):
        requests.put(VALUE)
        assert replies.get(timeout=30) == VALUE
    echo.join(30)


def pingpong_mp(n: int) -> None:
    ctx = multiprocessing.get_context("fork")
    requests: multiprocessing.Queue[object] = ctx.Queue()
    replies: multiprocessing.Queue[object] = ctx.Queue()
    echo = ctx.Process(target=_mp_echo, args=(requests, replies, n))
    echo.start()
    for _ in range(n):
        requests.put(VALUE)
        assert replies.get(timeout=30) == VALUE
    echo.join(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = [
        ("Dict put+get", dict_toolkit, "raw sqlite3 (WAL)", dict_sqlite),
        ("Queue put+get, one process", queue_toolkit, "multiprocessing.Queue", queue_mp),
        ("Queue ping-pong, two processes", pingpong_toolkit, "multiprocessing.Queue", pingpong_mp),
    ]
    for label, ours, baseline_label, baseline in rows:
        n = args.n if "ping" not in label else max(100, args.n // 4)
        (tk, tk_cpu), (base, base_cpu) = rate(n, args.repeat, ours), rate(n, args.repeat, baseline)
        print(f"{label}: toolkit {tk:,.0f}/s, {baseline_label} {base:,.0f}/s -> {tk / base:.2f}x; "
              f"by CPU time {tk_cpu:,.0f}/s vs {base_cpu:,.0f}/s -> {tk_cpu / base_cpu:.2f}x")


if __name__ == "__main__":
    main()
