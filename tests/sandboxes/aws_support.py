"""The resources a sandbox deploy plans, made on the suite's moto server (tests/moto_support.py), and the
agent started as Fargate would start it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import moto_support
from moto_support import aws_environ, post

from toolkit.sandboxes.aws import AwsSandbox, AwsSandboxConfig

__all__ = ["aws_environ", "gpu_capacity", "plan_resources", "register_image", "reset", "start_agent"]

REPO = Path(__file__).resolve().parents[2]


def reset(endpoint: str) -> None:
    """A clean account; tasks stay RUNNING until StopTask (moto would advance them on every DescribeTasks)."""
    moto_support.reset(endpoint)
    post(f"{endpoint}/moto-api/state-manager/set-transition",
         {"model_name": "ecs::task", "transition": {"progression": "manual", "times": 10**9}})


def plan_resources() -> AwsSandboxConfig:
    """What `infra.components.sandboxes` declares, made directly on moto."""
    import boto3

    ec2, ecs, dynamodb = boto3.client("ec2"), boto3.client("ecs"), boto3.client("dynamodb")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    open_sg = ec2.create_security_group(GroupName="sb-open", Description="egress", VpcId=vpc)["GroupId"]
    blocked_sg = ec2.create_security_group(GroupName="sb-blocked", Description="channel only", VpcId=vpc)["GroupId"]
    dynamodb.create_table(TableName="demo-state", BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                {"AttributeName": "sk", "AttributeType": "S"}])
    ecs.create_cluster(clusterName="demo")
    ecs.register_task_definition(family="demo-sandbox", networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
                                 cpu="512", memory="1024", containerDefinitions=[
                                     {"name": "sandbox", "image": "123.dkr.ecr.us-east-1.amazonaws.com/toolkit/demo:t",
                                      "essential": True, "cpu": 512, "memory": 1024}])
    return AwsSandboxConfig(cluster="demo", task_definition="demo-sandbox", container="sandbox", table="demo-state",
                            subnets=(subnet,), open_security_group=open_sg, blocked_security_group=blocked_sg,
                            queue_prefix="demo-sb-", vpc_id=vpc)


def register_image(family: str, image: str) -> str:
    """A Fargate sandbox task definition of another function image, as the deploy plans one per image."""
    import boto3

    return str(boto3.client("ecs").register_task_definition(
        family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="512", memory="1024",
        containerDefinitions=[{"name": "sandbox", "image": image, "essential": True, "cpu": 512, "memory": 1024}],
    )["taskDefinition"]["taskDefinitionArn"])


def gpu_capacity(cluster: str, family: str) -> str:
    """The app's cluster with one (GPU) container instance and a GPU sandbox task definition in bridge mode.

    moto places EC2 tasks only on registered container instances and wants ``memory`` where the plan
    gives ``memoryReservation``; the task definition's GPU requirement is what matters here."""
    import boto3

    ecs, ec2 = boto3.client("ecs"), boto3.client("ec2")
    ecs.create_cluster(clusterName=cluster)
    instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ecs.register_container_instance(cluster=cluster, instanceIdentityDocument=json.dumps({"instanceId": instance}))
    return str(ecs.register_task_definition(
        family=family, networkMode="bridge", requiresCompatibilities=["EC2"], containerDefinitions=[{
            "name": "sandbox", "image": "123.dkr.ecr.us-east-1.amazonaws.com/toolkit/demo:gpu", "essential": True,
            "cpu": 512, "memory": 512, "resourceRequirements": [{"type": "GPU", "value": "1"}]}],
    )["taskDefinition"]["taskDefinitionArn"])


def start_agent(sb: AwsSandbox, endpoint: str, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Run the command RunTask was given (read back from DescribeTasks), as the task's container would.

    moto runs no containers, so the agent runs as a plain process here: the commands these tests send
    are echo/cat/sh one-liners.  Isolation itself is what the podman tests and Fargate provide."""
    import boto3

    task = boto3.client("ecs").describe_tasks(cluster=sb.sandboxes.config.cluster, tasks=[sb.record["task"]])["tasks"][0]
    command = task["overrides"]["containerOverrides"][0]["command"]  # the agent entrypoint's arguments
    assert command[0] == "--sandbox-id"
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO), **aws_environ(endpoint), **(extra_env or {})}
    return subprocess.Popen([sys.executable, "-m", "runtime.sandbox_agent", *command], env=env, cwd=str(REPO))
