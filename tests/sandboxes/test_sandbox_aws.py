"""The AWS control plane and exec channel against moto: RunTask/StopTask/DescribeTasks, the sandbox's
SQS queue, output chunks in the state table, read by a client that needs no inbound access."""

from __future__ import annotations

import statistics
import time

import boto3
import pytest
from aws_support import register_image, start_agent

from toolkit.exception import SandboxTerminatedError


def test_run_exec_streams_and_terminate(sandboxes, endpoint):
    sb = sandboxes.create("sh", "-c", "echo main-out; echo main-err >&2; sleep 60", app="demo", name="first",
                          tags={"team": "a"}, timeout=120, cpu=0.5, memory=1024)
    ecs = boto3.client("ecs")
    task = ecs.describe_tasks(cluster="demo", tasks=[sb.record["task"]], include=["TAGS"])["tasks"][0]
    assert task["lastStatus"] == "RUNNING" and task["startedBy"] == sb.object_id
    assert {t["key"]: t["value"] for t in task["tags"]} == {"toolkit:app": "demo", "toolkit:sandbox": sb.object_id,
                                                            "toolkit:sandbox-name": "first"}
    assert task["overrides"]["cpu"] == "512" and task["overrides"]["memory"] == "1024"
    agent = start_agent(sb, endpoint)
    try:
        assert next(iter(sb.stdout)) == "main-out\n"
        process = sb.exec("sh", "-c", "cat; echo done >&2; exit 3")
        process.stdin.write(b"through the queue\n")
        process.stdin.drain()
        process.stdin.write_eof()
        assert process.stdout.read() == "through the queue\n"
        assert process.stderr.read() == "done\n" and process.wait(timeout=30) == 3
        missing = sb.exec("no-such-command")
        assert missing.wait(timeout=30) == 127 and "no-such-command" in missing.stderr.read()
        assert [s.object_id for s in sandboxes.list("demo", tags={"team": "a"})] == [sb.object_id]
        assert sandboxes.from_name("demo", "first").object_id == sb.object_id
        assert sandboxes.from_id(sb.object_id).record["task"] == sb.record["task"]
        sb.terminate()
        # the agent ends on the terminate message, killing the main command's whole group at once (a
        # grandchild `sleep` holding the output pipe kept it 20 s in its pumps before)
        assert agent.wait(timeout=8) == 137
        assert sb._item("end")["reason"]["S"] == "terminated"
    finally:
        if agent.poll() is None:
            agent.kill()
    stopped = ecs.describe_tasks(cluster="demo", tasks=[sb.record["task"]])["tasks"][0]
    assert stopped["lastStatus"] == "STOPPED" and sb.object_id in stopped["stoppedReason"]
    queues = boto3.client("sqs").list_queues(QueueNamePrefix="demo-sb-").get("QueueUrls", [])
    assert sb.record["queue"] not in queues
    assert list(sandboxes.list("demo")) == []
    with pytest.raises(SandboxTerminatedError, match=sb.object_id):
        sb.exec("true")


def test_the_agent_ends_when_its_queue_is_deleted(sandboxes, endpoint):
    sb = sandboxes.create("sleep", "60", app="demo", timeout=120)
    agent = start_agent(sb, endpoint)
    try:
        boto3.client("sqs").delete_queue(QueueUrl=sb.record["queue"])
        assert agent.wait(timeout=15) == 137
    finally:
        if agent.poll() is None:
            agent.kill()
    assert sb._item("end")["reason"]["S"] == "terminated"
    sb.terminate()


def test_agent_enforces_timeout_and_reports_the_end(sandboxes, endpoint):
    sb = sandboxes.create("sleep", "60", app="demo", timeout=2)
    agent = start_agent(sb, endpoint)
    try:
        assert agent.wait(timeout=30) == 137
    finally:
        if agent.poll() is None:
            agent.kill()
    end = sb._item("end")
    assert end is not None and end["reason"]["S"] == "timeout"
    assert sb.poll() is not None and list(sandboxes.list("demo")) == []


def test_block_network_runs_in_the_blocked_security_group_without_public_ip(sandboxes):
    sb = sandboxes.create(app="demo", block_network=True, timeout=60)
    task = boto3.client("ecs").describe_tasks(cluster="demo", tasks=[sb.record["task"]])["tasks"][0]
    eni = [d["value"] for d in task["attachments"][0]["details"] if d["name"] == "networkInterfaceId"][0]
    groups = boto3.client("ec2").describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"][0]["Groups"]
    assert [g["GroupId"] for g in groups] == [sandboxes.config.blocked_security_group]
    sb.terminate()


def test_exec_round_trip_latency_under_moto(sandboxes, endpoint):
    """Measured, not asserted against a number: command in over SQS, output chunk and exit code back."""
    sb = sandboxes.create(app="demo", timeout=120)
    agent = start_agent(sb, endpoint)
    try:
        times = []
        for _ in range(5):
            started = time.perf_counter()
            process = sb.exec("echo", "hi")
            assert process.stdout.read() == "hi\n" and process.wait(timeout=30) == 0
            times.append(time.perf_counter() - started)
        print(f"AWS exec channel round trip under moto: median {statistics.median(times) * 1000:.0f} ms")
        sb.terminate()
        agent.wait(timeout=30)
    finally:
        if agent.poll() is None:
            agent.kill()


def test_toolkit_sandbox_inside_a_deployed_function_runs_on_ecs(sandboxes, endpoint, monkeypatch):
    """The public API in a deployed function: the config item the deploy writes, RunTask of the task
    definition planned for the image asked for, the channel."""
    import json

    import toolkit
    from runtime.environment import VARIABLES, sandbox_config_item

    config = sandboxes.config
    image = toolkit.Image.debian_slim()
    planned = register_image("demo-sandbox-slim", "123.dkr.ecr.us-east-1.amazonaws.com/toolkit/demo:slim")
    outputs = {"cluster": config.cluster, "task_definition": config.task_definition, "container": config.container,
               "table": config.table, "subnets": list(config.subnets), "assign_public_ip": True,
               "open_security_group": config.open_security_group, "queue_prefix": config.queue_prefix,
               "blocked_security_group": config.blocked_security_group, "vpc_id": config.vpc_id,
               "images": {image.spec_hash: planned}}
    boto3.client("dynamodb").put_item(TableName=config.table, Item=sandbox_config_item(outputs))
    for field, value in {"manifest": "/var/task/toolkit-manifest.json", "function": "run", "calls_table": "calls",
                         "state_table": config.table}.items():
        monkeypatch.setenv(VARIABLES[field], value)
    app = toolkit.App.lookup("demo", create_if_missing=True)
    sb = toolkit.Sandbox.create("sh", "-c", "echo from-ecs", app=app, name="deployed", timeout=60, image=image)
    task = boto3.client("ecs").describe_tasks(cluster="demo", tasks=[sb.record["task"]])["tasks"][0]
    assert task["overrides"]["containerOverrides"][0]["command"][-3:] == ["sh", "-c", "echo from-ecs"]
    assert task["taskDefinitionArn"] == planned  # the image asked for, not the app's
    agent = start_agent(sb, endpoint)
    try:
        assert sb.stdout.read() == "from-ecs\n"
        sb.wait()
        assert sb.returncode == 0 and agent.wait(timeout=15) == 0
    finally:
        if agent.poll() is None:
            agent.kill()
    assert toolkit.Sandbox.from_id(sb.object_id).object_id == sb.object_id
    assert list(toolkit.Sandbox.list(app_id="demo")) == []  # ended
    assert json.loads(boto3.client("dynamodb").get_item(TableName=config.table, Key={
        "pk": {"S": "sandboxes#config"}, "sk": {"S": "config"}})["Item"]["config"]["S"])["cluster"] == "demo"


def test_a_deployed_app_without_sandboxes_says_how_to_enable_them(sandboxes, monkeypatch):
    import toolkit
    from runtime.environment import VARIABLES

    for field, value in {"manifest": "/m.json", "function": "run", "calls_table": "calls",
                         "state_table": sandboxes.config.table}.items():
        monkeypatch.setenv(VARIABLES[field], value)
    with pytest.raises(toolkit.InvalidError, match="TOOLKIT_SANDBOXES=true"):
        toolkit.Sandbox.create("true", app=toolkit.App.lookup("demo", create_if_missing=True))
