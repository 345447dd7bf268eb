"""The worker definitions from ``infra.asl`` executed by moto server's Step Functions engine.

moto runs the ASL interpreter for real (Pass, Task, Retry, intrinsics, timeouts) and calls the
task's service on itself. What it cannot do, and what stands in:

* Lambda: moto does not run Lambda code (``lambda.use_docker=false``); with that setting its
  Lambda invoke returns a canned payload. The ``lambda:invoke`` definition is therefore
  executed as emitted, against a zip function registered in moto: the state machine, the
  invoke parameters and the payload contract are real, the handler is not.
* ECS: moto's ``ecs:runTask.sync`` integration passes the ASL's PascalCase parameters to boto
  unconverted and fails with ``States.Runtime: 'Cluster'`` on any real runTask request. So the
  ECS definition is executed with exactly one substitution: the ``RunWorker`` task's
  ``Resource``/``Parameters`` become a ``dynamodb:putItem`` (which moto executes) writing the
  very string the container would get in ``TOOLKIT_WORKER_TASK``. The ``BuildWorkerTask`` Pass
  state, the ``States.JsonToString`` intrinsic, ``TimeoutSeconds``, ``Retry``, ``ResultPath``
  and ``End`` are the emitted ones; the runTask parameters are checked structurally.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto_support import finished_execution, reset

from infra.asl import WORKER_TASK_ENV, EcsTarget, Retry, build_definition

REGION = "us-east-1"


@pytest.fixture
def moto_url(moto_endpoint: str) -> str:
    """The suite's moto server (tests/conftest.py), emptied for each test: after one execution,
    moto 5.2 fails (500, cannot pickle an RLock) to start executions of any other state machine
    in the same server until it is reset."""
    reset(moto_endpoint)
    return moto_endpoint


def _client(service: str, url: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )


def _role(url: str, name: str) -> str:
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    return str(_client("iam", url).create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])


def _start(url: str, name: str, definition: dict[str, Any], call_id: str, tag: str) -> tuple[Any, str]:
    sfn = _client("stepfunctions", url)
    arn = sfn.create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=_role(url, name + "-role"), type="STANDARD"
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"call_id": call_id, "function": tag}))
    return sfn, execution["executionArn"]


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buf.getvalue()


def test_lambda_worker_definition_succeeds_on_moto(moto_url: str) -> None:
    lam = _client("lambda", moto_url)
    fn_arn = lam.create_function(
        FunctionName="square",
        Runtime="python3.11",
        Role=_role(moto_url, "fn-role"),
        Handler="handler.handler",
        Code={"ZipFile": _zip()},
    )["FunctionArn"]
    definition = build_definition(tag="square", timeout=300, calls_table="calls", retry=Retry(max_retries=2), function_arn=fn_arn)
    sfn, execution_arn = _start(moto_url, "square-worker", definition, "fc-lambda1", "square")
    desc = finished_execution(sfn, execution_arn)
    assert desc["status"] == "SUCCEEDED", desc
    # ResultPath null: the execution ends with its own input, the result lives in the calls table.
    assert json.loads(desc["output"]) == {"call_id": "fc-lambda1", "function": "square"}
    history = sfn.get_execution_history(executionArn=execution_arn)["events"]
    scheduled = [e for e in history if e["type"] == "TaskScheduled"]
    params = json.loads(scheduled[0]["taskScheduledEventDetails"]["parameters"])
    # the first try: attempt 0 ($$.State.RetryCount; a retry may take the call back, runtime/worker.py)
    assert params["Payload"] == {"toolkit_event": "worker_task", "call_id": "fc-lambda1", "function": "square",
                                 "attempt": 0}


def _ecs_target() -> EcsTarget:
    return EcsTarget(
        cluster="arn:aws:ecs:us-east-1:123456789012:cluster/toolkit",
        task_definition="arn:aws:ecs:us-east-1:123456789012:task-definition/train:1",
        container="function",
        subnets=("subnet-1",),
        security_groups=("sg-1",),
    )


def _substitute_put_item(definition: dict[str, Any], table: str) -> dict[str, Any]:
    """Swap only the runTask call for a putItem of the worker task moto can execute."""
    substituted = json.loads(json.dumps(definition))
    task = substituted["States"]["RunWorker"]
    env = task["Parameters"]["Overrides"]["ContainerOverrides"][0]["Environment"][0]
    task["Resource"] = "arn:aws:states:::dynamodb:putItem"
    task["Parameters"] = {
        "TableName": table,
        "Item": {"call_id": {"S.$": "$.call_id"}, "worker_task": {"S.$": env["Value.$"]}},
    }
    return substituted


def test_ecs_worker_definition_succeeds_on_moto(moto_url: str) -> None:
    definition = build_definition(tag="train", timeout=3600, calls_table="calls", retry=Retry(max_retries=1), ecs=_ecs_target())
    run_task = definition["States"]["RunWorker"]
    assert run_task["Resource"] == "arn:aws:states:::ecs:runTask.sync"
    assert run_task["Parameters"]["LaunchType"] == "FARGATE"
    assert run_task["Parameters"]["Overrides"]["ContainerOverrides"][0]["Environment"][0]["Name"] == WORKER_TASK_ENV
    ddb = _client("dynamodb", moto_url)
    ddb.create_table(
        TableName="worker-tasks",
        KeySchema=[{"AttributeName": "call_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "call_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    sfn, execution_arn = _start(moto_url, "train-worker", _substitute_put_item(definition, "worker-tasks"), "fc-ecs1", "train")
    desc = finished_execution(sfn, execution_arn)
    assert desc["status"] == "SUCCEEDED", desc
    item = ddb.get_item(TableName="worker-tasks", Key={"call_id": {"S": "fc-ecs1"}})["Item"]
    assert json.loads(item["worker_task"]["S"]) == {"toolkit_event": "worker_task", "call_id": "fc-ecs1", "function": "train"}
