"""Deployed-app test data on moto: a call map in SSM as ``toolkit deploy`` writes it, call records
in a call table, Lambda metrics in CloudWatch (test_deployed_stats.py, test_app_logs.py)."""

from __future__ import annotations

import uuid
from datetime import datetime

from runtime.awsclients import client
from runtime.callmap import CallMap, MappedFunction, parameter_name
from runtime.callstore.base import CallStatus
from runtime.callstore.dynamodb import DynamoDBCallStore
from toolkit.deploy.names import stack_name

REGION = "us-east-1"
ACCOUNT = "123456789012"


def publish(app: str, table: str, functions: dict[str, MappedFunction]) -> None:
    stack = stack_name(app, None, region=REGION)
    call_map = CallMap(app, REGION, table, None, functions)
    client("ssm").put_parameter(Name=parameter_name(stack.project, stack.stack), Value=call_map.dumps(), Type="String")


def put_metric(function: str, metric: str, value: float, when: datetime) -> None:
    client("cloudwatch").put_metric_data(Namespace="AWS/Lambda", MetricData=[{
        "MetricName": metric, "Dimensions": [{"Name": "FunctionName", "Value": function}], "Value": value,
        "Timestamp": when}])


def record_calls(table: str, app: str, tag: str, **statuses: int) -> DynamoDBCallStore:
    """Calls of ``tag`` in each status: ``done=3, failed=1, running=1, pending=2``."""
    store = DynamoDBCallStore(table)
    for status, count in statuses.items():
        for _ in range(count):
            call_id = f"fc-{uuid.uuid4().hex}"
            store.create(call_id, app, tag, b"")
            if status != "pending":
                store.mark_running(call_id)
            if status in ("done", "failed"):
                store.complete(call_id, CallStatus(status), b"")
    return store


def lambda_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}:live"
