"""A worker state machine on moto whose executions pass at once, for the tests that start executions (spawn,
map, the Lambda handler's long calls) but run the worker in-process themselves."""

from __future__ import annotations

import json
import uuid

from runtime.awsclients import client

PASS = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


def pass_state_machine(prefix: str) -> str:
    """A new state machine named ``<prefix>-<random>`` whose one state passes; its ARN."""
    return str(client("stepfunctions").create_state_machine(
        name=f"{prefix}-{uuid.uuid4().hex[:12]}", definition=json.dumps(PASS),
        roleArn="arn:aws:iam::123456789012:role/toolkit-sfn")["stateMachineArn"])


__all__ = ["PASS", "pass_state_machine"]
