"""One sandbox's supervisor: starts its container, then removes it when the sandbox ends.

    python -I supervisor.py SANDBOX_DIR

The creating process starts it (as its child, in a session of its own so Ctrl-C reaches the
creator first) and reads one JSON line from its stdout: ``{"container": ID}`` or ``{"error": ...}``.
Starting the container here rather than in the creator closes the window where a creator killed
between ``run`` and spawning a watcher would leave a container nobody owns.

It ends the container when any of these happens, and records why in ``end.json``:

- the main command exits ("exited");
- ``terminate()`` left the ``terminate`` marker ("terminated");
- ``timeout`` seconds passed since the start ("timeout");
- no exec ran and nothing was written to an exec's stdin for ``idle_timeout`` seconds ("idle_timeout");
- the creator is gone, e.g. killed with kill -9: it is re-parented ("creator_exited").

Then it saves the main command's output next to the record and removes the container, so
nothing is left behind.  It is stdlib-only and run by path: no toolkit import, a fast start.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

POLL_S = 0.1
ENGINE_TIMEOUT_S = 60
STDIN_FIFO, STDIN_EOF = "stdin", "stdin-eof"  # as toolkit.sandboxes.main_stdin names them (no toolkit import)


def write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def alive(pid: int) -> bool:
    """True for a running process; a zombie (an exec client its creator has not reaped yet) is not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class Supervisor:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.spec: dict[str, Any] = json.loads((home / "spec.json").read_text())
        self.engine: str = self.spec["engine"]
        self.container: str = self.spec["container"]
        self.started = time.monotonic()
        self.last_active = self.started
        self.stdin_keeper: int | None = None  # our write end of the stdin FIFO: closed, the command sees EOF
        self.attach: subprocess.Popen[bytes] | None = None

    def engine_run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.engine, *args], capture_output=True, text=True, timeout=ENGINE_TIMEOUT_S)

    def start(self) -> bool:
        done = subprocess.run(self.spec["run_args"], capture_output=True, text=True, timeout=ENGINE_TIMEOUT_S * 5)
        if done.returncode == 0:
            if self.spec.get("stdin"):
                self.attach_stdin()
            print(json.dumps({"container": done.stdout.strip()}), flush=True)
            return True
        self.engine_run("rm", "--force", "--time", "0", self.container)  # a created-but-failed container
        detail = done.stderr.strip() or done.stdout.strip()
        self.finish(done.returncode, "failed_to_start", detail)
        print(json.dumps({"error": detail, "returncode": done.returncode}), flush=True)
        return False

    def attach_stdin(self) -> None:
        """The main command's stdin (`toolkit.sandboxes.main_stdin`): ``<engine> attach`` forwards what
        any process writes into the FIFO; holding a write end here keeps it open between writers."""
        fifo = self.home / STDIN_FIFO
        os.mkfifo(fifo, 0o600)
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        self.stdin_keeper = os.open(fifo, os.O_WRONLY)
        os.set_blocking(reader, True)
        # no detach keys: ctrl-p ctrl-q in the data must reach the command, not end the attach
        self.attach = subprocess.Popen([self.engine, "attach", "--sig-proxy=false", "--detach-keys=", self.container],
                                       stdin=reader, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(reader)

    def close_stdin(self) -> None:
        if self.stdin_keeper is not None:
            os.close(self.stdin_keeper)
            self.stdin_keeper = None

    # -- why it should end ---------------------------------------------------------------------------
    def reason_to_end(self) -> str | None:
        if (self.home / "terminate").exists():
            return "terminated"
        if os.getppid() != self.spec["creator_pid"]:
            return "creator_exited"
        now = time.monotonic()
        if now - self.started > self.spec["timeout"]:
            return "timeout"
        idle = self.spec.get("idle_timeout")
        if idle is not None and now - self.last_activity(now) > idle:
            return "idle_timeout"
        return None

    def last_activity(self, now: float) -> float:
        execs = self.home / "execs"
        if execs.is_dir() and any(alive(int(p.name)) for p in execs.iterdir() if p.name.isdigit()):
            self.last_active = now
        try:  # wall-clock mtime -> our monotonic clock
            touched = now - (time.time() - (self.home / "activity").stat().st_mtime)
        except FileNotFoundError:
            touched = self.started
        return max(self.last_active, touched)

    # -- the end ----------------------------------------------------------------------------------
    def watch(self) -> None:
        waiter = subprocess.Popen([self.engine, "wait", self.container], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True)
        reason = "exited"
        while waiter.poll() is None:
            if self.stdin_keeper is not None and (self.home / STDIN_EOF).exists():
                self.close_stdin()  # write_eof(): the last write end still open is the writers' own
            ended = self.reason_to_end()
            if ended is not None:
                reason = ended
                self.engine_run("kill", "--signal", "KILL", self.container)
                break
            time.sleep(POLL_S)
        try:
            out, _ = waiter.communicate(timeout=ENGINE_TIMEOUT_S)
            returncode = int(out.strip().splitlines()[-1])
        except (ValueError, IndexError, subprocess.TimeoutExpired):
            waiter.kill()
            returncode = 137
        if reason == "exited" and (self.home / "terminate").exists():
            reason = "terminated"
        self.close_stdin()
        if self.attach is not None:
            self.attach.wait(timeout=ENGINE_TIMEOUT_S)  # it ends with the container
        self.save_output()
        self.finish(returncode, reason, "")
        self.engine_run("rm", "--force", "--time", "0", self.container)

    def save_output(self) -> None:
        if self.engine == "podman":
            return  # its k8s-file log is already next to the record, and outlives the container
        with open(self.home / "stdout.log", "wb") as out, open(self.home / "stderr.log", "wb") as err:
            subprocess.run([self.engine, "logs", self.container], stdout=out, stderr=err, timeout=ENGINE_TIMEOUT_S)

    def finish(self, returncode: int, reason: str, detail: str) -> None:
        write_json(self.home / "end.json", {"returncode": returncode, "reason": reason, "ended_at": time.time(),
                                            "detail": detail})

    def on_signal(self, _signum: int, _frame: object) -> None:
        """Stopped from outside: the container must not outlive its supervisor."""
        if not (self.home / "end.json").exists():
            self.finish(137, "terminated", "the sandbox's supervisor was stopped")
        self.engine_run("rm", "--force", "--time", "0", self.container)
        sys.exit(1)


def main() -> None:
    supervisor = Supervisor(Path(sys.argv[1]))
    signal.signal(signal.SIGTERM, supervisor.on_signal)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the creator's Ctrl-C ends the creator; we follow it
    if supervisor.start():
        sys.stdout.close()
        supervisor.watch()


if __name__ == "__main__":
    main()
