"""`FunctionCall`: a handle on a spawned call, pollable from any process by its id.

A call has one input (``.spawn()``) or many (``.experimental_spawn_map()``): ``get(index=)``,
``iter()`` and ``num_inputs()`` read them (`toolkit.local.call_links`).  ``cancel()`` stops it,
in whichever local process owns it; ``get_call_graph()`` shows what it spawned.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from toolkit.aio import Aio, aio_iter_method, aio_method
from toolkit.exception import InvalidError, NotFoundError, NotSupportedError
from toolkit.handles import Clientless
from toolkit.unsupported import refusal

if TYPE_CHECKING:
    from toolkit.function_records import InputInfo
    from toolkit.local.logs import LogsView
    from toolkit.local.ownership import OwnedCallStore
    from toolkit.local.runner import LocalRunner

_POLL_START, _POLL_MAX = 0.002, 0.1


class FunctionCall(Clientless):
    """What ``fn.spawn(...)`` returns.  ``get()`` waits; ``get(timeout=0)`` polls once."""

    gather: ClassVar[Aio[list[Any]]]  # ``FunctionCall.gather(*calls)`` and ``.gather.aio``, set below the class
    object_id: str  # the call's id ("fc-..."), for FunctionCall.from_id in any process
    _searched: str
    get: Aio[Any]  # ``call.get(timeout=None, *, index=0)`` and ``call.get.aio``, bound per instance

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The platform's constructor signature (its sync wrapper's); as there, programs never call it.
        raise InvalidError("FunctionCall(...) is not constructed directly: a call comes from fn.spawn(...), "
                           "or from its id with FunctionCall.from_id(call_id).")

    @classmethod
    def _of(cls, call_id: str) -> FunctionCall:
        call = cls.__new__(cls)
        call.object_id = call_id
        call._searched = "no deployed app was searched"  # what `_cloud` searched, for the not-found error
        call.get = Aio(call._get)  # also ``await call.get.aio(timeout=...)``
        return call

    def __repr__(self) -> str:
        return f"FunctionCall({self.object_id!r})"

    @staticmethod
    def from_id(function_call_id: str, client: Any = None) -> FunctionCall:
        """The call with this id (``call.object_id``), from any process.  ``client`` is accepted and unused."""
        from runtime.callstore.base import is_call_id

        if not isinstance(function_call_id, str) or not is_call_id(function_call_id):
            raise InvalidError(f"{function_call_id!r} is not a call id; ids look like 'fc-0123abcd...' "
                               "(from fn.spawn()).")
        return FunctionCall._of(function_call_id)

    def _get(self, timeout: float | None = None, *, index: int = 0) -> Any:
        """The result of input ``index`` (0 for a ``.spawn()``).  Raises the built-in ``TimeoutError`` if it
        is not finished in time."""
        if timeout is not None and timeout < 0:
            raise InvalidError(f"get(timeout={timeout!r}) must be >= 0 seconds, or None to wait.")
        cloud = self._cloud()
        if cloud is not None:
            if index != 0:
                raise NotSupportedError(refusal("FunctionCall.get(index=...) of a deployed call", "a deployed call "
                                                "has one input", "call get() without index="))
            return cloud.get(self.object_id, timeout)
        from toolkit.local.runner import local_runner

        return self._wait_for(self._record_id(local_runner(), index), timeout)

    def _wait_for(self, record_id: str, timeout: float | None) -> Any:
        """The result of one input, from its store record (or its local slot when this process spawned it)."""
        from toolkit.local.results import unwrap
        from toolkit.local.runner import local_runner

        runner = local_runner()
        slot = runner.local_slot(record_id)
        if slot is not None:  # spawned by this process: wait on it directly
            try:
                return unwrap(*slot.wait(timeout))
            except TimeoutError:
                raise TimeoutError(f"{record_id} is still running after {timeout} s") from None
        return self._poll(runner.store, timeout, record_id)

    def _cloud(self) -> Any:
        """Inside a deployed function, or for a call of a deployed app this process looked up: the runner
        that reads the app's DynamoDB table; None for a local call."""
        from toolkit.deployed_code import runner_for_call
        from toolkit.runner import deployed_runner

        deployed = deployed_runner()
        if deployed is not None:
            return deployed
        if self._known_locally():  # a local call stays local even after this process looked up a deployed app
            return None
        found = runner_for_call(self.object_id)
        if found is None:  # an id from elsewhere: the call tables of the apps deployed in this region
            from toolkit.call_search import find_deployed_call

            found, search = find_deployed_call(self.object_id)
            self._searched = search.describe()
        return found

    def _known_locally(self) -> bool:
        from toolkit.local.call_links import call_links
        from toolkit.local.runner import local_runner

        runner = local_runner()
        return (runner.local_slot(self.object_id) is not None or call_links().get(self.object_id) is not None
                or runner.store.get(self.object_id) is not None)

    def _record_ids(self) -> list[str]:
        """The store records of this call's inputs, in input order."""
        from toolkit.local.call_links import call_links, record_ids

        return record_ids(self.object_id, call_links().get(self.object_id))

    def _record_id(self, runner: LocalRunner, index: int) -> str:
        from toolkit.local.call_links import SPAWN, call_links, input_record_id

        if index == 0 and runner.local_slot(self.object_id) is not None:
            return self.object_id  # a .spawn() of this process: skip the link lookup
        link = call_links().get(self.object_id)
        count = 1 if link is None else link.inputs
        if not isinstance(index, int) or not 0 <= index < count:
            fix = f"pass an index from 0 to {count - 1}" if count else "it has no result to get (it was given none)"
            raise InvalidError(f"get(index={index!r}): {self.object_id} has {count} input(s); {fix}.")
        return self.object_id if link is None or link.kind == SPAWN else input_record_id(self.object_id, index)

    def _poll(self, store: OwnedCallStore, timeout: float | None, record_id: str) -> Any:
        from runtime.callstore import CallStatus
        from toolkit.local.results import unwrap

        deadline = None if timeout is None else time.monotonic() + timeout
        delay = _POLL_START
        while True:
            record = store.get(record_id)  # a call whose owner died reads FAILED with CallLostError
            if record is None:
                raise NotFoundError(f"No call {record_id!r} in the local call store ({store.path}), nor in a "
                                    f"deployed app this process looked up; {self._searched}. Check the id (from "
                                    "fn.spawn().object_id), or look its app up first (toolkit.App.lookup(name)).")
            if record.status.finished:
                assert record.result is not None  # complete() and mark_lost() always write one
                return unwrap(record.status is CallStatus.DONE, record.result)
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"{record_id} is still {record.status.value}")
            remaining = None if deadline is None else deadline - time.monotonic()
            time.sleep(delay if remaining is None else max(0.0, min(delay, remaining)))
            delay = min(delay * 2, _POLL_MAX)


    # -- many inputs ------------------------------------------------------------------------------
    @aio_method
    def num_inputs(self) -> int:
        """How many inputs the call has: 1 for a ``.spawn()``, one per input for ``experimental_spawn_map``."""
        return len(self._record_ids())

    @aio_iter_method
    def iter(self, *, start: int = 0, end: int | None = None) -> Iterator[Any]:
        """The results of inputs ``start`` to ``end`` (exclusive; default: all), in input order, each as soon
        as it and those before it are done; a failed input raises its error there."""
        ids = self._record_ids()
        stop = len(ids) if end is None else end
        if not 0 <= start <= stop <= len(ids):
            raise ValueError(f"iter(start={start!r}, end={end!r}): {self.object_id} has {len(ids)} input(s); pass "
                             f"0 <= start <= end <= {len(ids)}.")
        if self._cloud() is not None:
            return (self._get() for _ in range(start, stop))  # a deployed call: its one input
        return (self._wait_for(record_id, None) for record_id in ids[start:stop])

    # -- control --------------------------------------------------------------------------------
    @aio_method
    def cancel(self, terminate_containers: bool = False) -> None:
        """Stop the call's unfinished inputs, without retries: queued ones never start, running ones are
        interrupted in their worker (`toolkit.local.worker`; ``terminate_containers=True`` stops those
        workers at once, and their other inputs run again elsewhere).  ``get()`` then raises
        `CallCancelledError`.  From another process, the owner acts on it within about a second.  A deployed
        call is settled cancelled at once and its Step Functions execution stopped (`_cancel_deployed`)."""
        from toolkit.local.call_links import call_links
        from toolkit.local.runner import local_runner

        cloud = self._cloud()
        if cloud is not None:  # a deployed call: settled CANCELLED, its Step Functions execution stopped
            self._cancel_deployed(cloud)
            return
        runner = local_runner()
        if runner.cancel(self.object_id, terminate_containers):
            return
        records = [runner.store.get(record_id) for record_id in self._record_ids()]
        if all(record is None for record in records):
            raise NotFoundError(f"No call {self.object_id!r} in the local call store ({runner.store.path}) to cancel.")
        if any(record is not None and not record.status.finished for record in records):
            call_links().request_cancel(self.object_id, terminate_containers)  # its owner process acts on it

    def _cancel_deployed(self, cloud: Any) -> None:
        """On AWS (runtime.cloud_client.CloudTransport.cancel): ``get()`` raises `CallCancelledError`; an ECS
        worker's task stops with its execution, a Lambda worker already running finishes unrecorded."""
        from runtime.serialization import serialize_error
        from toolkit.exception import CallCancelledError

        try:
            cloud.transport.cancel(self.object_id, serialize_error(CallCancelledError(
                f"{self.object_id} was cancelled (FunctionCall.cancel()) before it finished.")))
        except LookupError as exc:
            raise NotFoundError(str(exc)) from None

    @aio_method
    def get_call_graph(self) -> list[InputInfo]:
        """The inputs of the call tree this call belongs to, from its root: each input with the calls
        spawned while it ran as ``children`` (`toolkit.local.call_graph`)."""
        from toolkit.local.call_graph import call_graph

        return call_graph(self.object_id)

    # -- identity -------------------------------------------------------------------------------
    @aio_method
    def hydrate(self, client: Any = None) -> FunctionCall:
        """Returns the call: a handle already knows everything it needs."""
        return self

    @aio_method
    def get_dashboard_url(self) -> str:
        """The call's page (``/api/calls/<id>``: its arguments, result or error) on the dashboard of the
        ``toolkit serve`` running its app on this machine; NotFoundError naming what to start otherwise."""
        from toolkit.dashboard_urls import serve_origin
        from toolkit.local.runner import local_runner

        record = local_runner().store.get(self._record_ids()[0])
        origin = serve_origin(record.app) if record is not None else None
        if record is None or origin is None:
            raise NotFoundError(f"{self.object_id}.get_dashboard_url(): its app is not being served on this machine; "
                                "start `toolkit serve app.py` for the dashboard (a call spawned there shows on it).")
        return f"{origin}/api/calls/{self._record_ids()[0]}"  # a multi-input call: its first input

    @property
    def logs(self) -> LogsView:
        """What the workers of this process printed while running this call: ``tail(n)``,
        ``fetch(since=...)``, ``stream(timeout)`` (`toolkit.local.logs`)."""
        from toolkit.local.logs import LogsView
        from toolkit.local.runner import local_runner

        runner = local_runner()
        return LogsView(lambda: [pool.logs for pool in runner.pools()], call_id=self.object_id)


def _gather(*calls: FunctionCall) -> list[Any]:
    """Wait for every call; their results in argument order, or the first failure (in that order) raised.

    The other calls keep running after a failure, as spawned calls do when their caller stops waiting.
    """
    for call in calls:
        if not isinstance(call, FunctionCall):
            raise InvalidError(f"FunctionCall.gather() takes FunctionCall objects (from fn.spawn()), got {call!r}.")
    return [call.get() for call in calls]


FunctionCall.gather = Aio(_gather)
