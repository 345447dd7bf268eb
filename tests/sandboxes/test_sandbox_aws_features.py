"""The AWS sandbox beyond exec, against moto: the image asked for, tunnels (a security group of the
sandbox's own and the task's public IP), GPU capacity, the file API, probes, tags and ``.aio``
through the agent's channel, and the options AWS refuses naming the alternative."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_support import gpu_capacity, register_image, start_agent
from loopback import free_port

import toolkit
from runtime.awsclients import client
from toolkit.exception import InvalidError, NotFoundError, NotSupportedError
from toolkit.sandboxes.aws import AwsSandbox, AwsSandboxes
from toolkit.sandboxes.aws_launch import GpuVariant

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def agent_of() -> Iterator[Any]:
    """Start the agent of a sandbox as its task would; every agent is ended with the test."""
    started: list[subprocess.Popen[bytes]] = []

    def start(sb: AwsSandbox, endpoint: str, **env: str) -> subprocess.Popen[bytes]:
        started.append(start_agent(sb, endpoint, env))
        return started[-1]

    yield start
    for agent in started:
        if agent.poll() is None:
            agent.kill()
            agent.wait(timeout=10)


def _run_task_requests() -> list[dict[str, Any]]:
    """What the control plane sent to RunTask, seen on its own botocore client (nothing replaced)."""
    seen: list[dict[str, Any]] = []
    client("ecs").meta.events.register("provide-client-params.ecs.RunTask",
                                       lambda params, **_: seen.append(dict(params)))
    return seen


# -- image= ------------------------------------------------------------------------------------------

def test_an_image_runs_its_planned_task_definition_and_an_unplanned_one_is_named(sandboxes):
    planned = register_image("demo-sandbox-img", "123.dkr.ecr.us-east-1.amazonaws.com/toolkit/demo:img")
    config = dataclasses.replace(sandboxes.config, images={"a" * 64: planned})
    with_images = AwsSandboxes(config)
    sb = with_images.create(app="demo", image_key="a" * 64, timeout=60)
    task = boto3.client("ecs").describe_tasks(cluster="demo", tasks=[sb.record["task"]])["tasks"][0]
    assert task["taskDefinitionArn"] == planned
    default = with_images.create(app="demo", timeout=60)
    task = boto3.client("ecs").describe_tasks(cluster="demo", tasks=[default.record["task"]])["tasks"][0]
    assert ":task-definition/demo-sandbox:" in task["taskDefinitionArn"]
    with pytest.raises(InvalidError, match=r"im-bbbbbbbbbbbbbbbbbbbbbbbb was not built.*@app.function\(image=\.\.\.\)"):
        with_images.create(app="demo", image_key="b" * 64, timeout=60)
    for each in (sb, default):
        each.terminate()
    assert boto3.client("sqs").list_queues(QueueNamePrefix="demo-sb-").get("QueueUrls", []) == []


# -- tunnels --------------------------------------------------------------------------------------------

def _give_public_ip(sb: AwsSandbox) -> str:
    """What Fargate does for assignPublicIp=ENABLED (moto does not): an address on the task's interface."""
    ec2 = boto3.client("ec2")
    task = boto3.client("ecs").describe_tasks(cluster="demo", tasks=[sb.record["task"]])["tasks"][0]
    eni = next(d["value"] for d in task["attachments"][0]["details"] if d["name"] == "networkInterfaceId")
    address = ec2.allocate_address(Domain="vpc")
    ec2.associate_address(AllocationId=address["AllocationId"], NetworkInterfaceId=eni)
    return str(address["PublicIp"])


def test_tunnels_are_the_tasks_public_ip_behind_a_group_of_its_own(sandboxes):
    requests = _run_task_requests()
    sb = sandboxes.create(app="demo", ports=[8080, 9000], inbound_cidr_allowlist=["203.0.113.7/32"], timeout=60)
    ec2 = boto3.client("ec2")
    [group] = ec2.describe_security_groups(GroupIds=[sb.record["tunnel_group"]])["SecurityGroups"]
    assert {(p["FromPort"], p["ToPort"], tuple(r["CidrIp"] for r in p["IpRanges"]))
            for p in group["IpPermissions"]} == {(8080, 8080, ("203.0.113.7/32",)), (9000, 9000, ("203.0.113.7/32",))}
    network = requests[-1]["networkConfiguration"]["awsvpcConfiguration"]
    assert network["securityGroups"] == [sandboxes.config.open_security_group, group["GroupId"]]
    assert network["assignPublicIp"] == "ENABLED"
    with pytest.raises(TimeoutError, match="no public IP after 1 s"):
        sb.tunnels(timeout=1)
    address = _give_public_ip(sb)
    tunnels = sb.tunnels()
    assert tunnels[8080].url == f"http://{address}:8080" and tunnels[9000].tcp_socket == (address, 9000)
    assert asyncio.run(sb.tunnels.aio())[8080].host == address
    with pytest.raises(NotFoundError, match=r"Port 22 .*unencrypted_ports=\[22\]"):
        tunnels[22]  # noqa: B018 - the lookup is the use
    sb.terminate()
    assert not ec2.describe_security_groups(
        Filters=[{"Name": "group-id", "Values": [group["GroupId"]]}])["SecurityGroups"]  # swept once ended


def test_a_failed_start_leaves_no_queue_and_no_tunnel_group(sandboxes):
    broken = AwsSandboxes(dataclasses.replace(sandboxes.config, images={"e" * 64: "demo-never-registered"}))
    with pytest.raises(InvalidError, match=r"task definition 'demo-never-registered' on cluster 'demo'.*deploy it again"):
        broken.create(app="demo", image_key="e" * 64, ports=[8080], timeout=60)
    assert boto3.client("sqs").list_queues(QueueNamePrefix="demo-sb-").get("QueueUrls", []) == []
    groups = boto3.client("ec2").describe_security_groups(
        Filters=[{"Name": "tag-key", "Values": ["toolkit:sandbox-tunnel"]}])["SecurityGroups"]
    assert groups == []


def test_without_ports_no_group_is_made_and_tunnels_are_empty(sandboxes):
    sb = sandboxes.create(app="demo", timeout=60)
    assert sb.record["tunnel_group"] is None and dict(sb.tunnels()) == {}
    with pytest.raises(InvalidError, match="'not-a-cidr' is not a CIDR block"):
        sandboxes.create(app="demo", ports=[80], inbound_cidr_allowlist=["not-a-cidr"])
    private = AwsSandboxes(dataclasses.replace(sandboxes.config, assign_public_ip=False))
    with pytest.raises(InvalidError, match="private subnets"):
        private.create(app="demo", ports=[80])
    sb.terminate()


# -- gpu= ------------------------------------------------------------------------------------------------

def test_a_gpu_sandbox_runs_on_the_gpu_functions_capacity(sandboxes):
    definition = gpu_capacity("demo-app", "demo-sandbox-gpu-a10g")
    variant = GpuVariant("A10G", 1, "c" * 64, definition, "demo-train-gpu", "demo-app")
    gpus = AwsSandboxes(dataclasses.replace(sandboxes.config, gpu=(variant,)))
    requests = _run_task_requests()
    sb = gpus.create("nvidia-smi", app="demo", gpu="a10g", timeout=60, memory=8000)
    request = requests[-1]
    assert request["capacityProviderStrategy"] == [{"capacityProvider": "demo-train-gpu", "weight": 1}]
    assert request["cluster"] == "demo-app" and "launchType" not in request and "networkConfiguration" not in request
    assert request["overrides"]["containerOverrides"][0]["memoryReservation"] == 8000
    task = boto3.client("ecs").describe_tasks(cluster="demo-app", tasks=[sb.record["task"]])["tasks"][0]
    assert task["taskDefinitionArn"] == definition and sb.poll() is None  # found in the app's cluster
    sb.terminate()
    stopped = boto3.client("ecs").describe_tasks(cluster="demo-app", tasks=[sb.record["task"]])["tasks"][0]
    assert stopped["lastStatus"] == "STOPPED"
    with pytest.raises(InvalidError, match=r"no GPU sandbox for H100:1; planned: A10G:1"):
        gpus.create(app="demo", gpu="H100")
    with pytest.raises(InvalidError, match=r"with image im-dddd.*planned: A10G:1"):
        gpus.create(app="demo", gpu="A10G", image_key="d" * 64)
    with pytest.raises(NotSupportedError, match=r"block_network=True.*drop gpu="):
        gpus.create(app="demo", gpu="A10G", block_network=True)
    with pytest.raises(InvalidError, match=r"planned no GPU capacity.*@app.function\(gpu='A10G'\)"):
        sandboxes.create(app="demo", gpu="A10G")


# -- files, probes, tags, .aio through the channel ------------------------------------------------------

def test_files_probes_tags_and_aio_through_the_agent(sandboxes, endpoint, agent_of, tmp_path):
    port = free_port()
    server = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    sb = sandboxes.create(*server, app="demo", timeout=90, tags={"team": "a"},
                          probe=toolkit.Probe.with_tcp(port, interval_ms=50).to_dict(), workdir=str(tmp_path))
    agent_of(sb, endpoint)
    sb.wait_until_ready(timeout=30)
    with socket.create_connection(("127.0.0.1", port), timeout=10):
        pass  # the probe passed because the server listens
    work = tmp_path / "work"
    fs = sb.filesystem
    fs.make_directory(str(work / "deep"))
    fs.write_text("over the queue\n", str(work / "deep" / "a.txt"))
    assert fs.read_bytes(str(work / "deep" / "a.txt")) == b"over the queue\n"
    assert [(i.name, i.size) for i in fs.list_files(str(work / "deep"))] == [("a.txt", 15)]
    with sb.open(str(work / "b.txt"), "w") as fh:
        fh.write("written on close\n")
    assert sb.ls(str(work)) == ["b.txt", "deep"] and Path(work / "b.txt").read_text() == "written on close\n"
    sb.rm(str(work), recursive=True)
    assert not work.exists()
    with pytest.raises(InvalidError, match="nowhere"):
        fs.read_text(str(tmp_path / "nowhere"))

    async def aio() -> tuple[str, int, dict[str, str]]:
        await sb.set_tags.aio({"team": "b"})
        process = sb.exec("echo", "async")
        code = await process.wait.aio()
        return process.stdout.read(), code, await sb.get_tags.aio()

    assert asyncio.run(aio()) == ("async\n", 0, {"team": "b"})
    assert [s.object_id for s in sandboxes.list("demo", tags={"team": "b"})] == [sb.object_id]
    assert sandboxes.from_id(sb.object_id).get_tags() == {"team": "b"}
    with pytest.raises(NotSupportedError, match=r"snapshot_filesystem on AWS.*Sandbox.create\(image=\.\.\.\)"):
        sb.snapshot_filesystem()
    asyncio.run(sb.terminate.aio())
    assert sb.poll() == 137


def test_an_exec_probe_and_a_sandbox_without_one(sandboxes, endpoint, agent_of, tmp_path):
    flag = tmp_path / "ready"
    sb = sandboxes.create("sh", "-c", f"sleep 0.3; touch {flag}; sleep 60", app="demo", timeout=60,
                          probe=toolkit.Probe.with_exec("test", "-e", str(flag)).to_dict())
    agent_of(sb, endpoint)
    sb.wait_until_ready(timeout=30)
    assert flag.exists()
    plain = sandboxes.create(app="demo", timeout=60)
    with pytest.raises(InvalidError, match="no readiness probe"):
        plain.wait_until_ready(timeout=1)
    for each in (sb, plain):
        each.terminate()


def test_exec_takes_the_local_parameters_on_aws(sandboxes, endpoint, agent_of, capfd):
    from toolkit.sandboxes.streams import StreamType

    sb = sandboxes.create(app="demo", timeout=60)
    agent_of(sb, endpoint)
    secret = toolkit.Secret.from_dict({"TOKEN": "from-secret"})
    shown = sb.exec("sh", "-c", 'echo "$TOKEN $EXTRA"', secrets=[secret], env={"EXTRA": "x", "DROPPED": None})
    assert shown.stdout.read() == "from-secret x\n" and shown.wait(timeout=30) == 0
    quiet = sb.exec("echo", "dropped", stdout=StreamType.DEVNULL)
    assert quiet.wait(timeout=30) == 0 and quiet.stdout.read() == ""
    capfd.readouterr()
    printed = sb.exec("sh", "-c", "echo to-terminal; echo err-terminal >&2", stdout=StreamType.STDOUT,
                      stderr=StreamType.STDOUT)
    assert printed.wait(timeout=30) == 0 and printed.stdout.read() == ""
    out, err = capfd.readouterr()
    assert "to-terminal" in out and "err-terminal" in err
    with pytest.raises(NotSupportedError, match="pty"):
        sb.exec("true", pty=True)
    with pytest.raises(NotSupportedError, match="pty_info="):
        sb.exec("true", pty_info=object())
    sb.terminate()


# -- what Sandbox.create refuses inside a deployed function ---------------------------------------------

@pytest.fixture
def deployed(sandboxes, monkeypatch) -> AwsSandboxes:
    from runtime.environment import VARIABLES, sandbox_config_item

    config = sandboxes.config
    outputs = {"cluster": config.cluster, "task_definition": config.task_definition, "container": config.container,
               "table": config.table, "subnets": list(config.subnets), "assign_public_ip": True,
               "open_security_group": config.open_security_group, "queue_prefix": config.queue_prefix,
               "blocked_security_group": config.blocked_security_group, "vpc_id": config.vpc_id}
    boto3.client("dynamodb").put_item(TableName=config.table, Item=sandbox_config_item(outputs))
    for field, value in {"manifest": "/var/task/toolkit-manifest.json", "function": "run", "calls_table": "calls",
                         "state_table": config.table}.items():
        monkeypatch.setenv(VARIABLES[field], value)
    return sandboxes


@pytest.mark.parametrize(("options", "named", "alternative"), [
    ({"encrypted_ports": [443]}, "encrypted_ports", "unencrypted_ports=[...]"),
    ({"h2_ports": [443]}, "h2_ports", "unencrypted_ports=[...]"),
    ({"outbound_cidr_allowlist": ["10.0.0.0/8"]}, "outbound_cidr_allowlist", "block_network=True"),
    ({"cloud": "gcp"}, "cloud='gcp'", "leave cloud unset"),
    ({"region": "eu-west-1"}, "region='eu-west-1'", "deploy the app to the region you need"),
    ({"runtime": "gvisor"}, "runtime='gvisor'", "leave runtime unset"),
])
def test_what_aws_cannot_honour_is_refused_naming_the_alternative(deployed, options, named, alternative):
    app = toolkit.App.lookup("demo", create_if_missing=True)
    with pytest.raises(NotSupportedError) as caught:
        toolkit.Sandbox.create("true", app=app, **options)
    assert named in str(caught.value) and alternative in str(caught.value)


def test_what_aws_honours_of_the_platform_options(deployed):
    app = toolkit.App.lookup("demo", create_if_missing=True)
    sb = toolkit.Sandbox.create(app=app, cloud="aws", region="us-east-1", runtime="vm", unencrypted_ports=[8080],
                                inbound_cidr_allowlist=["198.51.100.0/24"], timeout=60)
    assert sb.record["ports"] == [8080] and sb.record["tunnel_group"]
    sb.terminate()


# -- logs, volumes and image mounts on AWS ----------------------------------------------------------------

def test_logs_read_the_tasks_own_cloudwatch_stream(sandboxes):
    """What awslogs writes for the task (moto runs no containers: the events are put as the driver would)."""
    from datetime import datetime, timezone

    sb = sandboxes.create(app="demo", timeout=60)
    assert sb.logs.tail() == []  # nothing written yet: no group, no stream
    logs, group = boto3.client("logs"), sandboxes.config.log_group
    assert group == "/toolkit/demo/sandboxes"
    logs.create_log_group(logGroupName=group)
    now = int(datetime.now(timezone.utc).timestamp() * 1000)
    stream = "sandbox/sandbox/" + sb.record["task"].rsplit("/", 1)[1]
    for name, lines in ((stream, ["one", "two", "three"]), ("sandbox/sandbox/another-task", ["not mine"])):
        logs.create_log_stream(logGroupName=group, logStreamName=name)
        logs.put_log_events(logGroupName=group, logStreamName=name, logEvents=[
            {"timestamp": now - 3000 + 1000 * i, "message": line} for i, line in enumerate(lines)])
    assert [(e.message, e.source, e.object_id) for e in sb.logs.tail()] == [
        ("one", "stdout", sb.object_id), ("two", "stdout", sb.object_id), ("three", "stdout", sb.object_id)]
    assert [e.message for e in sb.logs.tail(1)] == ["three"]
    since = datetime.fromtimestamp((now - 2500) / 1000, tz=timezone.utc)
    assert [e.message for e in sb.logs.fetch(since=since)] == ["two", "three"]
    assert [e.message for e in sb.logs.fetch(since=since, search_text="thr")] == ["three"]
    with pytest.raises(InvalidError, match="source='both'"):
        sb.logs.tail(source="both")
    sb.terminate()


def test_image_mounts_are_refused_naming_the_alternative_and_an_unanswered_reload_times_out(sandboxes):
    sb = sandboxes.create(app="demo", timeout=60)
    with pytest.raises(TimeoutError, match="reload_volumes did not finish within 1 s"):
        sb.reload_volumes(timeout=1)  # no agent runs this task here: nobody answers
    with pytest.raises(NotSupportedError, match=r"mount_image on AWS.*image="):
        sb.mount_image("/mnt", toolkit.Image.debian_slim())
    with pytest.raises(NotSupportedError, match=r"snapshot_directory on AWS.*sb\.filesystem"):
        sb.snapshot_directory("/work")
    with pytest.raises(NotSupportedError, match=r"unmount_image on AWS"):
        sb.unmount_image("/mnt")
    sb.terminate()


def test_volumes_are_synced_in_at_start_and_committed_when_each_exec_ends(sandboxes, endpoint, agent_of, tmp_path):
    """The agent mounts the app's S3 volume as a function does; what an exec wrote is in S3 once wait() returns.
    The task runs with the volumes role (RunTask's taskRoleArn override), other sandboxes never do."""
    import shutil
    import uuid

    from runtime.volumes.s3 import DEFAULT_CACHE, S3VolumeStore

    bucket = f"demo-volumes-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    S3VolumeStore(bucket).create("weights")
    s3.put_object(Bucket=bucket, Key=S3VolumeStore.files_prefix("weights") + "in.txt", Body=b"from s3\n")
    role = "arn:aws:iam::123456789012:role/demo-sb-task-volumes"
    with_volumes = AwsSandboxes(dataclasses.replace(sandboxes.config, volumes=("weights",), volumes_task_role=role))
    path = str(tmp_path / "data")  # the agent runs on this machine here (moto runs no containers)
    sb = with_volumes.create(app="demo", timeout=60, volumes=[(path, "weights", False, False)])
    task = boto3.client("ecs").describe_tasks(cluster="demo", tasks=[sb.record["task"]])["tasks"][0]
    assert task["overrides"]["taskRoleArn"] == role
    plain = with_volumes.create(app="demo", timeout=60)
    task = boto3.client("ecs").describe_tasks(cluster="demo", tasks=[plain.record["task"]])["tasks"][0]
    assert "taskRoleArn" not in task["overrides"]  # the channel-only role of the task definition
    try:
        agent_of(sb, endpoint, TOOLKIT_VOLUME_BUCKET=bucket)
        process = sb.exec("cat", f"{path}/in.txt")
        assert process.stdout.read() == "from s3\n" and process.wait() == 0
        assert sb.exec("sh", "-c", f"echo written > {path}/out.txt").wait() == 0
        body = s3.get_object(Bucket=bucket, Key=S3VolumeStore.files_prefix("weights") + "out.txt")["Body"].read()
        assert body == b"written\n"  # committed before the exit code was reported
        s3.put_object(Bucket=bucket, Key=S3VolumeStore.files_prefix("weights") + "later.txt", Body=b"committed\n")
        assert sb.exec("test", "-e", f"{path}/later.txt").wait() == 1  # another container's commit: not yet seen
        sb.reload_volumes(timeout=30)
        assert sb.exec("cat", f"{path}/later.txt").stdout.read() == "committed\n"
        with pytest.raises(InvalidError, match=r"volume 'other' is not one sandboxes of this deploy may mount "
                                               r"\(planned: weights\).*@app.function\(volumes="):
            with_volumes.create(app="demo", timeout=60, volumes=[("/other", "other", True, False)])
        with pytest.raises(InvalidError, match=r"volume 'weights'.*planned: none"):
            sandboxes.create(app="demo", timeout=60, volumes=[("/data", "weights", False, False)])
    finally:
        for each in (sb, plain):
            each.terminate()
        shutil.rmtree(f"{DEFAULT_CACHE}/{bucket}", ignore_errors=True)


def test_a_volume_the_deploy_did_not_grant_is_named_with_the_fix(deployed):
    app = toolkit.App.lookup("demo", create_if_missing=True)
    with pytest.raises(InvalidError, match=r"volume 'weights' is not one sandboxes of this deploy may mount"):
        toolkit.Sandbox.create("true", app=app, volumes={"/data": toolkit.Volume.from_name("weights")})
    with pytest.raises(InvalidError, match=r"must be a toolkit.Volume"):
        toolkit.Sandbox.create("true", app=app, volumes={"/data": object()})


def test_filesystem_watch_works_through_the_agents_channel(sandboxes, endpoint, agent_of, tmp_path):
    from toolkit.sandboxes.filesystem import FileWatchEventType

    watched = tmp_path / "w"  # the agent runs on this machine here (moto runs no containers)
    watched.mkdir()
    sb = sandboxes.create(app="demo", timeout=60)
    try:
        agent_of(sb, endpoint)
        changes = sb.filesystem.watch(str(watched), timeout=3)
        assert sb.exec("sh", "-c", f"echo hi > {watched}/made.txt").wait() == 0
        assert [(e.type, e.paths) for e in changes] == [(FileWatchEventType.Create, [f"{watched}/made.txt"])]
    finally:
        sb.terminate()


def test_without_image_a_deployed_sandbox_runs_debian_slim_as_locally(deployed):
    """Sandbox.create() with no image= is debian_slim on the platform and locally; the deploy builds it for
    sandboxes (toolkit.sandboxes.declared), so on AWS it is that image too, not one of the functions'."""
    from runtime.environment import sandbox_config_item

    config = deployed.config
    planned = register_image("demo-sandbox-slim", "123.dkr.ecr.us-east-1.amazonaws.com/toolkit/demo:slim")
    outputs = {"cluster": config.cluster, "task_definition": config.task_definition, "container": config.container,
               "table": config.table, "subnets": list(config.subnets), "assign_public_ip": True,
               "open_security_group": config.open_security_group, "queue_prefix": config.queue_prefix,
               "blocked_security_group": config.blocked_security_group, "vpc_id": config.vpc_id,
               "images": {toolkit.Image.debian_slim().spec_hash: planned}}
    boto3.client("dynamodb").put_item(TableName=config.table, Item=sandbox_config_item(outputs))
    sb = toolkit.Sandbox.create("true", app=toolkit.App.lookup("demo", create_if_missing=True), timeout=60)
    task = boto3.client("ecs").describe_tasks(cluster="demo", tasks=[sb.record["task"]])["tasks"][0]
    assert task["taskDefinitionArn"] == planned
    sb.terminate()
