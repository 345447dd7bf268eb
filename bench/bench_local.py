"""Local-call benchmarks; each figure is a ratio against a baseline measured in the same run.

    python bench/bench_local.py [--inputs 10000] [--workers 2] [--repeat 3]

* ``.map`` over N trivial inputs vs ``ProcessPoolExecutor(max_workers=W).map`` (goal: >= 0.8x).
  Both are timed end to end, pool start-up included, and again warm.
* spawn-then-get round trip on a warm pool, median (goal: under 20 ms), against a bare
  ``ProcessPoolExecutor.submit().result()`` round trip.
* ``import toolkit`` in a fresh interpreter (goal: under 100 ms), against ``python -c pass``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("TOOLKIT_HOME", tempfile.mkdtemp(prefix="toolkit-bench-"))

from bench_app import app, identity  # noqa: E402


def best(times: list[float]) -> float:
    return min(times)


def bench_map(n: int, workers: int, repeat: int) -> None:
    from toolkit.local.runner import local_runner

    inputs = list(range(n))
    fn = app.registered_functions["trivial"]
    assert fn.spec.max_containers == workers, "bench_app.trivial's max_containers must match --workers"
    cold_ppe, cold_tk, warm_ppe, warm_tk = [], [], [], []
    for _ in range(repeat):
        t = time.perf_counter()
        with ProcessPoolExecutor(max_workers=workers) as pool:
            assert list(pool.map(identity, inputs)) == inputs
            cold_ppe.append(time.perf_counter() - t)
            t = time.perf_counter()
            list(pool.map(identity, inputs))
            warm_ppe.append(time.perf_counter() - t)
        local_runner().shutdown()
        t = time.perf_counter()
        assert list(fn.map(inputs)) == inputs
        cold_tk.append(time.perf_counter() - t)
        t = time.perf_counter()
        list(fn.map(inputs))
        warm_tk.append(time.perf_counter() - t)
    for label, ppe, tk in (("cold", cold_ppe, cold_tk), ("warm", warm_ppe, warm_tk)):
        print(f"map {n} inputs, {workers} workers, {label}: ProcessPoolExecutor {n / best(ppe):,.0f}/s, "
              f"toolkit {n / best(tk):,.0f}/s -> ratio {best(ppe) / best(tk):.2f}x (goal >= 0.8x)")


def bench_roundtrip(samples: int) -> None:
    fn = app.registered_functions["echo"]
    fn.spawn(0).get()  # warm the pool
    times = []
    for i in range(samples):
        t = time.perf_counter()
        assert fn.spawn(i).get(timeout=30) == i
        times.append(time.perf_counter() - t)
    with ProcessPoolExecutor(max_workers=1) as pool:
        pool.submit(identity, 0).result()
        base = []
        for i in range(samples):
            t = time.perf_counter()
            pool.submit(identity, i).result()
            base.append(time.perf_counter() - t)
    med, base_med = statistics.median(times), statistics.median(base)
    print(f"spawn+get round trip: median {med * 1000:.2f} ms, p90 {sorted(times)[int(samples * 0.9)] * 1000:.2f} ms "
          f"(goal < 20 ms); ProcessPoolExecutor submit+result {base_med * 1000:.2f} ms -> {med / base_med:.1f}x")


def bench_import(repeat: int) -> None:
    def run(code: str) -> float:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - t

    bare = best([run("pass") for _ in range(repeat)])
    with_toolkit = best([run("import toolkit") for _ in range(repeat)])
    print(f"import toolkit: {(with_toolkit - bare) * 1000:.1f} ms over a bare interpreter "
          f"({bare * 1000:.1f} ms) (goal < 100 ms); whole process {with_toolkit / bare:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--inputs", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    bench_import(args.repeat * 3)
    bench_map(args.inputs, args.workers, args.repeat)
    bench_roundtrip(args.samples)


if __name__ == "__main__":
    main()
