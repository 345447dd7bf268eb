"""``fn.stats()`` / ``fn.get_current_stats()`` (and ``App.stats()``) for functions that run on AWS.

The same `FunctionStats` / `FunctionCurrentStats` the local pools answer, filled from two sources,
each for what it knows:

* **the app's call table** (DynamoDB, `runtime.callstore`): every ``.remote``/``.spawn``/``.map`` of
  a callable function writes one record, so its status says how the input ended: DONE is a
  success; FAILED an exception the function raised, a lost worker, or a ``cancel()``.  Read with a
  Scan filtered by app and function: it reads the whole table (records expire after 7 days), so
  its cost grows with the app's traffic.  The backlog is counted on the sparse ``pending`` index.
* **CloudWatch** (``GetMetricData``, namespace AWS/Lambda, dimension FunctionName: every version
  and alias of the function): Invocations, Errors, Throttles, Duration percentiles and the most
  ConcurrentExecutions.  A Lambda's Errors are not the user's exceptions (the runtime records
  those as the call's result and the invocation succeeds): they are invocations whose execution
  environment failed (timeout, out of memory, crash), so they count as ``container_error_count``.

Field by field (what `DeployedStats.stats` fills in):

====================================  ==================================================================
``input_success_count``/``failure``   call records created in the window, DONE / FAILED; for a web
                                      endpoint (no call records) Invocations − Errors / Errors
``input_running_at_end_count``        call records created in the window still RUNNING (0 for a web endpoint)
``input_timeout_count``               0: a timeout is a FAILED record, and AWS does not count it apart
``input_cancelled_count``             0: a cancelled call is a FAILED record
``input_throttled_count``             Lambda Throttles: invocations refused at the concurrency limit
``execution_time`` percentiles        Lambda Duration p50/p90/p95/p99; ECS/GPU: record created → finished
                                      (queueing and the task's start included)
``container_total_count``             the most ConcurrentExecutions in the window (Lambda); 0 on ECS/GPU
``container_error_count``             Lambda Errors; 0 on ECS/GPU
``container_started_count``           0: Lambda publishes no cold-start count (its Init Duration is in the logs)
``container_creating_at_end_count``   0
====================================  ==================================================================

CloudWatch counts whole minutes: it rounds ``since`` down to the minute (to 5 minutes past 15 days,
to the hour past 63), and each query asks for one period spanning the window, so a percentile is
the window's, not a merge of per-minute ones (`period_for`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from toolkit.function_records import (
    FunctionCurrentStats,
    FunctionStats,
    StatsPercentile,
    StatsPercentileDistribution,
)

__all__ = ["DeployedFunction", "DeployedStats", "concurrency_query", "function_stats", "lambda_queries",
           "merge_stats", "metric_values", "period_for"]

MAX_QUERIES = 500  # MetricDataQueries in one GetMetricData request
QUERY_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")  # CloudWatch: letters, digits, _; a lowercase letter first
PERCENTILES = (50, 90, 95, 99)  # as the local pools report (toolkit.local.pool_stats)
# Since how long ago (at least) CloudWatch keeps data only at a coarser period: (age, period).
RETENTION_STEPS = ((timedelta(days=63), 3600), (timedelta(days=15), 300), (timedelta(0), 60))
CONCURRENCY_LOOKBACK = timedelta(minutes=5)  # get_current_stats: the newest per-minute datapoint in this
BACKLOG_CAP = 1000  # get_current_stats: pending calls counted (one page of the pending index)
_SUMS = {"invocations": "Invocations", "errors": "Errors", "throttles": "Throttles"}


@dataclass(frozen=True)
class DeployedFunction:
    """One deployed function as the stats need it: where its calls and metrics are."""

    app: str
    tag: str
    region: str
    lambda_name: str | None  # its Lambda function (metrics); None on ECS/GPU
    calls_table: str | None  # None for a web endpoint: it is called over HTTP, without records
    on_worker: bool = False  # runs as an ECS/GPU worker task: its run times come from the call records


def period_for(start: datetime, end: datetime, now: datetime) -> int:
    """One period covering ``[start, end)``, in the step CloudWatch keeps data of that age at
    (data older than 3 h needs a multiple of 60 s; 15 days, 300 s; 63 days, 3600 s).  One step more
    than the window: CloudWatch rounds StartTime down by up to a step, and the period must still
    reach ``end`` (one bucket, so a percentile is the window's)."""
    step = next((period for age, period in RETENTION_STEPS if now - start > age), 60)
    span = max(1, math.ceil((end - start).total_seconds()))
    return (math.ceil(span / step) + 1) * step


def lambda_queries(prefix: str, function_name: str, period: int) -> list[dict[str, Any]]:
    """The GetMetricData queries of one Lambda function; ids are ``<prefix>_<what>``."""
    dims = [{"Name": "FunctionName", "Value": function_name}]
    queries = [_query(f"{prefix}_{key}", metric, dims, "Sum", period) for key, metric in _SUMS.items()]
    queries.append(concurrency_query(prefix, function_name, period))
    queries += [_query(f"{prefix}_p{p}", "Duration", dims, f"p{p}", period) for p in PERCENTILES]
    return queries


def concurrency_query(prefix: str, function_name: str, period: int) -> dict[str, Any]:
    """The most ConcurrentExecutions per period (Lambda publishes it per minute, for every function)."""
    dims = [{"Name": "FunctionName", "Value": function_name}]
    return _query(f"{prefix}_concurrency", "ConcurrentExecutions", dims, "Maximum", period)


def _query(query_id: str, metric: str, dims: list[dict[str, str]], stat: str, period: int) -> dict[str, Any]:
    if not QUERY_ID.match(query_id):
        raise ValueError(f"CloudWatch query id {query_id!r} must start with a lowercase letter and hold only "
                         "letters, digits and '_'.")
    return {"Id": query_id, "ReturnData": True, "MetricStat": {
        "Metric": {"Namespace": "AWS/Lambda", "MetricName": metric, "Dimensions": dims},
        "Period": period, "Stat": stat}}


def metric_values(cloudwatch: Any, queries: list[dict[str, Any]], start: datetime,
                  end: datetime) -> dict[str, list[float]]:
    """Every query's values, asked `MAX_QUERIES` at a time, following NextToken."""
    values: dict[str, list[float]] = {q["Id"]: [] for q in queries}
    for first in range(0, len(queries), MAX_QUERIES):
        request: dict[str, Any] = {"MetricDataQueries": queries[first:first + MAX_QUERIES], "StartTime": start,
                                   "EndTime": end, "ScanBy": "TimestampDescending"}
        while True:
            page = cloudwatch.get_metric_data(**request)
            for result in page.get("MetricDataResults", []):
                values[result["Id"]] += [float(v) for v in result.get("Values", []) if v is not None]
            if not page.get("NextToken"):
                break
            request["NextToken"] = page["NextToken"]
    return values


class DeployedStats:
    """Stats of deployed functions, read with the region's boto3 clients."""

    def __init__(self, region: str) -> None:
        from runtime.awsclients import client

        self.region = region
        self.cloudwatch, self.dynamodb = client("cloudwatch", region), client("dynamodb", region)

    def stats(self, functions: list[DeployedFunction], start: datetime, end: datetime) -> list[FunctionStats]:
        """Each function's stats over ``[start, end)``; the Lambda metrics of all of them in one request."""
        period = period_for(start, end, datetime.now(timezone.utc))
        queries = [q for i, f in enumerate(functions) if f.lambda_name
                   for q in lambda_queries(f"f{i}", f.lambda_name, period)]
        values = metric_values(self.cloudwatch, queries, start, end) if queries else {}
        return [self._one(f, f"f{i}", values, start, end) for i, f in enumerate(functions)]

    def _one(self, fn: DeployedFunction, prefix: str, values: dict[str, list[float]], start: datetime,
             end: datetime) -> FunctionStats:
        outcomes = self._outcomes(fn, start, end) if fn.calls_table else None
        return function_stats(fn, prefix, values, outcomes, start, end)

    def current(self, fn: DeployedFunction) -> FunctionCurrentStats:
        """Now: pending calls (the backlog) from the pending index; running inputs from the call table
        (ECS/GPU: one task per call) or the newest ConcurrentExecutions minute (Lambda, where web
        requests count too).  Headroom and idle runners are 0: AWS reports neither."""
        backlog = self._pending(fn) if fn.calls_table else 0
        if fn.lambda_name:
            now = datetime.now(timezone.utc)
            query = concurrency_query("now", fn.lambda_name, 60)
            newest = metric_values(self.cloudwatch, [query], now - CONCURRENCY_LOOKBACK, now)["now_concurrency"]
            running = int(newest[0]) if newest else 0  # TimestampDescending: the newest minute first
        else:
            running = self._running(fn)
        return FunctionCurrentStats(backlog=backlog, num_total_runners=running, num_running_inputs=running,
                                    input_headroom=0, num_idle_runners=0)

    # -- the call table (attribute names as runtime/callstore/dynamodb.py writes them) --------------
    def _pending(self, fn: DeployedFunction) -> int:
        try:
            reply = self.dynamodb.query(
                TableName=fn.calls_table, IndexName="pending", Select="COUNT", Limit=BACKLOG_CAP,
                KeyConditionExpression="#pk = :pk", ExpressionAttributeNames={"#pk": "pending_key"},
                ExpressionAttributeValues={":pk": {"S": f"{fn.app}#{fn.tag}"}})
        except self.dynamodb.exceptions.ClientError as exc:
            # a table deployed before the index existed (AWS: ValidationException; moto: ResourceNotFound)
            if exc.response.get("Error", {}).get("Code") in ("ValidationException", "ResourceNotFoundException"):
                return 0
            raise
        return int(reply.get("Count", 0))

    def _outcomes(self, fn: DeployedFunction, start: datetime, end: datetime) -> _Outcomes:
        since, until = start.timestamp(), end.timestamp()
        outcomes = _Outcomes(0, 0, 0, [])
        for item in self._records(fn, "call_id, #st, created_at, updated_at"):
            created = float(item.get("created_at", {}).get("N", "nan"))
            if since <= created < until:  # records the scheduler wrote (no created_at) are left out
                outcomes.add(item["status"]["S"], float(item.get("updated_at", {}).get("N", created)) - created)
        return outcomes

    def _running(self, fn: DeployedFunction) -> int:
        return sum(1 for item in self._records(fn, "call_id, #st") if item["status"]["S"] == "running")

    def _records(self, fn: DeployedFunction, projection: str) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": fn.calls_table, "ProjectionExpression": projection,
            "FilterExpression": "#app = :app AND #fn = :fn",
            "ExpressionAttributeNames": {"#app": "app", "#fn": "function", "#st": "status"},  # reserved words
            "ExpressionAttributeValues": {":app": {"S": fn.app}, ":fn": {"S": fn.tag}}}
        while True:
            page = self.dynamodb.scan(**request)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@dataclass
class _Outcomes:
    done: int
    failed: int
    running: int
    durations: list[float]

    def add(self, status: str, seconds: float) -> None:
        if status == "done":
            self.done += 1
        elif status == "failed":
            self.failed += 1
        elif status == "running":
            self.running += 1
        if status in ("done", "failed"):
            self.durations.append(seconds)


def function_stats(fn: DeployedFunction, prefix: str, values: dict[str, list[float]], outcomes: _Outcomes | None,
                   start: datetime, end: datetime) -> FunctionStats:
    """One function's stats from its metric values (ids ``<prefix>_<what>``) and its call records
    (None for a web endpoint, which has none: then Lambda's counts are all there is)."""
    def total(key: str) -> int:
        return int(sum(values.get(f"{prefix}_{key}", [])))

    timing: dict[str, StatsPercentileDistribution] = {}
    lambda_times = [StatsPercentile(p, values[f"{prefix}_p{p}"][0] / 1000) for p in PERCENTILES
                    if values.get(f"{prefix}_p{p}")]  # Duration is in milliseconds
    counts = outcomes or _Outcomes(total("invocations") - total("errors"), total("errors"), 0, [])
    if lambda_times:
        timing["execution_time"] = StatsPercentileDistribution("seconds", lambda_times)
    elif fn.on_worker and counts.durations:
        timing["execution_time"] = _distribution(counts.durations)
    return FunctionStats(
        since=start, until=end, input_success_count=counts.done, input_failure_count=counts.failed,
        input_timeout_count=0, input_running_at_end_count=counts.running, input_percentile_stats=timing,
        container_started_count=0, container_error_count=total("errors") if fn.lambda_name else 0,
        container_creating_at_end_count=0, container_percentile_stats={},
        container_total_count=int(max(values.get(f"{prefix}_concurrency", []), default=0)),
        variant_count=1, all_variants=False, input_throttled_count=total("throttles"))


def _distribution(durations: list[float]) -> StatsPercentileDistribution:
    from toolkit.local.pool_stats import percentile

    ordered = sorted(durations)
    return StatsPercentileDistribution("seconds", [StatsPercentile(p, percentile(ordered, p)) for p in PERCENTILES])


def merge_stats(parts: Iterable[FunctionStats], start: datetime, end: datetime) -> FunctionStats:
    """Several functions' stats as one (``App.stats()``): counts summed, percentiles dropped (they do
    not add up), ``variant_count`` the number of pools or functions merged."""
    items = list(parts)

    def total(field: str) -> int:
        return sum(int(getattr(s, field)) for s in items)

    return FunctionStats(
        since=start, until=end, input_success_count=total("input_success_count"),
        input_failure_count=total("input_failure_count"), input_timeout_count=total("input_timeout_count"),
        input_running_at_end_count=total("input_running_at_end_count"), input_percentile_stats={},
        container_started_count=total("container_started_count"), container_error_count=total("container_error_count"),
        container_creating_at_end_count=total("container_creating_at_end_count"), container_percentile_stats={},
        container_total_count=total("container_total_count"), variant_count=total("variant_count"),
        all_variants=True, input_cancelled_count=total("input_cancelled_count"),
        input_throttled_count=total("input_throttled_count"))
