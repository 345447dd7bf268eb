"""The call surface beyond .remote (issue 16): class methods that call each other and take their
parameters from ``toolkit run``, ``.aio`` and class-level call descriptors, ``@toolkit.batched``,
``with_options``/``with_concurrency``/``with_batching``, call and input ids, single-use containers.

Every call runs in real worker processes (the local pools), or through the real CLI.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Iterator
from typing import Any

import pytest
from core_helpers import APPS, REPO, fixture_app, toolkit_cli

import toolkit
from runtime.batching import BatchError, single_call
from toolkit.exception import FunctionTimeoutError, InvalidError

pytestmark = pytest.mark.timeout(180)

SURFACE_APP = str(APPS / "surface_app.py")


@pytest.fixture(scope="module")
def surface() -> Iterator[Any]:
    with fixture_app("surface_app") as module:
        yield module


# -- item 5: classes ---------------------------------------------------------------------------
def test_toolkit_run_of_a_method_uses_parameter_defaults_and_takes_them_as_options() -> None:
    example = str(REPO / "examples" / "gpu_job.py")
    default = toolkit_cli("run", f"{example}::Embedder.embed", "--text", "hi")
    assert default.returncode == 0, default.stderr
    assert json.loads(default.stdout) == [i / 8 * 2 for i in range(8)]  # dim defaults to 8
    chosen = toolkit_cli("run", f"{example}::Embedder.embed", "--text", "hi", "--dim", "2")
    assert chosen.returncode == 0, chosen.stderr
    assert json.loads(chosen.stdout) == [0.0, 1.0]
    shown = toolkit_cli("run", f"{example}::Embedder.embed", "--help")
    assert "--dim INTEGER" in shown.stdout and "[default: 8]" in shown.stdout


def test_methods_call_each_other_inside_the_class_every_way() -> None:
    result = toolkit_cli("run", f"{SURFACE_APP}::Greeter.all_ways", "--who", "bob", "--greeting", "hey")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["hey bob"] * 4  # self.greet(), .local, .remote, .spawn().get()


def test_aio_on_class_methods(surface: Any) -> None:
    async def drive() -> list[str]:
        greeter = surface.Greeter(greeting="hi")
        direct = await greeter.greet.remote.aio("ann")
        mapped = [x async for x in greeter.greet.map.aio(["a", "b"])]
        spawned = await (await greeter.greet.spawn.aio("c")).get.aio(timeout=60)
        nested = await greeter.via_aio.remote.aio("d")  # self.greet.remote.aio inside the worker
        return [direct, *mapped, spawned, nested]

    assert asyncio.run(drive()) == ["hi ann", "hi a", "hi b", "hi c", "hi d"]


def test_call_methods_resolve_on_the_class_with_their_signatures() -> None:
    for name in ("remote", "spawn", "map", "starmap", "remote_gen", "with_options", "with_concurrency",
                 "with_batching"):
        assert callable(getattr(toolkit.Function, name)), name
    assert "order_outputs" in inspect.signature(toolkit.Function.map).parameters
    assert "timeout" in inspect.signature(toolkit.Cls.with_options).parameters
    assert hasattr(toolkit.Function.remote, "aio") is False  # .aio is per handle: fn.remote.aio


def test_async_calls_example() -> None:
    result = toolkit_cli("run", str(REPO / "examples" / "async_calls.py"), "--n", "5")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "25 36 [0, 1, 4, 9, 16] [3, 2, 1] 49 [4, 9] 50"


# -- item 4: batching ----------------------------------------------------------------------------
def test_batching_example_collects_inputs_into_lists() -> None:
    result = toolkit_cli("run", str(REPO / "examples" / "batching.py"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "sums=[100, 101, 102, 103, 104, 105, 106, 107] largest_batch=8 scaled=6.0"


def test_a_batch_runs_under_one_call_and_fans_results_back(surface: Any) -> None:
    results = list(surface.batch_ids.map([1, 2, 3]))
    sizes = [size for size, _call in results]
    assert sum(sizes) / len(sizes) > 1  # inputs sent together ran together
    assert all(call.startswith("fc-") for _size, call in results)


def test_a_batch_returning_the_wrong_number_of_results_fails_every_input(surface: Any) -> None:
    errors = list(surface.wrong_length.map([1, 2, 3], return_exceptions=True))
    assert len(errors) == 3 and all(isinstance(e, BatchError) for e in errors), errors
    assert any("must return a list with one result per input" in str(e) for e in errors)


def test_an_input_that_does_not_fit_fails_alone(surface: Any) -> None:
    with pytest.raises(BatchError, match=r"batched function wrong_length has no argument 'ys'"):
        surface.wrong_length.remote(1, ys=2)


@pytest.mark.parametrize(("decorate", "message"), [
    (lambda: toolkit.batched(lambda xs: xs, max_batch_size=2, wait_ms=1), r"without parentheses"),
    (lambda: toolkit.batched(max_batch_size=0, wait_ms=10), r"max_batch_size=0\) must be a positive int"),
    (lambda: toolkit.batched(max_batch_size=1000, wait_ms=10), r"max_batch_size=1000\) must be less than 1000"),
    (lambda: toolkit.batched(max_batch_size=2, wait_ms=-1), r"wait_ms=-1\) must be a non-negative int"),
    (lambda: toolkit.batched(max_batch_size=2, wait_ms=600_000), r"wait_ms=600000\) must be less than"),
    (lambda: toolkit.batched(max_batch_size=2, wait_ms=1)(lambda: []), r"takes no arguments"),
    (lambda: toolkit.batched(max_batch_size=2, wait_ms=1)(lambda *xs: []), r"takes \*xs"),
    (lambda: toolkit.batched(max_batch_size=2, wait_ms=1)(lambda xs=(): []), r"gives 'xs' a default"),
    (lambda: toolkit.concurrent(max_inputs=2)(toolkit.batched(max_batch_size=2, wait_ms=1)(lambda xs: xs)),
     r"both @toolkit.batched and @toolkit.concurrent"),
    (lambda: toolkit.fastapi_endpoint()(toolkit.batched(max_batch_size=2, wait_ms=1)(lambda xs: xs)),
     r"a web endpoint cannot be batched"),
])
def test_batched_misuse_names_the_value_and_the_fix(decorate: Any, message: str) -> None:
    with pytest.raises(InvalidError, match=message):
        decorate()


def test_a_class_with_a_batched_method_has_no_other_methods() -> None:
    app = toolkit.App("batched-cls")

    class Mixed:
        @toolkit.batched(max_batch_size=2, wait_ms=1)
        def many(self, xs: list[int]) -> list[int]:
            return xs

        @toolkit.method()
        def one(self, x: int) -> int:
            return x

    with pytest.raises(InvalidError, match=r"batched method 'many' and other methods \(one\)"):
        app.cls()(Mixed)


def test_the_runtime_runs_a_batched_function_as_a_batch_of_one() -> None:
    def add(xs: list[int], ys: list[int]) -> list[int]:
        return [x + y for x, y in zip(xs, ys, strict=True)]

    async def add_async(xs: list[int]) -> list[int]:
        return [x + 1 for x in xs]

    assert single_call("add", add)(1, ys=2) == 3
    assert asyncio.run(single_call("add_async", add_async)(4)) == 5
    with pytest.raises(BatchError, match=r"must return a list with one result per input \(1 inputs\), got int"):
        single_call("bad", lambda xs: 3)(1)


# -- item 4: variants, ids, single-use containers ----------------------------------------------------
def test_with_options_gives_a_variant_with_its_own_settings(surface: Any) -> None:
    with pytest.raises(FunctionTimeoutError, match="timed out after 1 s"):
        surface.nap.with_options(timeout=1).remote(5)
    assert surface.nap.remote(0) == "rested"  # the function itself keeps timeout=60
    assert surface.env_value.with_options(env={"H10_FLAG": "on"}).remote("H10_FLAG") == "on"
    assert surface.env_value.remote("H10_FLAG") == "unset"
    with pytest.raises(InvalidError, match=r"timeout=0 must be whole seconds"):
        surface.nap.with_options(timeout=0)
    with pytest.raises(InvalidError, match=r"concurrent\(max_inputs=0\) must be an int of at least 1"):
        surface.nap.with_concurrency(max_inputs=0)


def test_with_batching_changes_the_batch_size(surface: Any) -> None:
    singles = surface.batch_ids.with_batching(max_batch_size=1, wait_ms=0)
    assert {size for size, _call in singles.map([1, 2, 3])} == {1}


def test_call_and_input_ids_inside_workers(surface: Any) -> None:
    call = surface.ids.spawn()
    call_id, input_id = call.get(timeout=60)
    assert call_id == call.object_id and input_id.startswith("in-")
    mapped = list(surface.ids.starmap([(), (), ()]))
    assert len({c for c, _i in mapped}) == 1 and len({i for _c, i in mapped}) == 3  # one call, three inputs
    assert toolkit.current_function_call_id() is None and toolkit.current_input_id() is None  # not in a function


def test_single_use_containers_run_one_input_each(surface: Any) -> None:
    pids = list(surface.pid_single_use.map(range(4)))
    assert len(set(pids)) == 4


def test_max_inputs_and_single_use_must_agree() -> None:
    app = toolkit.App("agree")
    with pytest.raises(InvalidError, match=r"single_use_containers=True, max_inputs=3\) disagree"):
        app.function(single_use_containers=True, max_inputs=3)(lambda: None)
    with pytest.raises(InvalidError, match=r"max_inputs=0\) must be an int of at least 1"):
        app.function(max_inputs=0)(lambda: None)
    assert app.function(max_inputs=2)(lambda: None).spec.inputs_per_container == 2


# -- item 1: the async iterator behind .map.aio / .remote_gen.aio ------------------------------------
def test_an_async_iterator_streams_items_before_the_blocking_one_ends() -> None:
    import threading

    from toolkit.aio import Aio

    release = threading.Event()

    def slow() -> Iterator[int]:
        yield 1
        release.wait(30)  # blocks until the consumer has seen the first item
        yield 2

    async def drive() -> list[int]:
        got = []
        async for item in Aio(slow, is_iter=True).aio():
            got.append(item)
            release.set()
        return got

    assert asyncio.run(asyncio.wait_for(drive(), 30)) == [1, 2]


def test_an_async_iterator_raises_the_iterators_error_and_stops_when_left() -> None:
    from toolkit.aio import READ_AHEAD, Aio

    pulled = []

    def endless() -> Iterator[int]:
        n = 0
        while True:
            pulled.append(n)
            yield n
            n += 1

    def failing() -> Iterator[int]:
        yield 1
        raise ValueError("boom")

    async def first_three() -> list[int]:
        got = []
        async for item in Aio(endless, is_iter=True).aio():
            got.append(item)
            if len(got) == 3:
                break
        await asyncio.sleep(0.5)  # the producer notices within its 0.1 s poll
        return got

    async def until_error() -> list[int]:
        return [item async for item in Aio(failing, is_iter=True).aio()]

    assert asyncio.run(first_three()) == [0, 1, 2]
    settled = len(pulled)
    assert settled <= READ_AHEAD + 4  # read-ahead is bounded, and it stopped
    with pytest.raises(ValueError, match="boom"):
        asyncio.run(until_error())
    assert len(pulled) == settled


# -- item 4: region= ----------------------------------------------------------------------------------
def test_region_is_accepted_where_it_agrees_with_the_deploy_region_and_refused_otherwise(tmp_path: Any) -> None:
    app_file = tmp_path / "regional.py"
    app_file.write_text("import toolkit\napp = toolkit.App('regional')\n\n"
                        "@app.function(region=['us-east', 'eu-west-1'])\ndef f() -> int:\n    return 1\n")
    agrees = toolkit_cli("plan", str(app_file), "--region", "us-east-2")
    assert agrees.returncode == 0, agrees.stderr
    refused = toolkit_cli("plan", str(app_file), "--region", "ap-south-1")
    assert refused.returncode != 0
    assert ("f asks for region=['us-east', 'eu-west-1'], but this deploy is to 'ap-south-1'" in refused.stderr
            and "Deploy with --region us-east" in refused.stderr), refused.stderr
    with pytest.raises(InvalidError, match=r"region=\[3\]\) must be a region name"):
        toolkit.App("bad-region").function(region=[3])(lambda: None)  # type: ignore[list-item]
