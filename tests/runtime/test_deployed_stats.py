"""``Function.stats()`` / ``get_current_stats()`` on a deployed function looked up through its call map,
on moto: CloudWatch metrics put with PutMetricData and read back with GetMetricData, call records in a
call table with the sparse ``pending`` index (toolkit/cloud_stats.py says which field comes from where).

moto answers GetMetricData for Sum and Maximum but fails (HTTP 500) on a percentile statistic over
data it holds, so Lambda's Duration percentiles are checked on an AWS-shaped reply from a small fake
client instead, and the queries against botocore's service model (unverified: AWS's percentile math).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator
from call_tables import create_indexed_call_table
from cloud_records import lambda_arn, publish, put_metric, record_calls

import toolkit
from runtime.awsclients import client
from runtime.callmap import MappedFunction
from toolkit.cloud_stats import (
    MAX_QUERIES,
    DeployedFunction,
    DeployedStats,
    function_stats,
    lambda_queries,
    metric_values,
    period_for,
)
from toolkit.deploy.autoscaler import deployed_names
from toolkit.exception import NotSupportedError

pytestmark = pytest.mark.timeout(120)

REGION = "us-east-1"
ACCOUNT = "123456789012"


@pytest.fixture
def app_name(aws: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("TOOLKIT_ENVIRONMENT", raising=False)
    return f"stats-{uuid.uuid4().hex[:6]}"  # a new name: lookups are cached per app name


def test_a_deployed_lambdas_stats_come_from_its_call_records_and_cloudwatch(aws: Any, app_name: str) -> None:
    table = f"calls-{uuid.uuid4().hex[:8]}"
    create_indexed_call_table(table)
    name = f"{app_name}-main-us-east-1-square"
    publish(app_name, table, {"square": MappedFunction("square", lambda_arn=lambda_arn(name))})
    record_calls(table, app_name, "square", done=3, failed=1, running=1)
    record_calls(table, app_name, "other", done=5)  # another function's calls are not counted
    now = datetime.now(timezone.utc)
    for metric, value in (("Invocations", 4), ("Errors", 1), ("Throttles", 2)):
        put_metric(name, metric, value, now - timedelta(minutes=10))
        put_metric(name, metric, 100, now - timedelta(hours=3))  # before the window: not counted
    put_metric(name, "ConcurrentExecutions", 3, now - timedelta(minutes=20))
    put_metric(name, "ConcurrentExecutions", 2, now - timedelta(minutes=5))

    stats = toolkit.Function.from_name(app_name, "square").stats(since=now - timedelta(hours=1), until=now)
    assert (stats.input_success_count, stats.input_failure_count, stats.input_running_at_end_count) == (3, 1, 1)
    assert (stats.container_error_count, stats.input_throttled_count, stats.container_total_count) == (1, 2, 3)
    assert stats.input_percentile_stats == {}  # no Duration data in moto (see the module's docstring)


def test_current_stats_of_a_deployed_lambda_read_the_backlog_and_the_newest_concurrency(aws: Any,
                                                                                       app_name: str) -> None:
    table = f"calls-{uuid.uuid4().hex[:8]}"
    create_indexed_call_table(table)
    name = f"{app_name}-main-us-east-1-square"
    publish(app_name, table, {"square": MappedFunction("square", lambda_arn=lambda_arn(name))})
    record_calls(table, app_name, "square", pending=2, running=1, done=1)
    now = datetime.now(timezone.utc)
    put_metric(name, "ConcurrentExecutions", 7, now - timedelta(minutes=3))
    put_metric(name, "ConcurrentExecutions", 4, now - timedelta(seconds=30))  # the newest minute wins
    current = toolkit.Function.from_name(app_name, "square").get_current_stats()
    assert (current.backlog, current.num_running_inputs, current.num_total_runners) == (2, 4, 4)
    assert (current.input_headroom, current.num_idle_runners) == (0, 0)


def test_an_ecs_worker_functions_stats_and_backlog_come_from_its_call_table(aws: Any, app_name: str) -> None:
    table = f"calls-{uuid.uuid4().hex[:8]}"
    create_indexed_call_table(table)
    machine = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{app_name}-main-us-east-1-train-worker"
    publish(app_name, table, {"train": MappedFunction("train", state_machine_arn=machine)})
    before = datetime.now(timezone.utc)
    record_calls(table, app_name, "train", done=2, failed=1, running=2, pending=3)
    train = toolkit.Function.from_name(app_name, "train")
    stats = train.stats(since=before - timedelta(seconds=1))
    assert (stats.input_success_count, stats.input_failure_count, stats.input_running_at_end_count) == (2, 1, 2)
    timing = stats.input_percentile_stats["execution_time"]  # record created -> finished
    assert timing.unit == "seconds" and [p.percentile for p in timing.percentiles] == [50, 90, 95, 99]
    assert all(0 <= p.value < 60 for p in timing.percentiles)
    assert stats.container_total_count == 0 and stats.container_error_count == 0  # no Lambda
    later = train.stats(since=datetime.now(timezone.utc) + timedelta(seconds=1),
                        until=datetime.now(timezone.utc) + timedelta(seconds=2))
    assert later.input_success_count == 0  # records outside the window are left out
    current = train.get_current_stats()
    assert (current.backlog, current.num_running_inputs, current.num_total_runners) == (3, 2, 2)


def test_a_lambda_web_endpoint_counts_what_lambda_saw(aws: Any, app_name: str) -> None:
    """A web endpoint writes no call records: Invocations − Errors succeeded, Errors failed."""
    names = deployed_names(app_name, "hello", None, REGION)
    role = client("iam").create_role(RoleName=f"{app_name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    client("lambda").create_function(FunctionName=names.function, Role=role, PackageType="Image",
                                     Code={"ImageUri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/x@sha256:{'a' * 64}"})
    publish(app_name, aws.table, {"hello": MappedFunction("hello", kind="fastapi_endpoint", url="https://x")})
    now = datetime.now(timezone.utc)
    put_metric(names.function, "Invocations", 5, now - timedelta(minutes=2))
    put_metric(names.function, "Errors", 1, now - timedelta(minutes=2))
    stats = toolkit.Function.from_name(app_name, "hello").stats()
    assert (stats.input_success_count, stats.input_failure_count, stats.container_error_count) == (4, 1, 1)


def test_an_ecs_web_service_refuses_naming_its_load_balancers_metrics(aws: Any, app_name: str) -> None:
    publish(app_name, aws.table, {"web": MappedFunction("web", kind="asgi_app", url="https://x")})
    with pytest.raises(NotSupportedError, match="RequestCount and TargetResponseTime"):
        toolkit.Function.from_name(app_name, "web").stats()


def test_more_functions_than_one_request_holds_are_asked_in_several(aws: Any) -> None:
    """70 functions x 8 queries: two GetMetricData requests; the last function's value still arrives."""
    now = datetime.now(timezone.utc)
    functions = [DeployedFunction("big", f"f{i}", REGION, f"big-f{i}", None) for i in range(70)]
    assert len(functions) * len(lambda_queries("f0", "x", 60)) > MAX_QUERIES
    put_metric("big-f69", "Invocations", 6, now - timedelta(minutes=1))
    put_metric("big-f0", "Invocations", 2, now - timedelta(minutes=1))
    found = DeployedStats(REGION).stats(functions, now - timedelta(minutes=30), now)
    assert (found[0].input_success_count, found[69].input_success_count, found[1].input_success_count) == (2, 6, 0)


# -- CloudWatch's constraints, from botocore's service model --------------------------------------------
def _get_metric_data() -> Any:
    return botocore.session.get_session().get_service_model("cloudwatch").operation_model("GetMetricData")


def test_queries_are_valid_get_metric_data_requests_with_ids_cloudwatch_accepts() -> None:
    operation = _get_metric_data()
    queries = lambda_queries("f499", "app-main-us-east-1-square", 3600)
    request = {"MetricDataQueries": queries, "StartTime": datetime(2026, 1, 1, tzinfo=timezone.utc),
               "EndTime": datetime(2026, 1, 2, tzinfo=timezone.utc)}
    report = ParamValidator().validate(request, operation.input_shape)
    assert not report.has_errors(), report.generate_report()
    id_doc = operation.input_shape.members["MetricDataQueries"].member.members["Id"].documentation
    assert "The first character must be a lowercase letter" in id_doc  # what QUERY_ID encodes
    assert all(re.fullmatch(r"[a-z][A-Za-z0-9_]*", q["Id"]) for q in queries)
    with pytest.raises(ValueError, match="lowercase letter"):
        lambda_queries("F0", "x", 60)


def test_one_request_holds_at_most_the_queries_cloudwatch_allows() -> None:
    doc = _get_metric_data().input_shape.members["MetricDataQueries"].documentation
    assert f"as many as {MAX_QUERIES} <code>MetricDataQuery</code>" in doc


@pytest.mark.parametrize(("age", "step"), [(timedelta(hours=1), 60), (timedelta(hours=4), 60),
                                           (timedelta(days=20), 300), (timedelta(days=70), 3600)])
def test_the_period_is_a_multiple_cloudwatch_keeps_data_of_that_age_at(age: timedelta, step: int) -> None:
    metric_stat = botocore.session.get_session().get_service_model("cloudwatch").shape_for("MetricStat")
    period_doc = re.sub("<[^>]+>", "", metric_stat.members["Period"].documentation)
    assert "must be a multiple of 60" in period_doc  # what RETENTION_STEPS encodes
    assert "Start time between 15 and 63 days ago - Use a multiple of 300 seconds" in period_doc
    assert "Start time greater than 63 days ago - Use a multiple of 3600 seconds" in period_doc
    now = datetime(2026, 6, 1, tzinfo=timezone.utc)
    for span in (timedelta(seconds=1), timedelta(minutes=59, seconds=30), age):
        period = period_for(now - age, now - age + span, now)
        assert period % step == 0  # the multiple CloudWatch needs for data that old
        assert period >= span.total_seconds() + step - 1  # one period spans the window after StartTime's rounding


class _FakeCloudWatch:
    """What AWS answers for percentile queries (moto cannot): pages, ids, milliseconds."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def get_metric_data(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        if "NextToken" not in request:
            return {"MetricDataResults": [{"Id": "f0_p50", "Values": [120.0]}], "NextToken": "more"}
        return {"MetricDataResults": [{"Id": "f0_p99", "Values": [900.0]}, {"Id": "f0_invocations", "Values": [3.0]}]}


def test_duration_percentiles_become_execution_time_in_seconds() -> None:
    fake, now = _FakeCloudWatch(), datetime.now(timezone.utc)
    queries = lambda_queries("f0", "fn", 3600)
    values = metric_values(fake, queries, now - timedelta(hours=1), now)
    assert len(fake.requests) == 2  # NextToken followed
    fn = DeployedFunction("a", "web", REGION, "fn", None)
    stats = function_stats(fn, "f0", values, None, now - timedelta(hours=1), now)
    timing = stats.input_percentile_stats["execution_time"]
    assert [(p.percentile, p.value) for p in timing.percentiles] == [(50, 0.12), (99, 0.9)]
    assert stats.input_success_count == 3
