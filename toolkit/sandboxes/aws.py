"""Sandboxes on AWS: each one an ECS task started with RunTask, driven through a channel that
needs no inbound access (`runtime.sandbox_agent`: commands in over the sandbox's own SQS queue,
output back as chunks in the app's state table).

    sandboxes = AwsSandboxes(AwsSandboxConfig(cluster=..., task_definition=..., ...))
    sb = sandboxes.create("python3", "-c", "print(1)", app="runner", timeout=60)
    p = sb.exec("echo", "hi"); p.stdout.read(); p.wait()
    sb.terminate()

What lives where (the app's state table, pk/sk as `runtime.primitives.dynamodb` lays it out):

    pk ``sandbox#<id>``     sk ``meta``   app, name, tags, task, queue, created/timeout
                            sk ``out#...``/``exit#...``/``end``: written by the agent
    pk ``sandboxes#<app>``  sk ``<id>``   the app's index: ``from_name`` and ``list`` query it

``timeout`` is enforced twice: by the agent inside the task (it exits, the task stops) and by
any client that finds a sandbox past its deadline (StopTask).  ``terminate`` sends the agent a
message and stops the task; the queue is deleted with it.  `docs/sandboxes.md` has the
trade-offs (why not ECS Exec, what the sandboxed code can reach with the task's credentials).
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime.environment import SANDBOX_CONFIG_KEY
from toolkit.exception import (
    InvalidError,
    NotFoundError,
    NotSupportedError,
    SandboxTerminatedError,
    SandboxTimeoutError,
)
from toolkit.sandboxes.streams import StreamReader, StreamWriter

POLL_S = 0.05
KEEP_ALIVE = ("sleep", "infinity")
STOPPED = "STOPPED"


@dataclass(frozen=True)
class AwsSandboxConfig:
    """What the deploy planned for sandboxes (`infra.components.sandboxes`): its outputs, as config."""

    cluster: str
    task_definition: str
    container: str
    table: str
    subnets: tuple[str, ...]
    open_security_group: str       # egress allowed
    blocked_security_group: str    # egress only to the channel's AWS endpoints (block_network=True)
    queue_prefix: str              # queues are <queue_prefix><id>
    assign_public_ip: bool = True
    gpu_capacity_provider: str | None = None


def config_from_outputs(outputs: Mapping[str, Any]) -> AwsSandboxConfig:
    """The deploy's ``sandboxes`` output (``toolkit:sandboxes``, infra/stack.py) as a config."""
    return AwsSandboxConfig(cluster=outputs["cluster"], task_definition=outputs["task_definition"],
                            container=outputs["container"], table=outputs["table"], subnets=tuple(outputs["subnets"]),
                            open_security_group=outputs["open_security_group"],
                            blocked_security_group=outputs["blocked_security_group"],
                            queue_prefix=outputs["queue_prefix"], assign_public_ip=bool(outputs["assign_public_ip"]))


def deployed_sandboxes() -> AwsSandboxes:
    """Inside a deployed function: the app's sandboxes, configured from the item the deploy wrote."""
    from runtime.environment import ContainerEnv

    table = ContainerEnv.from_environ().state_table
    if not table:
        raise InvalidError("Sandbox.create inside a deployed function needs the app's state table, and this "
                           "container has none; redeploy the app with this toolkit version.")
    _, _, dynamodb = _clients()
    item = dynamodb.get_item(TableName=table, Key=SANDBOX_CONFIG_KEY).get("Item")
    if item is None:
        raise InvalidError("This app was deployed without sandboxes; deploy it with TOOLKIT_SANDBOXES=true "
                           "(toolkit:sandboxes) to run toolkit.Sandbox on AWS.")
    return AwsSandboxes(config_from_outputs(json.loads(item["config"]["S"])))


def _clients() -> tuple[Any, Any, Any]:
    from runtime.awsclients import client

    return client("ecs"), client("sqs"), client("dynamodb")


def _s(value: str) -> dict[str, str]:
    return {"S": value}


# -- the control plane -----------------------------------------------------------------------------

@dataclass
class AwsSandboxes:
    config: AwsSandboxConfig

    def create(self, *args: str, app: str, name: str | None = None, tags: Mapping[str, str] | None = None,
               env: Mapping[str, str] | None = None, timeout: int = 300, idle_timeout: int | None = None,
               cpu: float | None = None, memory: int | None = None, block_network: bool = False,
               gpu: str | None = None) -> AwsSandbox:
        """RunTask of the sandbox task definition running the agent around ``args``; tagged with app and name."""
        ecs, sqs, _ = _clients()
        if name is not None and self._find(app, name) is not None:
            raise InvalidError(f"App {app!r} already has a running sandbox named {name!r}; pick another name.")
        sandbox_id = "sb-" + secrets.token_hex(11)
        queue_url = sqs.create_queue(QueueName=self.config.queue_prefix + sandbox_id,
                                     Attributes={"MessageRetentionPeriod": str(max(60, min(timeout + 60, 1209600)))},
                                     tags={"toolkit:app": app, "toolkit:sandbox": sandbox_id})["QueueUrl"]
        # the task definition's entrypoint is the agent (infra.components.sandboxes): these are its arguments
        agent = ["--sandbox-id", sandbox_id, "--queue-url", queue_url, "--table", self.config.table,
                 "--timeout", str(timeout), *(["--idle-timeout", str(idle_timeout)] if idle_timeout else []),
                 "--", *(args or KEEP_ALIVE)]
        try:
            task = self._run_task(sandbox_id, app, name, agent, env or {}, cpu, memory, block_network, gpu)
        except Exception:
            sqs.delete_queue(QueueUrl=queue_url)
            raise
        record = {"app": app, "name": name or "", "tags": dict(tags or {}), "task": task, "queue": queue_url,
                  "created_at": time.time(), "timeout": timeout}
        self._put(sandbox_id, record)
        return AwsSandbox(self, sandbox_id, record)

    def _run_task(self, sandbox_id: str, app: str, name: str | None, command: list[str], env: Mapping[str, str],
                  cpu: float | None, memory: int | None, block_network: bool, gpu: str | None) -> str:
        ecs, _, _ = _clients()
        sg = self.config.blocked_security_group if block_network else self.config.open_security_group
        overrides: dict[str, Any] = {"containerOverrides": [{
            "name": self.config.container, "command": command,
            "environment": [{"name": k, "value": v} for k, v in env.items()]}]}
        if cpu is not None:
            overrides["cpu"] = str(int(cpu * 1024))
        if memory is not None:
            overrides["memory"] = str(int(memory))
        placement: dict[str, Any] = {"launchType": "FARGATE"}
        if gpu:
            if not self.config.gpu_capacity_provider:
                raise InvalidError(f"Sandbox gpu={gpu!r}: this deploy planned no GPU capacity; deploy a gpu= function.")
            placement = {"capacityProviderStrategy": [{"capacityProvider": self.config.gpu_capacity_provider,
                                                       "weight": 1}]}
            overrides["containerOverrides"][0]["resourceRequirements"] = [{"type": "GPU", "value": "1"}]
        answer = ecs.run_task(
            cluster=self.config.cluster, taskDefinition=self.config.task_definition, count=1, startedBy=sandbox_id,
            overrides=overrides, propagateTags="TASK_DEFINITION", enableExecuteCommand=False,
            networkConfiguration={"awsvpcConfiguration": {
                "subnets": list(self.config.subnets), "securityGroups": [sg],
                "assignPublicIp": "ENABLED" if self.config.assign_public_ip and not block_network else "DISABLED"}},
            tags=[{"key": "toolkit:app", "value": app}, {"key": "toolkit:sandbox", "value": sandbox_id},
                  *([{"key": "toolkit:sandbox-name", "value": name}] if name else [])],
            **placement)
        if answer.get("failures") or not answer.get("tasks"):
            raise InvalidError(f"ECS could not start sandbox {sandbox_id} on cluster {self.config.cluster!r}: "
                               f"{answer.get('failures')}")
        return str(answer["tasks"][0]["taskArn"])

    def _put(self, sandbox_id: str, record: Mapping[str, Any]) -> None:
        _, _, dynamodb = _clients()
        body = _s(json.dumps(record))
        dynamodb.put_item(TableName=self.config.table, Item={"pk": _s(f"sandbox#{sandbox_id}"), "sk": _s("meta"),
                                                              "record": body})
        dynamodb.put_item(TableName=self.config.table, Item={"pk": _s(f"sandboxes#{record['app']}"),
                                                              "sk": _s(sandbox_id), "record": body})

    def from_id(self, sandbox_id: str) -> AwsSandbox:
        _, _, dynamodb = _clients()
        item = dynamodb.get_item(TableName=self.config.table,
                                 Key={"pk": _s(f"sandbox#{sandbox_id}"), "sk": _s("meta")}).get("Item")
        if item is None:
            raise NotFoundError(f"No sandbox {sandbox_id!r} in table {self.config.table!r}; ids come from "
                                "Sandbox.create(...).object_id.")
        return AwsSandbox(self, sandbox_id, json.loads(item["record"]["S"]))

    def list(self, app: str, tags: Mapping[str, str] | None = None) -> Iterator[AwsSandbox]:
        """The app's sandboxes that are still running (a stopped one leaves the index as it is seen)."""
        _, _, dynamodb = _clients()
        pages = dynamodb.get_paginator("query").paginate(
            TableName=self.config.table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={
                ":p": _s(f"sandboxes#{app}")})
        for page in pages:
            for item in page["Items"]:
                sb = AwsSandbox(self, item["sk"]["S"], json.loads(item["record"]["S"]))
                if sb.poll() is not None:
                    continue
                if tags and any(sb.record["tags"].get(k) != v for k, v in tags.items()):
                    continue
                yield sb

    def _find(self, app: str, name: str) -> AwsSandbox | None:
        return next((sb for sb in self.list(app) if sb.record.get("name") == name), None)

    def from_name(self, app: str, name: str) -> AwsSandbox:
        found = self._find(app, name)
        if found is None:
            raise NotFoundError(f"No running sandbox named {name!r} in app {app!r}.")
        return found


# -- one sandbox ----------------------------------------------------------------------------------

@dataclass
class AwsSandbox:
    sandboxes: AwsSandboxes
    object_id: str
    record: dict[str, Any]
    _returncode: int | None = field(default=None, init=False)

    @property
    def _table(self) -> str:
        return self.sandboxes.config.table

    def _send(self, message: Mapping[str, Any]) -> None:
        _, sqs, _ = _clients()
        sqs.send_message(QueueUrl=self.record["queue"], MessageBody=json.dumps(message))

    def _item(self, sk: str) -> dict[str, Any] | None:
        _, _, dynamodb = _clients()
        item: dict[str, Any] | None = dynamodb.get_item(
            TableName=self._table, Key={"pk": _s(f"sandbox#{self.object_id}"), "sk": _s(sk)}).get("Item")
        return item

    def poll(self) -> int | None:
        """The exit code once the sandbox has ended (the agent's report, else the stopped task's), else None."""
        if self._returncode is not None:
            return self._returncode
        end = self._item("end")
        if end is not None:
            return self._ended(int(end["returncode"]["N"]))
        ecs, _, _ = _clients()
        tasks = ecs.describe_tasks(cluster=self.sandboxes.config.cluster, tasks=[self.record["task"]])["tasks"]
        if not tasks or tasks[0].get("lastStatus") == STOPPED:
            containers = tasks[0].get("containers", []) if tasks else []
            return self._ended(int(containers[0].get("exitCode", 137)) if containers else 137)
        if time.time() > self.record["created_at"] + self.record["timeout"] + 60:
            self.terminate()  # the agent should have ended it: a client that sees it late stops it
            return self._ended(137)
        return None

    def _ended(self, code: int) -> int:
        _, _, dynamodb = _clients()
        self._returncode = code
        dynamodb.delete_item(TableName=self._table, Key={"pk": _s(f"sandboxes#{self.record['app']}"),
                                                          "sk": _s(self.object_id)})
        return code

    @property
    def returncode(self) -> int | None:
        return self.poll()

    def wait(self, raise_on_termination: bool = True) -> None:
        """Block until the sandbox ends; a timeout or termination raises unless told not to."""
        while self.poll() is None:
            time.sleep(POLL_S * 4)
        end = self._item("end")
        reason = end["reason"]["S"] if end is not None else "terminated"
        if raise_on_termination and reason != "exited":
            error = SandboxTimeoutError if reason in ("timeout", "idle_timeout") else SandboxTerminatedError
            raise error(f"Sandbox {self.object_id} has ended ({reason}).")

    def tunnels(self, timeout: int = 50) -> dict[int, Any]:
        raise NotSupportedError("Sandbox tunnels are not built on AWS yet (docs/sandboxes.md: the decided design).")

    def terminate(self, *, wait: bool = False) -> int | None:
        """Tell the agent, stop the task, delete the queue; with ``wait``, the exit code."""
        ecs, sqs, _ = _clients()
        with contextlib.suppress(sqs.exceptions.QueueDoesNotExist):  # already ended: terminate is idempotent
            self._send({"op": "terminate"})
            sqs.delete_queue(QueueUrl=self.record["queue"])
        ecs.stop_task(cluster=self.sandboxes.config.cluster, task=self.record["task"],
                      reason=f"toolkit: sandbox {self.object_id} terminated")
        self._ended(137)
        return 137 if wait else None

    def exec(self, *args: str, env: Mapping[str, str] | None = None, workdir: str | None = None,
             timeout: int | None = None, text: bool = True) -> AwsProcess:
        if self.poll() is not None:
            raise SandboxTerminatedError(f"Sandbox {self.object_id} has already ended; create a new one.")
        exec_id = uuid.uuid4().hex[:12]
        self._send({"op": "exec", "exec": exec_id, "args": list(args), "env": dict(env or {}), "workdir": workdir,
                    "timeout": timeout})
        return AwsProcess(self, exec_id, text)

    @property
    def stdout(self) -> StreamReader[Any]:
        return StreamReader(lambda: _Chunks(self, "main", "stdout"))

    @property
    def stderr(self) -> StreamReader[Any]:
        return StreamReader(lambda: _Chunks(self, "main", "stderr"))


@dataclass
class AwsProcess:
    sandbox: AwsSandbox
    exec_id: str
    text: bool = True

    def __post_init__(self) -> None:
        self.stdout: StreamReader[Any] = StreamReader(lambda: _Chunks(self.sandbox, self.exec_id, "stdout"), self.text)
        self.stderr: StreamReader[Any] = StreamReader(lambda: _Chunks(self.sandbox, self.exec_id, "stderr"), self.text)
        self.stdin = StreamWriter(_StdinPipe(self.sandbox, self.exec_id))  # type: ignore[arg-type]

    def poll(self) -> int | None:
        item = self.sandbox._item(f"exit#{self.exec_id}")
        return None if item is None else int(item["code"]["N"])

    @property
    def returncode(self) -> int | None:
        return self.poll()

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"exec {self.exec_id} in {self.sandbox.object_id} still running after {timeout} s")
            if self.sandbox.poll() is not None:
                raise SandboxTerminatedError(f"Sandbox {self.sandbox.object_id} ended while exec {self.exec_id} ran.")
            time.sleep(POLL_S)
        return code


class _StdinPipe:
    """An exec's stdin as a file the `StreamWriter` writes: buffered, sent as one message per flush."""

    def __init__(self, sandbox: AwsSandbox, exec_id: str) -> None:
        self._sandbox, self._exec_id = sandbox, exec_id
        self._buffer = bytearray()
        self.closed = False

    def write(self, data: bytes) -> int:
        self._buffer += data
        return len(data)

    def flush(self) -> None:
        if self._buffer:
            self._sandbox._send({"op": "stdin", "exec": self._exec_id,
                                 "data": base64.b64encode(bytes(self._buffer)).decode()})
            self._buffer.clear()

    def close(self) -> None:
        self.flush()
        self._sandbox._send({"op": "eof", "exec": self._exec_id})
        self.closed = True


class _Chunks:
    """One stream of one exec read back from the table as it is written: a `ByteSource`."""

    def __init__(self, sandbox: AwsSandbox, exec_id: str, stream: str) -> None:
        self._sandbox, self._exec_id = sandbox, exec_id
        self._prefix = f"out#{exec_id}#{stream}#"
        self._next = 0
        self._buffer = b""
        self._done = False

    def _finished(self) -> bool:
        if self._exec_id == "main":
            return self._sandbox._item("end") is not None or self._sandbox.poll() is not None
        return self._sandbox._item(f"exit#{self._exec_id}") is not None

    def _fetch(self) -> bytes:
        _, _, dynamodb = _clients()
        items = dynamodb.query(
            TableName=self._sandbox._table, KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
            ExpressionAttributeValues={":p": _s(f"sandbox#{self._sandbox.object_id}"),
                                       ":a": _s(f"{self._prefix}{self._next:010d}"),
                                       ":b": _s(f"{self._prefix}9999999999")})["Items"]
        self._next += len(items)
        return b"".join(item["data"]["B"] for item in items)

    def _more(self) -> bool:
        """Wait for the next chunks; False at the end of the stream."""
        while not self._done:
            finished = self._finished()  # checked before the fetch: nothing can follow an end seen earlier
            data = self._fetch()
            if data:
                self._buffer += data
                return True
            if finished:
                self._done = True
            else:
                time.sleep(POLL_S)
        return False

    def readline(self) -> bytes:
        while b"\n" not in self._buffer and self._more():
            pass
        line, sep, rest = self._buffer.partition(b"\n")
        self._buffer = rest
        return line + sep

    def read(self) -> bytes:
        while self._more():
            pass
        data, self._buffer = self._buffer, b""
        return data


__all__ = ["AwsProcess", "AwsSandbox", "AwsSandboxConfig", "AwsSandboxes", "config_from_outputs",
           "deployed_sandboxes"]
