"""The agent inside a sandbox's ECS task: the exec channel that needs no inbound access.

    python -m runtime.sandbox_agent --sandbox-id SB --queue-url URL --table T --timeout S [--idle-timeout S]
                                    [--workdir DIR] [--volumes JSON] -- CMD...

The task only makes outbound calls.  Commands reach it through the sandbox's own SQS queue
(long-polled); output goes back as chunks in the app's state table, which the client queries:

    pk ``sandbox#<id>``  sk ``out#<exec>#<stdout|stderr>#<seq>``  data: bytes as they were read
                         sk ``exit#<exec>``                        code: the exit code
                         sk ``end``                                returncode, reason

Messages (JSON): ``{"op": "exec", "exec": ID, "args": [...], "env": {...}, "workdir": ..., "timeout": S}``,
``{"op": "stdin", "exec": ID, "data": BASE64}``, ``{"op": "eof", "exec": ID}``, ``{"op": "terminate"}``,
``{"op": "reload", "request": ID}`` (volumes; answered by sk ``reloaded#<ID>``, code 0 or 1).
The main command is exec ``main``.  The agent enforces ``timeout`` and ``idle_timeout`` itself and
exits with the main command's code, so the task stops (and Fargate removes it) when the sandbox ends.

Volumes (``--volumes '[[path, name, create_if_missing, read_only], ...]'``) are mounted as a
function's are (`runtime.volumes.mounts`: the S3 prefix synced into a copy, linked at the path)
before the main command starts, and committed when each exec exits (before its exit code is
reported, so a caller that saw ``wait()`` return can read what it wrote) and when the sandbox ends.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from runtime.awsclients import client

CHUNK = 64 * 1024
RECEIVE_WAIT_S = 1  # a long poll this short keeps timeouts checked every second
MAIN = "main"


def out_key(exec_id: str, stream: str, seq: int) -> str:
    return f"out#{exec_id}#{stream}#{seq:010d}"


@dataclass
class Channel:
    """Where output goes: one sandbox's items in the state table."""

    table: str
    sandbox_id: str

    @property
    def pk(self) -> str:
        return f"sandbox#{self.sandbox_id}"

    def put(self, sk: str, **values: Any) -> None:
        item: dict[str, Any] = {"pk": {"S": self.pk}, "sk": {"S": sk}}
        for key, value in values.items():
            item[key] = {"B": value} if isinstance(value, bytes) else {"N": str(value)} if isinstance(
                value, int) else {"S": str(value)}
        client("dynamodb").put_item(TableName=self.table, Item=item)


@dataclass
class Running:
    """One command the agent runs, with the threads that copy its output into the table."""

    exec_id: str
    process: subprocess.Popen[bytes]
    pumps: list[threading.Thread] = field(default_factory=list)
    reported: bool = False


def pump(channel: Channel, exec_id: str, stream: str, pipe: IO[bytes], echo: IO[bytes] | None) -> None:
    seq = 0
    while chunk := os.read(pipe.fileno(), CHUNK):
        channel.put(out_key(exec_id, stream, seq), data=chunk)
        seq += 1
        if echo is not None:  # the main command's output also reaches the task's log group
            echo.write(chunk)
            echo.flush()


class Agent:
    def __init__(self, channel: Channel, queue_url: str, timeout: float, idle_timeout: float | None) -> None:
        self.channel, self.queue_url = channel, queue_url
        self.started = time.monotonic()
        self.deadline = self.started + timeout
        self.idle_timeout = idle_timeout
        self.last_active = self.started
        self.running: dict[str, Running] = {}
        self.terminated = False
        self.volumes: list[str] = []  # names of the mounted volumes (`mount_volumes`)

    def start(self, exec_id: str, args: Sequence[str], env: dict[str, str] | None = None,
              workdir: str | None = None, timeout: float | None = None) -> None:
        if timeout:
            args = ["timeout", "--signal=KILL", f"{int(timeout)}s", *args]
        try:
            # a session of its own: ending the sandbox kills the command's whole process group, so no
            # grandchild keeps an output pipe (and a pump) open
            process = subprocess.Popen(list(args), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, cwd=workdir, env={**os.environ, **(env or {})},
                                       start_new_session=True)
        except OSError as exc:  # not found, not executable: what a shell would say, and 127
            self.channel.put(out_key(exec_id, "stderr", 0), data=f"{args[0]}: {exc.strerror}\n".encode())
            self.channel.put(f"exit#{exec_id}", code=127)
            return
        running = Running(exec_id, process)
        main = exec_id == MAIN
        for stream, pipe, echo in (("stdout", process.stdout, sys.stdout.buffer if main else None),
                                   ("stderr", process.stderr, sys.stderr.buffer if main else None)):
            thread = threading.Thread(target=pump, args=(self.channel, exec_id, stream, pipe, echo), daemon=True)
            thread.start()
            running.pumps.append(thread)
        self.running[exec_id] = running

    def handle(self, message: dict[str, Any]) -> None:
        self.last_active = time.monotonic()
        op, exec_id = message.get("op"), str(message.get("exec", ""))
        if op == "exec":
            self.start(exec_id, message["args"], message.get("env"), message.get("workdir"), message.get("timeout"))
        elif op in ("stdin", "eof") and exec_id in self.running:
            stdin = self.running[exec_id].process.stdin
            assert stdin is not None
            try:
                if op == "stdin":
                    stdin.write(base64.b64decode(message["data"]))
                    stdin.flush()
                else:
                    stdin.close()
            except (BrokenPipeError, ValueError):
                pass  # the command exited or closed its input: as a local pipe would
        elif op == "terminate":
            self.terminated = True
        elif op == "reload":
            self.channel.put(f"reloaded#{message.get('request', '')}", code=reload_volumes(self.volumes))

    def report_exits(self) -> None:
        for running in self.running.values():
            code = running.process.poll()
            if code is None or running.reported:
                continue
            for thread in running.pumps:
                thread.join()  # every chunk is in the table before the exit code
            running.reported = True
            if running.exec_id != MAIN:
                commit_volumes()  # what the exec wrote is in the volume before its exit code is
                self.channel.put(f"exit#{running.exec_id}", code=code)
                self.last_active = time.monotonic()

    def reason_to_end(self) -> str | None:
        now = time.monotonic()
        main = self.running[MAIN]
        if self.terminated:
            return "terminated"
        if main.reported:
            return "exited"
        if now > self.deadline:
            return "timeout"
        busy = any(r.process.poll() is None for k, r in self.running.items() if k != MAIN)
        if busy:
            self.last_active = now
        if self.idle_timeout is not None and now - self.last_active > self.idle_timeout:
            return "idle_timeout"
        return None

    def receive(self) -> None:
        sqs = client("sqs")
        try:
            answer = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                         WaitTimeSeconds=RECEIVE_WAIT_S)
        except sqs.exceptions.QueueDoesNotExist:  # terminate() deletes the queue: the sandbox is over
            self.terminated = True
            return
        for message in answer.get("Messages", []):
            with contextlib.suppress(sqs.exceptions.QueueDoesNotExist):  # deleted right after a terminate
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            self.handle(json.loads(message["Body"]))

    def run(self, command: Sequence[str], workdir: str | None = None) -> int:
        self.start(MAIN, command, workdir=workdir)
        while True:
            self.report_exits()
            reason = self.reason_to_end()
            if reason is not None:
                return self.end(reason)
            self.receive()

    def end(self, reason: str) -> int:
        for running in self.running.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(running.process.pid, signal.SIGKILL)
        main = self.running[MAIN].process
        code = main.wait()
        code = 128 - code if code < 0 else code  # killed by a signal: the shell's 128+N, as the engine reports
        for thread in self.running[MAIN].pumps:
            thread.join(timeout=10)
        commit_volumes()
        self.channel.put("end", returncode=code, reason=reason)
        return code


def mount_volumes(volumes: Sequence[Sequence[Any]]) -> None:
    """Mount ``[path, name, create_if_missing, read_only]`` each from the app's volume bucket."""
    if not volumes:
        return
    from runtime.environment import ContainerEnv
    from runtime.volumes.mounts import mount
    from runtime.volumes.s3 import S3VolumeStore

    bucket = ContainerEnv.from_environ().volume_bucket
    if not bucket:
        raise SystemExit(f"sandbox volumes need {ContainerEnv.name('volume_bucket')} in the task's environment; "
                         "deploy the app again with TOOLKIT_SANDBOXES=true (toolkit deploy).")
    mount(S3VolumeStore(bucket), [(str(p), str(n), bool(c), bool(r)) for p, n, c, r in volumes])


def reload_volumes(names: Sequence[str]) -> int:
    """``sb.reload_volumes()``: pull what others committed into each mounted volume; 0, or 1 if one failed."""
    from runtime.volumes.mounts import mounted

    try:
        for name in sorted(set(names)):
            for _path, store in mounted(name)[:1]:
                store.reload(name)
    except Exception as exc:  # noqa: BLE001 - the caller gets a failure code, the log says why
        print(f"toolkit sandbox agent: could not reload volumes: {type(exc).__name__}: {exc}", file=sys.stderr,
              flush=True)
        return 1
    return 0


def commit_volumes() -> None:
    from runtime.volumes.mounts import commit_all

    try:
        commit_all()
    except Exception as exc:  # noqa: BLE001 - a failed commit must not lose the exit code; it says why
        print(f"toolkit sandbox agent: could not commit volumes: {type(exc).__name__}: {exc}", file=sys.stderr,
              flush=True)


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m runtime.sandbox_agent")
    parser.add_argument("--sandbox-id", required=True)
    parser.add_argument("--queue-url", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--timeout", type=float, required=True)
    parser.add_argument("--idle-timeout", type=float, default=None)
    parser.add_argument("--workdir", default=None)  # the main command's (create's workdir=)
    parser.add_argument("--volumes", type=json.loads, default=[])  # [[path, name, create_if_missing, read_only]]
    parser.add_argument("command", nargs="+")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    agent = Agent(Channel(args.table, args.sandbox_id), args.queue_url, args.timeout, args.idle_timeout)
    signal.signal(signal.SIGTERM, lambda *_: setattr(agent, "terminated", True))  # StopTask: end and report
    mount_volumes(args.volumes)
    agent.volumes = [str(v[1]) for v in args.volumes]
    return agent.run(args.command, args.workdir)


if __name__ == "__main__":
    sys.exit(main())
