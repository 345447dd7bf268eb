"""``@toolkit.batched``: single calls in, one call with lists, single results out.

A batched function is written over lists (``def embed(texts: list[str]) -> list[list[float]]``)
and called with single values (``embed.remote("hi")``).  Whoever runs it -- a local worker, which
collects up to ``max_batch_size`` inputs for at most ``wait_ms`` (`toolkit.local.batching`), or the
container runtime, whose worker claims further pending calls of the function from the call table
for as long (`runtime.worker.execute_stored_batch`); an inline invoke is a batch of one -- uses
this module to turn the calls' arguments into lists (`gather_arguments`), call once and hand back
one outcome per call (`run_batch`, `split_results`).  Stdlib only.

The rules, as on the hosted platform: each call passes every argument of the function (no
defaults, no ``*args``); the function returns a list with one item per input, in input order; if
it raises, every input of the batch fails with that error.

Front door (``runtime.FRONT_DOORS``): the SDK imports `gather_arguments` / `split_results`, which
local workers use for ``@batched``; `__all__` is what it offers.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

__all__ = ["BatchError", "BatchSpec", "gather_arguments", "run_batch", "single_call", "split_results"]

Call = tuple[tuple[Any, ...], Mapping[str, Any]]  # one input's (args, kwargs)
Outcome = tuple[bool, Any]  # (True, result) or (False, the exception)


class BatchSpec(NamedTuple):
    """``@toolkit.batched(max_batch_size=, wait_ms=)`` as the runtime needs it."""

    max_batch_size: int
    wait_ms: int


class BatchError(TypeError):
    """One input that does not fit the batched function, or a returned value that is not one result per input."""


def _parameter_names(fn: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(fn).parameters)  # a bound method's, so without self


def gather_arguments(name: str, fn: Callable[..., Any], calls: Sequence[Call]
                     ) -> tuple[dict[str, list[Any]], list[int], dict[int, BatchError]]:
    """The keyword lists to call ``fn`` with, the indexes of the calls in them, and the calls refused."""
    names = _parameter_names(fn)
    lists: dict[str, list[Any]] = {n: [] for n in names}
    taken: list[int] = []
    refused: dict[int, BatchError] = {}
    for index, (args, kwargs) in enumerate(calls):
        try:
            values = _one_call(name, names, args, kwargs)
        except BatchError as exc:
            refused[index] = exc
            continue
        taken.append(index)
        for n in names:
            lists[n].append(values[n])
    return lists, taken, refused


def _one_call(name: str, names: list[str], args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    if len(args) > len(names):
        raise BatchError(f"batched function {name} takes {len(names)} arguments ({', '.join(names)}), "
                         f"but a call passed {len(args)}; pass one value per argument.")
    values = dict(zip(names, args, strict=False))
    for key, value in kwargs.items():
        if key not in names or key in values:
            why = "has no argument" if key not in names else "got twice the argument"
            raise BatchError(f"batched function {name} {why} {key!r}; its arguments are {', '.join(names)}.")
        values[key] = value
    missing = [n for n in names if n not in values]
    if missing:
        raise BatchError(f"batched function {name} needs every argument in every call; a call is missing "
                         f"{', '.join(missing)}.")
    return values


def split_results(name: str, outputs: Any, count: int) -> list[Any]:
    """The returned list, checked to hold one result per input."""
    if not isinstance(outputs, list) or len(outputs) != count:
        got = f"a list of {len(outputs)}" if isinstance(outputs, list) else type(outputs).__name__
        raise BatchError(f"batched function {name} must return a list with one result per input "
                         f"({count} inputs), got {got}.")
    return outputs


def run_batch(name: str, fn: Callable[..., Any], calls: Sequence[Call]) -> list[Outcome]:
    """Call ``fn`` once over every call that fits; one outcome per call, in order.  A call whose
    arguments do not fit fails alone; an exception or a wrong-length result fails every other."""
    lists, taken, refused = gather_arguments(name, fn, calls)
    outcomes: list[Outcome] = [(False, refused[i]) if i in refused else (False, None) for i in range(len(calls))]
    if not taken:
        return outcomes
    try:
        result = fn(**lists)
        if inspect.isawaitable(result):
            result = asyncio.run(_awaited(result))
        values = split_results(name, result, len(taken))
    except Exception as exc:  # the user's failure is every input's result
        return [outcomes[i] if i in refused else (False, exc) for i in range(len(calls))]
    for index, value in zip(taken, values, strict=True):
        outcomes[index] = (True, value)
    return outcomes


async def _awaited(pending: Any) -> Any:
    return await pending


def single_call(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` as a function of one input: a batch of one (the container runtime's case: each Lambda
    invocation, or stored call, is one input).  An async ``fn`` gives a coroutine."""

    def call(*args: Any, **kwargs: Any) -> Any:
        lists, _taken, refused = gather_arguments(name, fn, [(args, kwargs)])
        if refused:
            raise refused[0]
        result = fn(**lists)
        if inspect.isawaitable(result):
            return _first_of(name, result)
        return split_results(name, result, 1)[0]

    return call


async def _first_of(name: str, pending: Any) -> Any:
    return split_results(name, await pending, 1)[0]
