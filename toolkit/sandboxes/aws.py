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
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runtime.environment import SANDBOX_CONFIG_KEY
from toolkit.aio import aio_method
from toolkit.exception import (
    InvalidError,
    NotFoundError,
    NotSupportedError,
    SandboxTerminatedError,
    SandboxTimeoutError,
)
from toolkit.sandboxes.aws_launch import GpuVariant, Launch, Planned, choose_launch
from toolkit.sandboxes.aws_logs import AwsSandboxLogs, log_stream
from toolkit.sandboxes.aws_network import check_cidrs, create_tunnel_group, public_ip, sweep_tunnel_groups
from toolkit.sandboxes.aws_sizes import fargate_task_size
from toolkit.sandboxes.filesystem import FileCalls
from toolkit.sandboxes.options import refuse_exec_pty_info
from toolkit.sandboxes.ports import Probe, Tunnel, Tunnels, listening_ports
from toolkit.sandboxes.streams import StreamReader, StreamType, StreamWriter
from toolkit.unsupported import refusal

POLL_S = 0.05
TUNNEL_POLL_S = 0.5
VolumeSpec = tuple[str, str, bool, bool]  # (mount path, volume name, create_if_missing, read_only): the agent's --volumes
COPY_WAIT_S = 30.0
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
    queue_prefix: str              # queues are <queue_prefix><id>; tunnel groups are named so too
    assign_public_ip: bool = True
    vpc_id: str = ""               # where a sandbox's tunnel security group is made
    images: Mapping[str, str] = field(default_factory=dict)  # image spec hash -> Fargate task definition
    gpu: tuple[GpuVariant, ...] = ()
    volumes: tuple[str, ...] = ()  # the volumes a sandbox may mount: those the app's functions mount
    volumes_task_role: str = ""    # the task role (channel + those volumes) RunTask passes when volumes= is given

    @property
    def planned(self) -> Planned:
        return Planned(self.cluster, self.task_definition, self.images, self.gpu)

    @property
    def log_group(self) -> str:
        """``/toolkit/<prefix>/sandboxes``: infra/components/sandboxes.py names it and the queues from one prefix."""
        return f"/toolkit/{self.queue_prefix.removesuffix('-sb-')}/sandboxes"


def config_from_outputs(outputs: Mapping[str, Any]) -> AwsSandboxConfig:
    """The deploy's ``sandboxes`` output (``toolkit:sandboxes``, infra/stack.py) as a config."""
    return AwsSandboxConfig(cluster=outputs["cluster"], task_definition=outputs["task_definition"],
                            container=outputs["container"], table=outputs["table"], subnets=tuple(outputs["subnets"]),
                            open_security_group=outputs["open_security_group"],
                            blocked_security_group=outputs["blocked_security_group"],
                            queue_prefix=outputs["queue_prefix"], assign_public_ip=bool(outputs["assign_public_ip"]),
                            vpc_id=str(outputs.get("vpc_id") or ""), images=dict(outputs.get("images") or {}),
                            gpu=tuple(GpuVariant.from_output(v) for v in outputs.get("gpu") or ()),
                            volumes=tuple(outputs.get("volumes") or ()),
                            volumes_task_role=str(outputs.get("volumes_task_role") or ""))


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


@dataclass(frozen=True)
class _TaskSpec:
    """One sandbox's RunTask inputs beyond where it runs."""

    sandbox_id: str
    app: str
    name: str | None
    command: list[str]
    env: dict[str, str]
    cpu: float | None
    memory: int | None
    block_network: bool
    tunnel_group: str | None
    volumes: bool = False  # runs with the volumes task role


# -- the control plane -----------------------------------------------------------------------------

@dataclass
class AwsSandboxes:
    config: AwsSandboxConfig

    def create(self, *args: str, app: str, name: str | None = None, tags: Mapping[str, str] | None = None,
               env: Mapping[str, str] | None = None, timeout: int = 300, idle_timeout: int | None = None,
               cpu: float | None = None, memory: int | None = None, block_network: bool = False,
               gpu: str | None = None, image_key: str | None = None, ports: Sequence[int] = (),
               inbound_cidr_allowlist: Sequence[str] | None = None, probe: Mapping[str, Any] | None = None,
               workdir: str | None = None, volumes: Sequence[VolumeSpec] = ()) -> AwsSandbox:
        """RunTask of the planned task definition for ``image_key``/``gpu``, running the agent around ``args``;
        tagged with app and name; with ``ports``, a security group of its own and a public IP (tunnels)."""
        _, sqs, _ = _clients()
        launch = choose_launch(self.config.planned, image_key, gpu, block_network=block_network, ports=ports)
        self._check_volumes(volumes)
        cidrs = check_cidrs(inbound_cidr_allowlist)
        if ports and not self.config.assign_public_ip:
            raise InvalidError(f"Sandbox ports {list(ports)}: this deploy runs tasks in private subnets "
                               "(toolkit:privateSubnets), so a task has no public IP to tunnel to; deploy with public "
                               "subnets, or reach the sandbox from inside the VPC.")
        if name is not None and self._find(app, name) is not None:
            raise InvalidError(f"App {app!r} already has a running sandbox named {name!r}; pick another name.")
        self.sweep()
        sandbox_id = "sb-" + secrets.token_hex(11)
        queue_url = sqs.create_queue(QueueName=self.config.queue_prefix + sandbox_id,
                                     Attributes={"MessageRetentionPeriod": str(max(60, min(timeout + 60, 1209600)))},
                                     tags={"toolkit:app": app, "toolkit:sandbox": sandbox_id})["QueueUrl"]
        # the task definition's entrypoint is the agent (infra.components.sandboxes): these are its arguments
        agent = ["--sandbox-id", sandbox_id, "--queue-url", queue_url, "--table", self.config.table,
                 "--timeout", str(timeout), *(["--idle-timeout", str(idle_timeout)] if idle_timeout else []),
                 *(["--workdir", workdir] if workdir else []),
                 *(["--volumes", json.dumps([list(v) for v in volumes])] if volumes else []), "--", *(args or KEEP_ALIVE)]
        group = None
        try:
            if ports:
                group = create_tunnel_group(vpc_id=self.config.vpc_id, name=self.config.queue_prefix + sandbox_id,
                                            tag=self.config.queue_prefix, sandbox_id=sandbox_id, app=app, ports=ports,
                                            cidrs=cidrs)
            task = self._run_task(launch, _TaskSpec(sandbox_id, app, name, agent, dict(env or {}), cpu, memory,
                                                    block_network, group, bool(volumes)))
        except Exception:
            sqs.delete_queue(QueueUrl=queue_url)
            if group is not None:
                sweep_tunnel_groups(self.config.queue_prefix, lambda sb: sb == sandbox_id)
            raise
        record = {"app": app, "name": name or "", "tags": dict(tags or {}), "task": task, "queue": queue_url,
                  "created_at": time.time(), "timeout": timeout, "cluster": launch.cluster if launch.gpu is None
                  else launch.gpu.cluster, "ports": list(ports), "probe": dict(probe) if probe else None,
                  "tunnel_group": group}
        self._put(sandbox_id, record)
        return AwsSandbox(self, sandbox_id, record)

    def _run_task(self, launch: Launch, spec: _TaskSpec) -> str:
        ecs, _, _ = _clients()
        container: dict[str, Any] = {"name": self.config.container, "command": spec.command,
                                     "environment": [{"name": k, "value": v} for k, v in spec.env.items()]}
        overrides: dict[str, Any] = {"containerOverrides": [container]}
        if spec.volumes:  # only a sandbox that mounts volumes runs with the role that may reach them
            overrides["taskRoleArn"] = self.config.volumes_task_role
        if launch.gpu is not None:  # EC2, bridge mode: the task definition holds the GPUs and sizes
            placement: dict[str, Any] = {"cluster": launch.gpu.cluster, "taskDefinition": launch.gpu.task_definition,
                                         "capacityProviderStrategy": [{"capacityProvider":
                                                                       launch.gpu.capacity_provider, "weight": 1}]}
            if spec.memory is not None:
                container["memoryReservation"] = int(spec.memory)
        else:
            placement = {"cluster": launch.cluster, "taskDefinition": launch.task_definition, "launchType": "FARGATE",
                         "networkConfiguration": {"awsvpcConfiguration": self._network(spec)}}
            if spec.cpu is not None or spec.memory is not None:  # a size Fargate runs (toolkit.sandboxes.aws_sizes)
                units, mib = fargate_task_size(spec.cpu, spec.memory)
                overrides["cpu"], overrides["memory"] = str(units), str(mib)
        where = f"from task definition {placement['taskDefinition']!r} on cluster {placement['cluster']!r}"
        try:
            answer = ecs.run_task(
                count=1, startedBy=spec.sandbox_id, overrides=overrides, propagateTags="TASK_DEFINITION",
                enableExecuteCommand=False,
                tags=[{"key": "toolkit:app", "value": spec.app}, {"key": "toolkit:sandbox", "value": spec.sandbox_id},
                      *([{"key": "toolkit:sandbox-name", "value": spec.name}] if spec.name else [])],
                **placement)
        except ecs.exceptions.ClientError as error:
            raise InvalidError(f"ECS could not start sandbox {spec.sandbox_id} {where}: "
                               f"{error.response.get('Error', {}).get('Message', error)}; if the app's sandbox "
                               "resources changed, deploy it again (toolkit deploy).") from None
        if answer.get("failures") or not answer.get("tasks"):
            raise InvalidError(f"ECS could not start sandbox {spec.sandbox_id} {where}: {answer.get('failures')}")
        return str(answer["tasks"][0]["taskArn"])

    def _check_volumes(self, volumes: Sequence[VolumeSpec]) -> None:
        """Only volumes the deploy granted (those the app's functions mount) can be mounted in a task."""
        for path, volume, _create, _read_only in volumes:
            if not self.config.volumes_task_role or volume not in self.config.volumes:
                planned = ", ".join(self.config.volumes) or "none"
                raise InvalidError(
                    f"Sandbox volumes[{path!r}]: volume {volume!r} is not one sandboxes of this deploy may mount "
                    f"(planned: {planned}). A sandbox task may mount the volumes the app's functions mount: mount it "
                    f"in one (@app.function(volumes={{{path!r}: vol}})) and deploy again with TOOLKIT_SANDBOXES=true.")

    def _network(self, spec: _TaskSpec) -> dict[str, Any]:
        """Blocked: the channel-only group, no public IP.  Else the open group, plus the tunnel group."""
        if spec.block_network:
            return {"subnets": list(self.config.subnets), "securityGroups": [self.config.blocked_security_group],
                    "assignPublicIp": "DISABLED"}
        groups = [self.config.open_security_group, *([spec.tunnel_group] if spec.tunnel_group else [])]
        return {"subnets": list(self.config.subnets), "securityGroups": groups,
                "assignPublicIp": "ENABLED" if self.config.assign_public_ip else "DISABLED"}

    def sweep(self) -> list[str]:
        """Delete the tunnel groups of sandboxes that have ended (their interfaces gone)."""
        if not self.config.vpc_id:
            return []
        return sweep_tunnel_groups(self.config.queue_prefix, self._has_ended)

    def _has_ended(self, sandbox_id: str) -> bool:
        try:
            return self.from_id(sandbox_id).poll() is not None
        except NotFoundError:
            return True

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
class AwsSandbox(FileCalls):
    """An ECS task's sandbox: the same calls as a local one (files through ``exec``, as there)."""

    sandboxes: AwsSandboxes
    object_id: str
    record: dict[str, Any]
    _returncode: int | None = field(default=None, init=False)

    @property
    def _table(self) -> str:
        return self.sandboxes.config.table

    @property
    def _cluster(self) -> str:
        return str(self.record.get("cluster") or self.sandboxes.config.cluster)

    def _task(self) -> dict[str, Any] | None:
        ecs, _, _ = _clients()
        tasks = ecs.describe_tasks(cluster=self._cluster, tasks=[self.record["task"]])["tasks"]
        return tasks[0] if tasks else None

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
        task = self._task()
        if task is None or task.get("lastStatus") == STOPPED:
            containers = task.get("containers", []) if task else []
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

    @aio_method
    def wait(self, raise_on_termination: bool = True) -> None:
        """Block until the sandbox ends; a timeout or termination raises unless told not to."""
        while self.poll() is None:
            time.sleep(POLL_S * 4)
        end = self._item("end")
        reason = end["reason"]["S"] if end is not None else "terminated"
        if raise_on_termination and reason != "exited":
            error = SandboxTimeoutError if reason in ("timeout", "idle_timeout") else SandboxTerminatedError
            raise error(f"Sandbox {self.object_id} has ended ({reason}).")

    @aio_method
    def tunnels(self, timeout: int = 50) -> Tunnels:
        """The exposed ports at the task's public IP, once the task has one (within ``timeout`` seconds)."""
        ports = [int(p) for p in self.record.get("ports") or ()]
        if not ports:
            return Tunnels(self.object_id, {})
        deadline = time.monotonic() + timeout
        while True:
            task = self._task()
            address = public_ip(task) if task else None
            if address:
                return Tunnels(self.object_id, {p: Tunnel(address, p, address, p) for p in ports})
            if self.poll() is not None:
                raise SandboxTerminatedError(f"Sandbox {self.object_id} has ended; its tunnels are gone.")
            if time.monotonic() > deadline:
                status = task.get("lastStatus") if task else "unknown"
                raise TimeoutError(f"Sandbox {self.object_id} has no public IP after {timeout} s (its task is "
                                   f"{status}); call tunnels(timeout=...) with longer, or check the task in ECS.")
            time.sleep(TUNNEL_POLL_S)

    @aio_method
    def wait_until_ready(self, *, timeout: float = 300) -> None:
        """Block until the readiness probe passes (checked with ``exec`` inside the task)."""
        raw = self.record.get("probe")
        if not raw:
            raise InvalidError(f"Sandbox {self.object_id} has no readiness probe; create it with "
                               "readiness_probe=toolkit.Probe.with_tcp(PORT) or Probe.with_exec(...).")
        probe = Probe.from_dict(raw)
        deadline = time.monotonic() + timeout
        while not self._probe_passes(probe):
            if self.poll() is not None:
                raise SandboxTerminatedError(f"Sandbox {self.object_id} ended before it was ready ({probe}).")
            if time.monotonic() > deadline:
                raise TimeoutError(f"Sandbox {self.object_id} was not ready after {timeout} s ({probe}).")
            time.sleep(probe.interval_ms / 1000)

    def _probe_passes(self, probe: Probe) -> bool:
        if probe.exec_argv is not None:
            return self.exec(*probe.exec_argv).wait() == 0
        process = self.exec("cat", "/proc/net/tcp", "/proc/net/tcp6")
        text = process.stdout.read()
        process.wait()  # tcp6 is missing where IPv6 is off: what was read still counts
        return probe.tcp_port in listening_ports(text)

    @aio_method
    def set_tags(self, tags: Mapping[str, str], *, client: Any = None) -> None:
        if not isinstance(tags, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
            raise InvalidError(f"Sandbox tags {tags!r} must be a dict of str to str.")
        self.record = {**self.record, "tags": dict(tags)}
        self.sandboxes._put(self.object_id, self.record)

    @aio_method
    def get_tags(self) -> dict[str, str]:
        return dict(self.sandboxes.from_id(self.object_id).record.get("tags") or {})

    @aio_method
    def snapshot_filesystem(self, timeout: int = 55, *, ttl: int | None = None) -> Any:
        raise NotSupportedError(refusal(
            "Sandbox.snapshot_filesystem on AWS", "a Fargate task's filesystem cannot be committed to an image",
            "build the state into an Image (run_commands, add_local_dir) used by one of the app's functions, so "
            "`toolkit deploy` builds it and Sandbox.create(image=...) runs it, or keep the files in a toolkit.Volume"))

    @property
    def logs(self) -> AwsSandboxLogs:
        """The task's CloudWatch stream: the main command's output (`toolkit.sandboxes.aws_logs`)."""
        return AwsSandboxLogs(self.object_id, self.sandboxes.config.log_group,
                              log_stream(self.sandboxes.config.container, self.record["task"]))

    @aio_method
    def reload_volumes(self, *, timeout: int = 55) -> None:
        """Pull what other containers committed into the sandbox's volumes (the agent reloads each copy);
        ``TimeoutError`` past ``timeout`` seconds (the reload may still finish)."""
        request = uuid.uuid4().hex
        self._send({"op": "reload", "request": request})
        deadline = time.monotonic() + timeout
        while (item := self._item(f"reloaded#{request}")) is None:
            if self.poll() is not None:
                raise SandboxTerminatedError(f"Sandbox {self.object_id} has already ended; its volumes were "
                                             "committed when it ended.")
            if time.monotonic() > deadline:
                raise TimeoutError(f"Sandbox {self.object_id}: reload_volumes did not finish within {timeout} s.")
            time.sleep(POLL_S)
        if item["code"]["N"] != "0":
            raise InvalidError(f"Sandbox {self.object_id}: reloading its volumes failed; the task's log says why "
                               "(sb.logs.tail()).")

    def mount_image(self, path: Any, image: Any, *, _experimental_encryption_key: bytes | None = None) -> None:
        raise NotSupportedError(refusal(
            "Sandbox.mount_image on AWS", "a Fargate task's filesystem takes no image after it starts",
            "create the sandbox with image=... (an image the deploy built), or write files with sb.filesystem"))

    def unmount_image(self, path: Any) -> None:
        raise NotSupportedError(refusal("Sandbox.unmount_image on AWS", "nothing can be mounted into a Fargate task",
                                        "create a new sandbox instead"))

    def snapshot_directory(self, path: Any, *, timeout: int = 55, ttl: int | None = 2592000,
                           _experimental_encryption_key: bytes | None = None) -> Any:
        raise NotSupportedError(refusal(
            "Sandbox.snapshot_directory on AWS", "a Fargate task's files cannot become an image",
            "copy the files out with sb.filesystem.read_bytes (or a tar through sb.exec) and keep them in a "
            "toolkit.Volume"))

    def detach(self) -> None:
        """Nothing to let go of: the handle holds no connection, only the sandbox's id (the task keeps
        running; ``from_id`` gets it back from any process)."""

    @aio_method
    def terminate(self, *, wait: bool = False) -> int | None:
        """Tell the agent, stop the task, delete the queue; with ``wait``, the exit code."""
        ecs, sqs, _ = _clients()
        with contextlib.suppress(sqs.exceptions.QueueDoesNotExist):  # already ended: terminate is idempotent
            self._send({"op": "terminate"})
            sqs.delete_queue(QueueUrl=self.record["queue"])
        ecs.stop_task(cluster=self._cluster, task=self.record["task"],
                      reason=f"toolkit: sandbox {self.object_id} terminated")
        self._ended(137)
        self.sandboxes.sweep()  # its tunnel group, once ECS has removed the interface (else a later sweep)
        return 137 if wait else None

    def exec(self, *args: str, stdout: StreamType | None = None, stderr: StreamType | None = None,
             timeout: int | None = None, workdir: str | None = None, env: Mapping[str, str | None] | None = None,
             secrets: Sequence[Any] | None = None, text: bool = True, bufsize: int = -1, pty: bool = False,
             _pty_info: Any = None, pty_info: Any = None) -> AwsProcess:
        """Run ``args`` in the task through the agent; the local ``exec``'s parameters, the same meaning."""
        if pty:
            raise NotSupportedError("Sandbox.exec(pty=True) is not supported by toolkit: exec has no pseudo-terminal. "
                                    "Instead, run the command without it and use the process's stdin/stdout.")
        refuse_exec_pty_info(pty_info, _pty_info)
        if self.poll() is not None:
            raise SandboxTerminatedError(f"Sandbox {self.object_id} has already ended; create a new one.")
        values = {k: v for secret in secrets or () for k, v in secret.values().items()}
        values.update({k: v for k, v in (env or {}).items() if v is not None})
        exec_id = uuid.uuid4().hex[:12]
        self._send({"op": "exec", "exec": exec_id, "args": list(args), "env": values, "workdir": workdir,
                    "timeout": timeout})
        return AwsProcess(self, exec_id, text, stdout or StreamType.PIPE, stderr or StreamType.PIPE)

    @property
    def stdout(self) -> StreamReader[Any]:
        return StreamReader(lambda: _Chunks(self, "main", "stdout"))

    @property
    def stderr(self) -> StreamReader[Any]:
        return StreamReader(lambda: _Chunks(self, "main", "stderr"))


@dataclass
class AwsProcess:
    """One ``exec`` in a sandbox task: its output read back from the table (``PIPE``), dropped
    (``DEVNULL``), or copied to this process's own stdout/stderr as it arrives (``STDOUT``)."""

    sandbox: AwsSandbox
    exec_id: str
    text: bool = True
    stdout_type: StreamType = StreamType.PIPE
    stderr_type: StreamType = StreamType.PIPE

    def __post_init__(self) -> None:
        self._copiers: list[threading.Thread] = []
        self.stdout: StreamReader[Any] = self._reader("stdout", self.stdout_type)
        self.stderr: StreamReader[Any] = self._reader("stderr", self.stderr_type)
        self.stdin = StreamWriter(_StdinPipe(self.sandbox, self.exec_id))  # type: ignore[arg-type]

    def _reader(self, stream: str, kind: StreamType) -> StreamReader[Any]:
        chunks = _Chunks(self.sandbox, self.exec_id, stream)
        if kind is StreamType.STDOUT:
            copier = threading.Thread(target=_copy_out, args=(chunks, stream), daemon=True,
                                      name=f"toolkit-sandbox-{stream}")
            copier.start()
            self._copiers.append(copier)
        return StreamReader(lambda: chunks if kind is StreamType.PIPE else None, self.text)

    def poll(self) -> int | None:
        item = self.sandbox._item(f"exit#{self.exec_id}")
        return None if item is None else int(item["code"]["N"])

    @property
    def returncode(self) -> int | None:
        return self.poll()

    @aio_method
    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"exec {self.exec_id} in {self.sandbox.object_id} still running after {timeout} s")
            if self.sandbox.poll() is not None:
                raise SandboxTerminatedError(f"Sandbox {self.sandbox.object_id} ended while exec {self.exec_id} ran.")
            time.sleep(POLL_S)
        for copier in self._copiers:  # what was printed is all there when wait() returns
            copier.join(timeout=COPY_WAIT_S)
        return code


def _copy_out(chunks: _Chunks, stream: str) -> None:
    """``StreamType.STDOUT``: the exec's stream onto this process's own (as a local exec inherits them)."""
    target = sys.stdout if stream == "stdout" else sys.stderr
    while data := chunks.read_some():
        target.buffer.write(data)
        target.buffer.flush()


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

    def read_some(self) -> bytes:
        """What has arrived (waiting for some); empty at the end of the stream."""
        if not self._buffer:
            self._more()
        data, self._buffer = self._buffer, b""
        return data


__all__ = ["AwsProcess", "AwsSandbox", "AwsSandboxConfig", "AwsSandboxes", "config_from_outputs",
           "deployed_sandboxes"]
