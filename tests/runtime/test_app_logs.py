"""``App.logs`` / ``App.stats()`` and a deployed ECS/GPU function's ``fn.logs``.

Deployed: an app looked up through its call map (written here as ``toolkit deploy`` writes it) on
moto: log groups with events put by put_log_events, call records in the call table, Lambda metrics
put by PutMetricData.  Locally: a real ``python app.py`` process whose ``app.run()`` calls its
functions in worker processes and prints what ``App.logs`` and ``App.stats()`` saw.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from call_tables import create_indexed_call_table
from cloud_records import lambda_arn, publish, put_metric, record_calls

import toolkit
from runtime.awsclients import client
from runtime.callmap import MappedFunction
from toolkit.cloud_logs import CloudLogsView
from toolkit.exception import NotSupportedError

pytestmark = pytest.mark.timeout(180)

REGION = "us-east-1"
ACCOUNT = "123456789012"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def app_name(aws: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("TOOLKIT_ENVIRONMENT", raising=False)
    return f"logs-{uuid.uuid4().hex[:6]}"  # a new name: lookups are cached per app name


def write_lines(group: str, lines: list[tuple[datetime, str]]) -> None:
    logs = client("logs")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="task/1")
    logs.put_log_events(logGroupName=group, logStreamName="task/1", logEvents=[
        {"timestamp": int(when.timestamp() * 1000), "message": message} for when, message in lines])


def machine(app: str, tag: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{app}-main-us-east-1-{tag}-worker"


def test_a_deployed_ecs_functions_logs_are_read_from_the_group_in_its_call_map(aws: Any, app_name: str) -> None:
    group = f"/toolkit/{app_name}-main-us-east-1/train"
    now = datetime.now(timezone.utc)
    write_lines(group, [(now - timedelta(minutes=2), "epoch 1"), (now - timedelta(minutes=1), "epoch 2 loss=0.1")])
    publish(app_name, aws.table, {"train": MappedFunction("train", state_machine_arn=machine(app_name, "train"),
                                                          log_group=group)})
    logs = toolkit.Function.from_name(app_name, "train").logs
    assert isinstance(logs, CloudLogsView) and logs.log_group == group
    assert [e.message for e in logs.tail()] == ["epoch 1", "epoch 2 loss=0.1"]
    assert [e.message for e in logs.fetch(since=now - timedelta(minutes=5), search_text="loss")] == ["epoch 2 loss=0.1"]
    assert logs.tail()[0].context_ids == ["task/1"]  # the log stream: one per task


def test_a_call_map_written_before_log_groups_refuses_naming_redeploy(aws: Any, app_name: str) -> None:
    publish(app_name, aws.table, {"train": MappedFunction("train", state_machine_arn=machine(app_name, "train"))})
    with pytest.raises(NotSupportedError, match="redeploy the app with `toolkit deploy`"):
        toolkit.Function.from_name(app_name, "train").logs  # noqa: B018  (the property refuses)


def test_a_looked_up_apps_logs_merge_its_functions_groups_in_time_order(aws: Any, app_name: str) -> None:
    lambda_name = f"{app_name}-main-us-east-1-square"
    ecs_group = f"/toolkit/{app_name}-main-us-east-1/train"
    now = datetime.now(timezone.utc)
    write_lines(f"/aws/lambda/{lambda_name}", [(now - timedelta(seconds=50), "square 1"),
                                               (now - timedelta(seconds=30), "square 2")])
    write_lines(ecs_group, [(now - timedelta(seconds=40), "train 1"), (now - timedelta(seconds=20), "train 2")])
    publish(app_name, aws.table, {
        "square": MappedFunction("square", lambda_arn=lambda_arn(lambda_name)),
        "train": MappedFunction("train", state_machine_arn=machine(app_name, "train"), log_group=ecs_group)})
    logs = toolkit.App.lookup(app_name).logs
    assert [e.message for e in logs.tail()] == ["square 1", "train 1", "square 2", "train 2"]
    assert [e.message for e in logs.tail(2)] == ["square 2", "train 2"]


def test_a_looked_up_apps_log_stream_follows_every_group(aws: Any, app_name: str) -> None:
    groups = [f"/toolkit/{app_name}-main-us-east-1/{tag}" for tag in ("a", "b")]
    for group in groups:
        write_lines(group, [(datetime.now(timezone.utc) - timedelta(minutes=1), "old")])
    publish(app_name, aws.table, {tag: MappedFunction(tag, state_machine_arn=machine(app_name, tag), log_group=group)
                                  for tag, group in zip(("a", "b"), groups, strict=True)})
    stream = toolkit.App.lookup(app_name).logs.stream(timeout=10)  # what is there now is not new
    now = datetime.now(timezone.utc)
    for group, message in zip(groups, ("new a", "new b"), strict=True):
        client("logs").put_log_events(logGroupName=group, logStreamName="task/1", logEvents=[
            {"timestamp": int((now + timedelta(seconds=1)).timestamp() * 1000), "message": message}])
    seen = []
    for entry in stream:
        seen.append(entry.message)
        if len(seen) == 2:
            break
    assert sorted(seen) == ["new a", "new b"]


def test_a_deployed_lambda_web_endpoints_logs_come_from_its_mapped_group(aws: Any, app_name: str) -> None:
    """A web endpoint has no Lambda ARN in the call map (it is called over HTTP): its group is there."""
    group = f"/aws/lambda/{app_name}-main-us-east-1-hello"
    write_lines(group, [(datetime.now(timezone.utc) - timedelta(seconds=5), "GET /hello 200")])
    publish(app_name, aws.table, {"hello": MappedFunction("hello", kind="fastapi_endpoint", url="https://x",
                                                          log_group=group)})
    assert [e.message for e in toolkit.Function.from_name(app_name, "hello").logs.tail()] == ["GET /hello 200"]


def test_a_looked_up_apps_stats_sum_its_functions(aws: Any, app_name: str) -> None:
    table = f"calls-{uuid.uuid4().hex[:8]}"
    create_indexed_call_table(table)
    lambda_name = f"{app_name}-main-us-east-1-square"
    publish(app_name, table, {
        "square": MappedFunction("square", lambda_arn=lambda_arn(lambda_name)),
        "train": MappedFunction("train", state_machine_arn=machine(app_name, "train")),
        "web": MappedFunction("web", kind="asgi_app", url="https://x")})  # an ECS web service: left out
    record_calls(table, app_name, "square", done=2, failed=1)
    record_calls(table, app_name, "train", done=3, running=1)
    put_metric(lambda_name, "Throttles", 4, datetime.now(timezone.utc) - timedelta(minutes=1))
    stats = toolkit.App.lookup(app_name).stats()
    assert (stats.input_success_count, stats.input_failure_count, stats.input_running_at_end_count) == (5, 1, 1)
    assert stats.input_throttled_count == 4 and stats.variant_count == 2 and stats.input_percentile_stats == {}


LOCAL_APP = """
    import json, time
    import toolkit

    app = toolkit.App("APP_NAME")

    @app.function()
    def shout(word: str) -> str:
        print(f"shout:{word}")
        return word.upper()

    @app.function()
    def fail(x: int) -> None:
        print(f"fail:{x}")
        raise ValueError(x)

    if __name__ == "__main__":
        with app.run():
            shout.remote("a")
            shout.remote("b")
            try:
                fail.remote(1)
            except ValueError:
                pass
            deadline = time.monotonic() + 20
            while len(app.logs.tail()) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            stats = app.stats()
            print("RESULT " + json.dumps({
                "lines": [e.message for e in app.logs.tail()],
                "counts": [stats.input_success_count, stats.input_failure_count, stats.variant_count]}))
"""


def test_a_local_apps_logs_and_stats_cover_every_function_in_the_process(tmp_path: Path) -> None:
    source = tmp_path / "app_logs_app.py"
    source.write_text(textwrap.dedent(LOCAL_APP).replace("APP_NAME", f"applogs-{uuid.uuid4().hex[:6]}"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(source)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=150, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
    result = json.loads(line.removeprefix("RESULT "))
    assert sorted(result["lines"]) == ["fail:1", "shout:a", "shout:b"]
    assert result["lines"].index("shout:a") < result["lines"].index("shout:b")  # time order
    assert result["counts"] == [2, 1, 2]  # two successes, one failure, over the two functions' pools
