"""`toolkit serve` lifecycle benchmarks; each figure is a ratio against a baseline from the same run.

    python bench/bench_takeover.py [--repeat 3]

* takeover on the same port: from starting the newer serve to its first answer, against a
  cold serve on a free port (baseline).  The newer serve waits for the older one to let go.
* downtime a client sees during that takeover (one new connection per request, back to
  back): the longest stretch without a successful answer and the failed requests, against
  the median time between answers before the takeover (baseline).
* ``min_containers=1``: the first request a few seconds after start, against the same app
  with ``min_containers=0`` (the first request then starts the worker).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
APP = '''
import os
import toolkit

app = toolkit.App("bench-takeover")


@app.function(min_containers=MIN)
@toolkit.fastapi_endpoint()
def hello():
    return {"serve": os.getppid()}
'''
HOST = "default--bench-takeover-hello-dev"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start(app: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "toolkit.cli", "serve", str(app), "--port", str(port), "--no-reload"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def ask(port: int) -> int | None:
    """The pid of the serve that answered, or None."""
    try:
        with httpx.Client(trust_env=False, timeout=10) as client:
            response = client.get(f"http://127.0.0.1:{port}/", headers={"Host": f"{HOST}.localhost:{port}"})
    except httpx.HTTPError:
        return None
    return int(response.json()["serve"]) if response.status_code == 200 else None


def until_answered_by(proc: subprocess.Popen[bytes], port: int, since: float) -> float:
    while ask(port) != proc.pid:
        if proc.poll() is not None:
            raise RuntimeError(f"serve exited with {proc.returncode}")
        time.sleep(0.01)
    return time.perf_counter() - since


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)


class Hammer(threading.Thread):
    """Requests back to back on new connections; records when each answer came and whether it failed."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port, self.running = port, True
        self.answers: list[float] = []
        self.failures = 0

    def run(self) -> None:
        while self.running:
            if ask(self.port) is not None:
                self.answers.append(time.perf_counter())
            else:
                self.failures += 1

    def longest_gap(self, after: float) -> float:
        times = [t for t in self.answers if t >= after]
        return max((b - a for a, b in zip(times, times[1:], strict=False)), default=0.0)


def write_app(directory: Path, min_containers: int) -> Path:
    path = directory / f"bench_takeover_{min_containers}.py"
    path.write_text(APP.replace("MIN", str(min_containers)))
    return path


def bench_takeover(directory: Path, env: dict[str, str], repeat: int) -> None:
    app = write_app(directory, 1)
    cold, takeover, gaps, steady, failures = [], [], [], [], []
    for _ in range(repeat):
        port = free_port()
        t = time.perf_counter()
        older = start(app, port, env)
        cold.append(until_answered_by(older, port, t))
        hammer = Hammer(port)
        hammer.start()
        time.sleep(1.0)
        before = hammer.answers[:]
        steady.append(statistics.median(b - a for a, b in zip(before, before[1:], strict=False)))
        t = time.perf_counter()
        newer = start(app, port, env)
        takeover.append(until_answered_by(newer, port, t))
        older.wait(30)
        time.sleep(0.5)
        hammer.running = False
        hammer.join()
        gaps.append(hammer.longest_gap(t))
        failures.append(hammer.failures)
        stop(newer)
    print(f"serve start to first answer: cold {statistics.median(cold) * 1000:.0f} ms, same-port takeover "
          f"{statistics.median(takeover) * 1000:.0f} ms -> ratio {statistics.median(takeover) / statistics.median(cold):.2f}x")
    print(f"client during takeover: longest gap {statistics.median(gaps) * 1000:.0f} ms vs steady "
          f"{statistics.median(steady) * 1000:.1f} ms between answers -> ratio "
          f"{statistics.median(gaps) / statistics.median(steady):.0f}x; failed requests per takeover: {failures}")


def bench_prestart(directory: Path, env: dict[str, str], repeat: int) -> None:
    first: dict[int, list[float]] = {0: [], 1: []}
    for _ in range(repeat):
        for min_containers in (0, 1):
            port = free_port()
            proc = start(write_app(directory, min_containers), port, env)
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/api/endpoints", trust_env=False, timeout=1).raise_for_status()
                    break
                except httpx.HTTPError:
                    time.sleep(0.05)
            time.sleep(3.0)  # time enough for a prestarted worker to be up
            t = time.perf_counter()
            assert ask(port) == proc.pid
            first[min_containers].append(time.perf_counter() - t)
            stop(proc)
    cold, warm = statistics.median(first[0]), statistics.median(first[1])
    print(f"first request after start: min_containers=0 {cold * 1000:.0f} ms, min_containers=1 "
          f"{warm * 1000:.1f} ms -> ratio {cold / warm:.0f}x faster")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="toolkit-bench-takeover-") as tmp:
        env = {**os.environ, "TOOLKIT_HOME": str(Path(tmp) / "home")}
        bench_takeover(Path(tmp), env, args.repeat)
        bench_prestart(Path(tmp), env, args.repeat)


if __name__ == "__main__":
    main()
