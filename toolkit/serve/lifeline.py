"""A container worker's lifeline to the serve that started it (``toolkit serve --containers``).

A container outlives the process that ran ``podman run -d``: if serve dies by kill -9 its
containers would go on serving, and go on running requests that were detached past the budget
and are now reported lost (`toolkit.local.ownership`), so a retry would run them twice.  This
small process stands for one container in serve's worker pool: it waits for the container
(``<engine> wait <id>``) and exits with it, so the pool notices a container that died; and when
serve itself is gone (it is re-parented) it removes the container at once.

    python -m toolkit.serve.lifeline SERVE_PID ENGINE CONTAINER_ID

It needs nothing from the rest of toolkit, and imports none of it beyond the package itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

POLL_S = 0.1
REMOVE_TIMEOUT_S = 60


def remove(engine: str, container_id: str) -> None:
    """Kill and remove the container now (no stop grace: the requests it runs have no one to answer)."""
    subprocess.run([engine, "rm", "--force", "--time", "0", container_id], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=REMOVE_TIMEOUT_S)


def watch(serve_pid: int, engine: str, container_id: str) -> int:
    """``<engine> wait``'s exit code when the container stops; once serve is gone, remove it and return 1."""
    waiter = subprocess.Popen([engine, "wait", container_id], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stopped_by_the_pool(_signum: int, _frame: object) -> None:  # it removes the container itself
        waiter.kill()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stopped_by_the_pool)
    while waiter.poll() is None:
        if os.getppid() != serve_pid:
            remove(engine, container_id)
            waiter.kill()
            return 1
        time.sleep(POLL_S)
    return waiter.returncode


def main() -> None:
    serve_pid, engine, container_id = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    sys.exit(watch(serve_pid, engine, container_id))


if __name__ == "__main__":
    main()
