"""Sandbox latency against the engine it drives, measured in the same run on the same image.

    python bench/bench_sandbox.py [--image REF] [--n 10]

* create -> first output: ``Sandbox.create("echo", "hi")`` until its first stdout line arrives, vs
  ``podman run --rm IMAGE echo hi`` until its first line (toolkit adds its registry, a supervisor
  process and ``podman logs --follow``); the removal of either container is not timed.
* exec round trip: ``sb.exec("true").wait()`` in a running sandbox vs ``podman exec CID true``.
* with ``--aws``: the AWS exec channel (`toolkit.sandboxes.aws`: command in over SQS, output and
  exit code back through DynamoDB) against a moto server on 127.0.0.1, the agent as a local process.

Medians of ``--n`` runs; the goal is toolkit <= 1.2x the engine.  The image defaults to the
debootstrap base the container tests build (``localhost/toolkit-test-base:3.11-slim-bookworm``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TOOLKIT_HOME", tempfile.mkdtemp(prefix="toolkit-bench-"))
if "CONTAINERS_CONF" not in os.environ:  # DESIGN.md §6: runc + cgroupfs on this machine
    conf = Path(tempfile.mkdtemp(prefix="toolkit-bench-podman-")) / "containers.conf"
    conf.write_text('[containers]\ndefault_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]\n\n'
                    '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\n')
    os.environ["CONTAINERS_CONF"] = str(conf)

import toolkit  # noqa: E402

DEFAULT_IMAGE = "localhost/toolkit-test-base:3.11-slim-bookworm"


def median_s(n: int, once: Callable[[], Callable[[], None]]) -> float:
    """Median time of ``once()``; what it returns (the cleanup) runs after the clock stops."""
    times = []
    for _ in range(n):
        start = time.perf_counter()
        cleanup = once()
        times.append(time.perf_counter() - start)
        cleanup()
    return statistics.median(times)


def podman_first_output(image: str) -> Callable[[], None]:
    proc = subprocess.Popen(["podman", "run", "--rm", image, "echo", "hi"], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"hi\n"
    return lambda: proc.wait() and None


def toolkit_first_output(app: toolkit.App, image: toolkit.Image) -> Callable[[], None]:
    sb = toolkit.Sandbox.create("echo", "hi", app=app, image=image, timeout=60)
    assert next(iter(sb.stdout)) == "hi\n"
    return lambda: sb.wait()


def timed(f: Callable[[], object]) -> Callable[[], Callable[[], None]]:
    def once() -> Callable[[], None]:
        f()
        return lambda: None
    return once


def aws_round_trip(n: int) -> float:
    """Median exec round trip through SQS and DynamoDB on moto (the tests' moto and agent helpers)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "sandboxes"))
    from aws_support import aws_environ, moto_server, plan_resources, reset, start_agent

    from toolkit.sandboxes.aws import AwsSandboxes

    with moto_server() as endpoint:
        os.environ.update(aws_environ(endpoint))
        reset(endpoint)
        sb = AwsSandboxes(plan_resources()).create(app="bench", timeout=300)
        agent = start_agent(sb, endpoint)
        try:
            return median_s(n, timed(lambda: sb.exec("true").wait(timeout=30)))
        finally:
            sb.terminate()
            agent.wait(timeout=30)


def row(what: str, ours: float, theirs: float) -> str:
    return f"{what:<28} toolkit {ours * 1000:8.1f} ms   podman {theirs * 1000:8.1f} ms   ratio {ours / theirs:5.2f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=DEFAULT_IMAGE)
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--aws", action="store_true", help="also the AWS exec channel, against moto")
    args = parser.parse_args()
    app = toolkit.App.lookup("bench-sandbox", create_if_missing=True)
    image = toolkit.Image.from_registry(args.image)
    toolkit_first_output(app, image)()  # warm: page cache, image store
    print(row("create -> first output", median_s(args.n, lambda: toolkit_first_output(app, image)),
              median_s(args.n, lambda: podman_first_output(args.image))))
    sb = toolkit.Sandbox.create(app=app, image=image, timeout=300)
    container = sb._record.container
    ours = median_s(args.n * 3, timed(lambda: sb.exec("true").wait()))
    theirs = median_s(args.n * 3, timed(lambda: subprocess.run(["podman", "exec", container, "true"], check=True)))
    print(row("exec round trip", ours, theirs))
    sb.terminate()
    if args.aws:
        print(f"{'AWS exec channel (moto)':<28} toolkit {aws_round_trip(args.n * 3) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
