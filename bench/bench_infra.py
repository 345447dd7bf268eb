"""Infra program scale: an app of N functions under Pulumi's mock runtime (what `toolkit plan` runs).

    python bench/bench_infra.py [--functions 50]

Prints the wall time for 5 and for N functions, resources per function (which must stay
constant as the app grows: shared resources are declared once), and the time ratio.
"""

from __future__ import annotations

import argparse
import time

import toolkit
from toolkit.deploy.deployer import Deployer, DeployOptions, load_app_for_deploy
from toolkit.deploy.progress import Progress


def make_app(n: int) -> toolkit.App:
    """Half plain functions, half GET endpoints: the common shape of a Lambda-backed app."""
    app = toolkit.App(f"scale-{n}")
    for i in range(n):
        def fn(x: int = 0) -> int:
            return x

        fn.__name__ = fn.__qualname__ = f"fn_{i:03d}"
        target = toolkit.fastapi_endpoint()(fn) if i % 2 else fn
        app.function()(target)
    return app


def plan_resources(n: int) -> tuple[float, int, int]:
    app = make_app(n)
    options = DeployOptions()
    loaded = load_app_for_deploy(app, options)
    started = time.perf_counter()
    plan = Deployer(options, Progress(quiet=True)).plan(loaded)
    elapsed = time.perf_counter() - started
    real = [r for r in plan.resources if not r.is_component]
    return elapsed, len(real), len(plan.resources)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--functions", type=int, default=50)
    args = parser.parse_args()
    small_n, big_n = 6, args.functions
    small_t, small_res, _ = plan_resources(small_n)
    big_t, big_res, big_all = plan_resources(big_n)
    per_function = (big_res - small_res) / (big_n - small_n)
    shared = small_res - per_function * small_n
    print(f"{small_n} functions: {small_res} resources in {small_t:.2f} s")
    print(f"{big_n} functions: {big_res} resources ({big_all} with components) in {big_t:.2f} s "
          f"(goal: well under 60 s)")
    print(f"resources per function: {per_function:.1f} (+{shared:.0f} shared by the app); "
          f"time ratio {big_t / small_t:.1f}x for {big_n / small_n:.1f}x the functions")


if __name__ == "__main__":
    main()
