"""Function / Cls / FunctionCall members beyond calling (issue 22): for_each, spawn_map,
experimental_spawn_map with get(index=)/iter/num_inputs, cancel, get_call_graph, stats,
get_current_stats, update_autoscaler, logs, identity (object_id, from_id, hydrate, client, app,
info, get_dashboard_url) and the refusals among them.

Every call runs in real worker processes (the local pools); cross-process behaviour goes through a
second Python process sharing the test's TOOLKIT_HOME.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from core_helpers import APPS, REPO, fixture_app

import toolkit
from toolkit.exception import CallCancelledError, InvalidError, NotFoundError, NotSupportedError
from toolkit.types import FunctionCurrentStats, InputStatus

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def members() -> Iterator[Any]:
    with fixture_app("members_app") as module:
        yield module


def eventually(check: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def other_process(code: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter that imports the fixture app (same TOOLKIT_HOME)."""
    prelude = f"import sys; sys.path.insert(0, {str(APPS)!r}); import members_app as m, toolkit\n"
    return subprocess.run([sys.executable, "-c", prelude + code], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


# -- call styles that hand no results back -------------------------------------------------------
def test_for_each_runs_every_input_waits_and_returns_nothing(members: Any, tmp_path: Path) -> None:
    names = [f"f{i}" for i in range(5)]
    assert members.touch.for_each([str(tmp_path)] * 5, names) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == names  # all ran before it returned


def test_for_each_raises_the_first_failure_unless_ignore_exceptions(members: Any) -> None:
    with pytest.raises(ValueError, match="bad input 2"):
        members.fail_on.for_each(range(4), kwargs={"bad": 2})
    assert members.fail_on.for_each(range(4), kwargs={"bad": 2}, ignore_exceptions=True) is None


def test_spawn_map_returns_none_at_once_and_every_input_runs(members: Any, tmp_path: Path) -> None:
    marker = tmp_path / "slow"
    started = time.monotonic()
    assert members.sleeper.spawn_map([1.0], [str(marker)]) is None
    assert time.monotonic() - started < 1.0 and not marker.exists()  # it did not wait for the input
    names = [f"s{i}" for i in range(4)]
    members.touch.spawn_map([str(tmp_path)] * 4, names)
    assert eventually(lambda: all((tmp_path / n).exists() for n in names) and marker.exists())


def test_experimental_spawn_map_is_one_call_read_by_index_iter_and_num_inputs(members: Any) -> None:
    call = members.square.experimental_spawn_map(range(6))
    assert isinstance(call, toolkit.FunctionCall)
    assert call.num_inputs() == 6
    assert list(call.iter()) == [0, 1, 4, 9, 16, 25]
    assert list(call.iter(start=2, end=4)) == [4, 9]
    assert call.get(index=5) == 25 and call.get() == 0
    with pytest.raises(InvalidError, match=r"index=6.*6 input\(s\).*0 to 5"):
        call.get(index=6)
    with pytest.raises(ValueError, match="0 <= start <= end <= 6"):
        list(call.iter(start=3, end=9))
    # any process reads it by id
    done = other_process(f"c = toolkit.FunctionCall.from_id(function_call_id={call.object_id!r})\n"
                         "print(c.num_inputs(), list(c.iter(start=1)), c.get(index=3))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[0] == "6 [1, 4, 9, 16, 25] 9"


def test_a_spawn_map_of_nothing_is_a_call_with_no_inputs(members: Any) -> None:
    call = members.square.experimental_spawn_map([])
    assert call.num_inputs() == 0 and list(call.iter()) == []
    with pytest.raises(InvalidError, match=r"0 input\(s\); it has no result to get"):
        call.get()


def test_a_spawn_has_one_input(members: Any) -> None:
    call = members.square.spawn(7)
    assert call.num_inputs() == 1 and list(call.iter()) == [49]
    again = toolkit.FunctionCall.from_id(call.object_id, client=None)
    assert again.num_inputs() == 1 and again.get(index=0) == 49


def test_map_and_starmap_take_the_platforms_parameters(members: Any) -> None:
    with pytest.warns(DeprecationWarning, match="wrap_returned_exceptions.*no effect") as caught:
        results = list(members.fail_on.map(range(3), kwargs={"bad": 1}, return_exceptions=True,
                                           wrap_returned_exceptions=False))
    ours = [w for w in caught if "wrap_returned_exceptions" in str(w.message)]
    assert [w.filename for w in ours] == [__file__]  # it points at the caller's line
    assert results[0] == 0 and isinstance(results[1], ValueError) and results[2] == 2  # the exception itself
    with pytest.warns(DeprecationWarning):
        pairs = list(members.fail_on.starmap(input_iterator=[(1, 0), (2, 2)], return_exceptions=True,
                                             wrap_returned_exceptions=True))
    assert pairs[0] == 1 and isinstance(pairs[1], ValueError)


# -- cancel ------------------------------------------------------------------------------------------
def _cancel_running(fn: Any, tmp_path: Path, **options: Any) -> tuple[Any, Path, int]:
    """Cancel a 30 s input once it runs; also the count of workers the pool had started by then."""
    marker = tmp_path / f"{fn.spec.tag}-{len(options)}"
    call = fn.spawn(30, str(marker))
    assert eventually(Path(f"{marker}.started").exists)  # running in its worker, not just sent there
    started = fn.stats().container_started_count
    call.cancel(**options)
    return call, marker, started


def test_cancel_interrupts_a_running_input_in_its_worker(members: Any, tmp_path: Path) -> None:
    call, marker, started = _cancel_running(members.sleeper, tmp_path)
    with pytest.raises(CallCancelledError, match="sleeper was cancelled"):
        call.get(timeout=10)  # well before its 30 s
    assert members.sleeper.remote(0) == "slept"  # the pool goes on, on the same worker
    assert members.sleeper.stats().container_started_count == started
    assert not marker.exists()
    assert members.sleeper.stats().input_cancelled_count >= 1


def test_cancel_stops_the_worker_of_an_input_blocked_outside_python(members: Any, tmp_path: Path) -> None:
    call, marker, started = _cancel_running(members.blocked, tmp_path)
    with pytest.raises(CallCancelledError):
        call.get(timeout=10)  # time.sleep(30) cannot see the exception: its worker was stopped
    assert members.blocked.remote(0) == "slept"  # on a fresh worker
    stats = members.blocked.stats()
    assert stats.container_started_count == started + 1, stats
    assert not marker.exists()


def test_cancel_with_terminate_containers_stops_the_worker_at_once(members: Any, tmp_path: Path) -> None:
    call, _marker, started = _cancel_running(members.sleeper, tmp_path, terminate_containers=True)
    with pytest.raises(CallCancelledError):
        call.get(timeout=10)
    assert members.sleeper.remote(0) == "slept"
    assert members.sleeper.stats().container_started_count == started + 1


def test_cancel_of_an_async_input_cancels_its_task(members: Any, tmp_path: Path) -> None:
    call, marker, _started = _cancel_running(members.async_sleeper, tmp_path)
    with pytest.raises(CallCancelledError):
        call.get(timeout=10)
    assert members.async_sleeper.remote(0) == "slept"
    assert not marker.exists()


def test_cancel_of_a_queued_call_means_it_never_runs(members: Any, tmp_path: Path) -> None:
    first = members.sleeper.spawn(1.0)  # max_containers=1: the next one waits in the queue
    marker = tmp_path / "queued"
    queued = members.sleeper.spawn(0, str(marker))
    queued.cancel()
    with pytest.raises(CallCancelledError):
        queued.get(timeout=10)
    assert first.get(timeout=20) == "slept"
    time.sleep(0.2)
    assert not marker.exists()


def test_cancel_from_another_process_reaches_the_owner(members: Any, tmp_path: Path) -> None:
    ready = tmp_path / "id"
    owner = subprocess.Popen(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(APPS)!r}); import members_app as m\n"
         "from pathlib import Path\nfrom toolkit.exception import CallCancelledError\n"
         f"c = m.sleeper.spawn(60)\nPath({str(ready)!r}).write_text(c.object_id)\n"
         "try:\n    c.get(timeout=50)\nexcept CallCancelledError as e:\n    print('cancelled:', e)\n"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert eventually(lambda: ready.exists() and len(ready.read_text()) == len("fc-") + 26, timeout=30)
        call = toolkit.FunctionCall.from_id(ready.read_text())
        time.sleep(0.5)
        call.cancel()
        out, err = owner.communicate(timeout=30)
    finally:
        owner.kill()
    assert "cancelled: The call to sleeper was cancelled" in out, err
    with pytest.raises(CallCancelledError):
        call.get(timeout=5)  # the store says so to every process


# -- call graph ----------------------------------------------------------------------------------
def test_get_call_graph_shows_the_call_and_the_calls_it_spawned(members: Any) -> None:
    root = members.parent.spawn(3)
    children = root.get(timeout=60)
    graph = root.get_call_graph()
    assert [(n.function_call_id, n.function_name, n.status) for n in graph] == \
        [(root.object_id, "parent", InputStatus.SUCCESS)]
    kids = graph[0].children
    assert sorted(k.function_call_id for k in kids) == sorted(children)
    assert {(k.function_name, k.status) for k in kids} == {("square", InputStatus.SUCCESS)}
    # asked of a child, the graph is the same tree, from its root
    assert toolkit.FunctionCall.from_id(children[0]).get_call_graph()[0].function_call_id == root.object_id


def test_a_cancelled_input_shows_as_terminated_in_the_graph(members: Any, tmp_path: Path) -> None:
    call, _marker, _started = _cancel_running(members.sleeper, tmp_path)
    with pytest.raises(CallCancelledError):
        call.get(timeout=10)
    assert call.get_call_graph()[0].status is InputStatus.TERMINATED


# -- the live side of the pools ---------------------------------------------------------------------
def test_stats_count_successes_failures_and_workers_in_a_window(members: Any) -> None:
    before = datetime.now(timezone.utc)
    assert list(members.fail_on.map(range(5), kwargs={"bad": 3}, return_exceptions=True))[3].args == \
        ("bad input 3",)
    after = datetime.now(timezone.utc)
    stats = members.fail_on.stats(since=before, until=after + timedelta(seconds=1))
    assert (stats.input_success_count, stats.input_failure_count) == (4, 1)
    assert stats.container_total_count >= 1 and stats.input_percentile_stats["execution_time"].unit == "seconds"
    later = members.fail_on.stats(since=after)
    assert (later.input_success_count, later.input_failure_count) == (0, 0)  # nothing ran in that window
    with pytest.raises(InvalidError, match="since must be before until"):
        members.fail_on.stats(since=before, until=before - timedelta(seconds=1))
    with pytest.raises(NotSupportedError, match="without container="):
        members.fail_on.stats(container="pid-1")


def test_stats_are_per_variant_unless_all_variants(members: Any) -> None:
    before = datetime.now(timezone.utc)
    variant = members.square.with_options(timeout=77)  # a pool of its own
    assert [members.square.remote(1), variant.remote(2), variant.remote(3)] == [1, 4, 9]
    assert members.square.stats(since=before).input_success_count == 1
    assert variant.stats(since=before).input_success_count == 2
    both = members.square.stats(since=before, all_variants=True)
    assert (both.input_success_count, both.variant_count, both.all_variants) == (3, 2, True)


def test_get_current_stats_sees_the_backlog_and_running_inputs(members: Any) -> None:
    calls = [members.sleeper.spawn(1.0) for _ in range(3)]  # max_containers=1: one runs, two wait
    assert eventually(lambda: members.sleeper.get_current_stats().num_running_inputs == 1)
    now = members.sleeper.get_current_stats()
    assert isinstance(now, FunctionCurrentStats)
    assert now.num_total_runners == 1 and now.backlog + now.num_running_inputs == 3 and now.backlog >= 1
    toolkit.FunctionCall.gather(*calls)
    assert eventually(lambda: members.sleeper.get_current_stats().backlog == 0)


def test_update_autoscaler_changes_the_pool_live(members: Any) -> None:
    fn = members.whoami
    fn.remote()
    settings = fn.update_autoscaler(min_containers=3, scaledown_window=1)
    assert (settings.min_containers, settings.scaledown_window) == (3, 1)
    assert eventually(lambda: fn.get_current_stats().num_total_runners == 3)  # started without any call
    assert eventually(lambda: fn.get_current_stats().num_idle_runners == 3)
    time.sleep(1.5)
    assert fn.get_current_stats().num_total_runners == 3  # kept warm past the scaledown window
    assert fn.autoscaler.update(min_containers=0).min_containers == 0
    assert eventually(lambda: fn.get_current_stats().num_total_runners == 0)  # scaled down to the new floor
    assert fn.autoscaler.settings().max_containers == settings.max_containers
    with pytest.raises(InvalidError, match=r"min_containers=5 is above max_containers=2"):
        fn.update_autoscaler(min_containers=5, max_containers=2)
    with pytest.raises(InvalidError, match=r"max_containers=0.*int >= 1"):
        fn.update_autoscaler(max_containers=0)


def test_the_decorators_min_containers_keeps_workers_warm_locally(members: Any) -> None:
    assert members.warm.remote(1) == 2  # the pool exists from the first call on
    assert eventually(lambda: members.warm.get_current_stats().num_total_runners == 2)
    time.sleep(1.5)  # past scaledown_window=1
    assert members.warm.get_current_stats().num_total_runners == 2
    assert members.warm.autoscaler.settings().min_containers == 2


def test_update_autoscaler_buffer_containers_keeps_spare_workers_while_inputs_run(members: Any,
                                                                                  tmp_path: Path) -> None:
    fn = members.sleeper.with_options(max_containers=4, scaledown_window=1)  # a pool of its own
    fn.update_autoscaler(buffer_containers=2)
    marker = tmp_path / "buffered"
    call = fn.spawn(3, str(marker))
    assert eventually(Path(f"{marker}.started").exists)
    assert eventually(lambda: fn.get_current_stats().num_idle_runners == 2)  # spares beside the busy one
    assert fn.get_current_stats().num_total_runners == 3
    call.cancel()
    assert eventually(lambda: fn.get_current_stats().num_total_runners == 0)  # no input, no buffer


def test_update_autoscaler_max_containers_caps_the_workers(members: Any) -> None:
    fn = members.square.with_options(scaledown_window=1)
    fn.update_autoscaler(max_containers=1)
    pids = set(members.whoami.with_options(max_containers=1).map(range(20)))
    assert len(pids) == 1
    assert fn.autoscaler.settings().max_containers == 1


# -- logs ------------------------------------------------------------------------------------------
def test_function_logs_and_call_logs_hold_what_the_workers_printed(members: Any) -> None:
    assert members.chatty.remote("alpha") == "alpha"
    call = members.chatty.spawn("beta")
    call.get(timeout=30)
    assert eventually(lambda: any(e.message == "err:beta" for e in members.chatty.logs.tail()))
    lines = [(e.message, e.source) for e in members.chatty.logs.tail(10)]
    assert ("out:alpha", "stdout") in lines and ("err:alpha", "stderr") in lines and ("out:beta", "stdout") in lines
    assert [(e.message, e.object_id) for e in call.logs.tail()] == \
        [("out:beta", call.object_id), ("err:beta", call.object_id)]  # only that call's lines
    assert [e.message for e in members.chatty.logs.tail(1, source="stdout")] == ["out:beta"]
    found = members.chatty.logs.fetch(since=datetime.now(timezone.utc) - timedelta(minutes=5), search_text="alpha")
    assert sorted(e.message for e in found) == ["err:alpha", "out:alpha"]


def test_function_logs_stream_follows_new_lines(members: Any) -> None:
    members.chatty.remote("warm")
    stream = members.chatty.logs.stream(timeout=20)
    call = members.chatty.spawn("gamma")
    seen = []
    for entry in stream:
        seen.append(entry.message)
        if "err:gamma" in seen:
            break
    assert seen[-2:] == ["out:gamma", "err:gamma"] and "out:warm" not in seen  # only what came after
    call.get(timeout=10)


# -- identity ----------------------------------------------------------------------------------------
def test_identity_members(members: Any) -> None:
    fn = members.square
    assert fn.object_id == "fu-members:square"
    assert toolkit.Function.from_id(fn.object_id) is fn
    assert fn.hydrate() is fn and fn.client is None and fn.app is members.app
    info = fn.info()
    assert (info.timeout, info.max_inputs, info.backend) == (300, 1, "lambda")
    call = fn.spawn(2)
    assert call.hydrate() is call and call.client is None
    with pytest.raises(InvalidError, match="fu-<app>:<function>"):
        toolkit.Function.from_id("members.square")


def test_from_name_takes_version_only_when_none(members: Any) -> None:
    assert toolkit.Function.from_name("members", "square", version=None) is members.square
    with pytest.raises(NotSupportedError, match=r"version=3.*Instead, omit version="):
        toolkit.Function.from_name("members", "square", version=3)
    with pytest.raises(NotSupportedError, match=r"Cls.from_name.*Instead, omit version="):
        toolkit.Cls.from_name("members", "Nothing", version=1)


def test_dashboard_urls_point_at_the_local_serve_or_the_aws_console(members: Any,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    call = members.square.spawn(3)
    call.get(timeout=30)
    with pytest.raises(NotFoundError, match="toolkit serve"):
        members.square.get_dashboard_url()
    with pytest.raises(NotFoundError, match="toolkit serve"):
        call.get_dashboard_url()
    monkeypatch.setenv("TOOLKIT_SERVE_ORIGIN", "http://localhost:8123")  # what toolkit serve gives its processes
    assert members.square.get_dashboard_url() == "http://localhost:8123/#function=square"
    assert call.get_dashboard_url() == f"http://localhost:8123/api/calls/{call.object_id}"
    monkeypatch.delenv("TOOLKIT_SERVE_ORIGIN")


LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:members-square:live"
MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:members-whoami"


def deployed(fn: Any) -> Any:
    """``fn`` as a handle that runs on AWS: looked up from a deployed app, its code is a DeployedCode
    bound to a CloudRunner over the app's targets (as `toolkit.deployed_apps` builds it)."""
    from runtime.cloud_client import CloudTransport, FunctionTarget
    from toolkit.deployed_code import DeployedCode
    from toolkit.runner import CloudRunner

    runner = CloudRunner(CloudTransport("members", store=None, targets={  # type: ignore[arg-type]
        "square": FunctionTarget("square", lambda_arn=LAMBDA_ARN),
        "whoami": FunctionTarget("whoami", state_machine_arn=MACHINE_ARN)}))
    return toolkit.Function(dataclasses.replace(fn.spec, raw_f=DeployedCode("members", fn.spec.tag, runner)))


def test_a_deployed_functions_dashboard_url_is_its_aws_console_page(members: Any) -> None:
    assert deployed(members.square).get_dashboard_url() == \
        "https://us-east-1.console.aws.amazon.com/lambda/home?region=us-east-1#/functions/members-square"
    assert deployed(members.whoami).get_dashboard_url() == \
        f"https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/statemachines/view/{MACHINE_ARN}"
    with pytest.raises(NotFoundError, match="deploy it first"):
        deployed(members.chatty).get_dashboard_url()
    with pytest.raises(NotSupportedError, match=r"Function.logs of the deployed ECS/GPU function whoami.*"
                                                r"Instead, print its logs with `toolkit logs"):
        deployed(members.whoami).logs  # noqa: B018 - reading it is the use
    with pytest.raises(NotSupportedError, match=r"experimental_spawn_map.*Instead, spawn one call per input"):
        deployed(members.square).experimental_spawn_map([1])


def test_cls_identity_members(monkeypatch: pytest.MonkeyPatch) -> None:
    app = toolkit.App("members-cls")

    @app.cls()
    class Model:
        size: int = toolkit.parameter(default=1)

        @toolkit.method()
        def grow(self, x: int) -> int:
            return x * self.size

    assert Model.object_id == "cs-members-cls:Model"
    assert Model.hydrate() is Model and Model.client is None
    with pytest.raises(NotFoundError, match="toolkit serve"):
        Model.get_dashboard_url()
    monkeypatch.setenv("TOOLKIT_SERVE_ORIGIN", "http://localhost:8123")
    assert Model.get_dashboard_url() == "http://localhost:8123/#class=Model"


def test_function_and_cls_are_not_constructed_directly(members: Any) -> None:
    with pytest.raises(InvalidError, match=r"toolkit.Function\(\.\.\.\) is not constructed directly.*"
                                           r"@app.function, Function.from_name"):
        toolkit.Function("members", "square")
    with pytest.raises(InvalidError, match=r"toolkit.Cls\(\.\.\.\).*@app.cls or Cls.from_name"):
        toolkit.Cls()
    again = toolkit.Function(members.square.spec)  # toolkit's own call, as the decorator makes it
    assert again.params == () and again.remote(5) == 25


def test_function_call_is_not_constructed_directly(members: Any) -> None:
    with pytest.raises(InvalidError, match=r"fn\.spawn\(\.\.\.\).*FunctionCall\.from_id\(call_id\)"):
        toolkit.FunctionCall("fc-0123456789abcdef0123456789")
    assert toolkit.FunctionCall.from_id(members.square.spawn(4).object_id).get(timeout=30) == 16


@pytest.fixture
def on_moto(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """boto3 in this process pointed at the suite's moto server, and its clients dropped afterwards."""
    from moto_support import use_moto

    from runtime.awsclients import reset_clients

    use_moto(monkeypatch, moto_endpoint)
    yield
    reset_clients()


def test_a_deployed_lambda_functions_logs_come_from_its_cloudwatch_group(members: Any, on_moto: None) -> None:
    from runtime.awsclients import client

    logs = client("logs", "us-east-1")
    group, stream = "/aws/lambda/members-square", "2026/12/04/[$LATEST]0123"
    with pytest.raises(NotFoundError, match=f"No CloudWatch log group {group} in us-east-1.*toolkit deploy"):
        deployed(members.square).logs.tail()
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(time.time() * 1000)

    def put(*lines: tuple[int, str]) -> None:
        logs.put_log_events(logGroupName=group, logStreamName=stream,
                            logEvents=[{"timestamp": ts, "message": text} for ts, text in lines])

    put((now - 3_600_000, "an hour ago"), (now - 1000, "hello"), (now, "world"))
    view = deployed(members.square).logs
    assert [(e.message, e.context_ids) for e in view.tail(2)] == [("hello", [stream]), ("world", [stream])]
    recent = view.fetch(since=datetime.now(timezone.utc) - timedelta(minutes=5), search_text="o")
    assert [e.message for e in recent] == ["hello", "world"]
    follow = view.stream(timeout=15)
    put((int(time.time() * 1000), "again"))
    assert next(follow).message == "again"  # only what came after stream() was asked for


def test_the_new_members_have_aio_twins(members: Any, tmp_path: Path) -> None:
    import asyncio

    async def main() -> tuple[list[int], int, list[str]]:
        await members.touch.for_each.aio([str(tmp_path)] * 2, ["x", "y"])
        call = await members.square.experimental_spawn_map.aio([2, 3])
        results = [value async for value in call.iter.aio()]
        stats = await members.square.get_current_stats.aio()
        graph = await call.get_call_graph.aio()
        return results, stats.backlog, [node.function_name for node in graph]

    loop = asyncio.new_event_loop()  # its own loop: the suite's main loop stays current (tests/conftest.py)
    try:
        results, backlog, graph = loop.run_until_complete(main())
    finally:
        loop.close()
    assert results == [4, 9] and backlog == 0 and graph == ["square", "square"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x", "y"]
