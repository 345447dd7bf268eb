"""Call throughput on local workers: ``@toolkit.batched`` vs one call per input, ``.map.aio`` vs ``.map``.

    python bench/bench_calls.py [--n 10000] [--repeat 2]

* Batched vs unbatched, for a vectorisable function: every call pays a fixed cost (``FIXED_S``,
  standing in for a model's per-call launch) plus a tiny per-item cost; the batched variant pays
  the fixed cost once per batch.  Both are driven with ``.map`` over ``--n`` single inputs.
* ``.map.aio`` vs ``.map`` for a trivial function over ``--n`` inputs: what the async iterator
  (a thread hop per item) costs over the plain one.
Workers are warmed before timing; the best of ``--repeat`` runs is reported, with the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TOOLKIT_HOME", tempfile.mkdtemp(prefix="toolkit-bench-"))

import toolkit  # noqa: E402

FIXED_S = 0.001  # per call of the function, batched or not
app = toolkit.App("bench-calls")


def _work(xs: list[int]) -> list[int]:
    time.sleep(FIXED_S)
    return [2 * x for x in xs]


@app.function(max_containers=4)
def double(x: int) -> int:
    return _work([x])[0]


@app.function(max_containers=4)
@toolkit.batched(max_batch_size=256, wait_ms=5)
def double_batched(xs: list[int]) -> list[int]:
    return _work(xs)


@app.function(max_containers=4)
def trivial(x: int) -> int:
    return x


def best(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


async def _drain_aio(n: int) -> int:
    return sum([1 async for _ in trivial.map.aio(range(n))])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    n = args.n
    for fn in (double, double_batched, trivial):  # warm: workers started, modules imported
        list(fn.map(range(64)))
    unbatched = best(args.repeat, lambda: list(double.map(range(n))))
    batched = best(args.repeat, lambda: list(double_batched.map(range(n))))
    plain = best(args.repeat, lambda: list(trivial.map(range(n))))
    aio = best(args.repeat, lambda: asyncio.run(_drain_aio(n)))
    print(f"inputs: {n}, fixed cost per call: {FIXED_S * 1000:g} ms, cpus: {os.cpu_count()}")
    print(f"unbatched .map      {unbatched:7.2f} s  {n / unbatched:9.0f} inputs/s")
    print(f"@batched(256) .map  {batched:7.2f} s  {n / batched:9.0f} inputs/s  ({unbatched / batched:.1f}x faster)")
    print(f"trivial .map        {plain:7.2f} s  {n / plain:9.0f} inputs/s")
    print(f"trivial .map.aio    {aio:7.2f} s  {n / aio:9.0f} inputs/s  ({aio / plain:.2f}x the time of .map)")


if __name__ == "__main__":
    main()
