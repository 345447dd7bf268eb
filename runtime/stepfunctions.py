"""Detached calls on AWS: record the call in DynamoDB, start a Step Functions execution.

Execution input is ``{"call_id": ..., "function": <tag>}``; the state machine's task
invokes this same image with ``{"toolkit_event": "worker_task", "call_id", "function"}``.
The execution is named after the call id, so a retried start cannot run the call twice.
"""

from __future__ import annotations

import json

from runtime.awsclients import client
from runtime.callstore.base import CallStore
from runtime.environment import ContainerEnv
from runtime.gateway.records import HTTPRequestRecord
from runtime.serialization import serialize


def execution_input(call_id: str, function: str) -> str:
    return json.dumps({"call_id": call_id, "function": function})


def start_execution(state_machine_arn: str, call_id: str, function: str) -> str:
    response = client("stepfunctions").start_execution(
        stateMachineArn=state_machine_arn, name=call_id, input=execution_input(call_id, function)
    )
    arn: str = response["executionArn"]
    return arn


def stop_execution(state_machine_arn: str, call_id: str, cause: str) -> bool:
    """Stop the execution `start_execution` started for ``call_id`` (Step Functions stops an ECS
    worker's ``runTask.sync`` task with it, best effort, which is why its role may ecs:StopTask; a
    Lambda invocation in flight runs on, and its result loses to whatever the call already recorded).
    False when there is no such execution (a direct ``.remote()`` invoke)."""
    from runtime.callstore.supervision import execution_arn

    sfn = client("stepfunctions")
    try:
        sfn.stop_execution(executionArn=execution_arn(state_machine_arn, call_id), error="Toolkit.Cancelled",
                           cause=cause[:32768])
    except sfn.exceptions.ExecutionDoesNotExist:
        return False
    return True


class StepFunctionsCalls:
    """The `CallPath` of the Lambda front handler: each detached call is a Step Functions execution."""

    def __init__(self, store: CallStore, app_name: str, state_machine_arn: str) -> None:
        self.store, self.app_name, self.state_machine_arn = store, app_name, state_machine_arn

    @classmethod
    def from_env(cls, store: CallStore, app_name: str, env: ContainerEnv | None = None) -> StepFunctionsCalls | None:
        arn = (env or ContainerEnv.from_environ()).state_machine_arn
        return cls(store, app_name, arn) if arn else None

    def start(self, call_id: str, function: str, request: HTTPRequestRecord) -> None:
        self.store.create(call_id, self.app_name, function, serialize(request))
        start_execution(self.state_machine_arn, call_id, function)
