"""Local calls: worker processes standing in for containers, with the semantics of remote calls."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from core_helpers import REPO

import toolkit
from toolkit.loader import load_app

pytestmark = pytest.mark.timeout(120)

APP = load_app(str(REPO / "tests" / "fixtures" / "apps" / "calls_app.py"))
fns = APP.registered_functions


def test_remote_local_and_call() -> None:
    assert fns["square"].remote(7) == 49
    assert fns["add"].remote(2, b=3) == 5
    assert fns["square"].local(5) == 25
    assert fns["whoami"].remote() != os.getpid()  # it ran in a worker process


def test_map_keeps_order_and_starmap_unpacks() -> None:
    assert list(fns["square"].map(range(300))) == [x * x for x in range(300)]
    assert list(fns["add"].map([1, 2], [10, 20])) == [11, 22]
    assert list(fns["add"].starmap([(1, 2), (3, 4)])) == [3, 7]
    assert list(fns["add"].map([1, 2], kwargs={"b": 100})) == [101, 102]


def test_map_unordered_yields_everything() -> None:
    out = list(fns["busy_pid"].map([0.3, 0.0, 0.0], order_outputs=False))
    assert len(out) == 3


def test_map_exceptions_raise_or_are_returned() -> None:
    with pytest.raises(KeyError):
        list(fns["fail"].map(["a", "b"]))
    results = list(fns["fail"].map(["a", "b"], return_exceptions=True))
    assert [type(r) for r in results] == [KeyError, KeyError]
    assert [r.args[0] for r in results] == ["a", "b"]


def test_exception_carries_the_remote_traceback() -> None:
    with pytest.raises(KeyError) as info:
        fns["fail"].remote("missing-key")
    cause = info.value.__cause__
    assert cause is not None and "calls_app.py" in str(cause) and "raise KeyError(message)" in str(cause)


def test_spawn_get_and_poll() -> None:
    call = fns["sleepy"].spawn(0.5)
    assert call.object_id.startswith("fc-")
    with pytest.raises(TimeoutError):
        call.get(timeout=0)
    assert toolkit.FunctionCall.from_id(call.object_id).get(timeout=30) == 0.5


def test_function_call_from_another_process_and_after_restart(tmp_path: Path) -> None:
    script = tmp_path / "spawner.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        from toolkit.loader import load_app
        app = load_app({str(REPO / "tests/fixtures/apps/calls_app.py")!r})
        call = app.registered_functions["square"].spawn(9)
        print(call.object_id, flush=True)
        assert call.get(timeout=60) == 81
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=90, check=True)
    call_id = out.stdout.split()[0]
    # The spawning process has exited: the result lives on in the SQLite store.
    assert toolkit.FunctionCall.from_id(call_id).get(timeout=0) == 81


def test_call_lost_when_owner_dies_first(tmp_path: Path) -> None:
    script = tmp_path / "dies.py"
    script.write_text(textwrap.dedent(f"""
        import os
        from toolkit.loader import load_app
        app = load_app({str(REPO / "tests/fixtures/apps/calls_app.py")!r})
        call = app.registered_functions["busy_pid"].spawn(30)
        print(call.object_id, flush=True)
        os._exit(0)
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=90, check=True)
    with pytest.raises(toolkit.CallLostError, match="will not finish"):
        toolkit.FunctionCall.from_id(out.stdout.split()[0]).get(timeout=5)


def test_unknown_call_id() -> None:
    with pytest.raises(toolkit.NotFoundError):
        toolkit.FunctionCall.from_id("fc-0000000000000000000000000a").get(timeout=0)
    with pytest.raises(toolkit.InvalidError, match="is not a call id"):
        toolkit.FunctionCall.from_id("call-123")


def test_remote_gen_streams_items() -> None:
    assert list(fns["countdown"].remote_gen(4)) == [4, 3, 2, 1]


def test_enter_runs_once_per_worker_and_parameters_pick_pools() -> None:
    counter = APP.registered_classes["Counter"]
    first = counter(start=10).state.remote(1)
    second = counter(start=10).state.remote(2)
    other = counter(start=100).state.remote(0)
    assert first[:2] == (11, 1) and second[:2] == (12, 1)  # entered once, reused
    assert first[2] == second[2]  # same worker
    assert other[0] == 100 and other[2] != first[2]  # distinct parameters -> distinct pool
    assert counter().state.local(5)[0] == 5


def test_concurrent_inputs_overlap_inside_one_worker() -> None:
    results = list(fns["concurrent_window"].map([0.5] * 4))
    assert len({pid for pid, *_ in results}) == 1
    assert len({tid for _, tid, *_ in results}) == 4  # four threads ...
    starts, ends = [r[2] for r in results], [r[3] for r in results]
    assert max(starts) < min(ends)  # ... whose runs overlapped


def test_async_concurrency_on_one_event_loop() -> None:
    results = list(fns["async_window"].map([0.5] * 8))
    assert len({r[0] for r in results}) == 1
    assert max(r[1] for r in results) < min(r[2] for r in results)  # all eight were in flight together


def test_without_concurrent_a_worker_takes_one_input_at_a_time() -> None:
    results = sorted(fns["serial_window"].map([0.2] * 3), key=lambda r: r[1])
    for before, after in zip(results, results[1:], strict=False):
        assert after[1] >= before[2] - 0.01  # no overlap


def test_max_containers_caps_workers() -> None:
    pids = set(fns["busy_pid"].map([0.3] * 8))
    assert 1 <= len(pids) <= 2


def test_timeout_stops_the_call_and_the_pool_recovers() -> None:
    with pytest.raises(toolkit.FunctionTimeoutError, match=r"sleepy timed out after 1 s.*raise timeout="):
        fns["sleepy"].remote(10)
    assert fns["sleepy"].remote(0.01) == 0.01  # a fresh worker takes over


def test_retries(tmp_path: Path) -> None:
    assert fns["flaky"].remote(str(tmp_path / "a"), 3) == 3  # two failures, then success
    with pytest.raises(RuntimeError, match="attempt 3 fails"):
        fns["flaky"].remote(str(tmp_path / "b"), 5)  # 1 try + 2 retries
    assert len((tmp_path / "b").read_text()) == 3


def test_worker_crash_is_reported() -> None:
    with pytest.raises(toolkit.WorkerCrashedError, match="exited with code 7"):
        fns["crash"].remote(7)


def test_unpicklable_argument_is_a_clear_error() -> None:
    with pytest.raises(toolkit.SerializationError, match=r"Cannot send the arguments of square.*picklable"):
        fns["square"].remote(threading.Lock())


def test_unpicklable_result_is_a_clear_error() -> None:
    with pytest.raises(toolkit.SerializationError, match="could not be pickled to send back"):
        fns["unpicklable_result"].remote()


def test_inline_secret_reaches_the_worker_env() -> None:
    assert fns["read_secret"].remote() == "s3cr3t"


def test_results_of_user_classes_cross_back() -> None:
    assert pickle.loads(pickle.dumps(fns["square"].remote(3))) == 9
