"""Objects of an ``@app.cls`` class inside one execution environment: parameter values -> instance.

A deployed method's environment builds one object per distinct set of parameter values
(``Model(size=3)``: ``size`` set, then the ``@toolkit.enter`` hooks, once), as toolkit's local
workers and ``toolkit serve`` do with one worker per set.  It keeps at most `MAX_INSTANCES`
of them (``TOOLKIT_MAX_INSTANCES``), evicting the least recently used idle one first and
running its ``@toolkit.exit`` hooks; an instance serving a request or a call is never evicted
under it.  An environment that must give an instance the whole machine (a ``web_server``
method: every instance would listen on the same port) uses an *exclusive* cache instead:
one instance at a time, and a new parameter set waits until the current one is idle.

Binding values and building the object are the SDK's own (`toolkit.cls`), so a value that
``toolkit serve`` rejects is rejected here with the same message.  The SDK is imported only
for classes: a class is only ever declared through it.

Front door (``runtime.FRONT_DOORS``): the SDK imports `build_instance`, so local workers build
``@app.cls`` objects as containers do; `__all__` is what it offers.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import reprlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qsl

from runtime import params as codec
from runtime.environment import ContainerEnv
from runtime.errors import InvalidError
from runtime.params import Params

__all__ = ["ClassMethod", "InstanceCache", "MAX_INSTANCES", "build_instance", "call_hook", "describe", "max_instances",
           "share_hook_loop"]

MAX_INSTANCES = 8  # per environment; each holds whatever its @enter loaded (a model, a connection pool)

log = logging.getLogger("toolkit.runtime")
E = TypeVar("E")


def max_instances() -> int:
    value = ContainerEnv.from_environ().max_instances  # raises, naming the variable, when not a whole number
    return MAX_INSTANCES if value is None else max(1, value)


@dataclass(frozen=True)
class ClassMethod:
    """The method one environment serves, and its class as the SDK recorded it (`toolkit.spec.ClsInfo`)."""

    info: Any  # ClsInfo: name, user_cls, parameters ((name, type, default), ...), enter/exit hook names
    name: str

    @property
    def tag(self) -> str:
        return f"{self.info.name}.{self.name}"

    def bind(self, params: Params) -> Params:
        """Checked values with defaults filled in; raises `runtime.errors.InvalidError` (``toolkit.InvalidError``), which
        the caller's SDK raises from ``.remote()`` (the same error a local call gives)."""
        try:
            return codec.bind(self.info.name, self.info.parameters, dict(params))
        except codec.ParameterError as exc:
            raise InvalidError(str(exc)) from None

    def params_from_query(self, query_string: bytes) -> Params:
        """The values a URL selects (``?root=%2Fdata&size=3``); raises `runtime.params.ParameterError`."""
        # decoded as toolkit serve's gateway decodes it, so both pick the same instance
        query = dict(parse_qsl(query_string.decode("latin-1")))
        return codec.from_query(self.info.name, self.info.parameters, query)

    def instantiate(self, params: Params) -> Any:
        log.info("building %s(%s)", self.info.name, describe(params))
        return build_instance(self.info, params)

    def method_of(self, obj: Any) -> Callable[..., Any]:
        # Bound from the class: the SDK's descriptor for ``self.other.remote`` reads as the plain function
        # there, so adapters introspect (signature, type hints, iscoroutinefunction) what the user wrote.
        plain: Any = getattr(type(obj), self.name)
        bound: Callable[..., Any] = plain.__get__(obj, type(obj))
        return bound

    def run_exit_hooks(self, obj: Any) -> None:
        for hook in self.info.exit_methods:
            try:
                call_hook(getattr(obj, hook))
            except Exception:  # one failing hook must not keep the others (or the eviction) from running
                log.exception("@exit hook %s.%s failed", self.info.name, hook)


_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 60  # a bytes parameter may be megabytes: log lines and 500s stay short


def describe(params: Params) -> str:
    """``size=3, root='/data'`` for log lines and error messages, each value's repr cut to ~60 characters."""
    return ", ".join(f"{name}={_SHORT.repr(value)}" for name, value in params)


class _Slot(Generic[E]):
    def __init__(self) -> None:
        self.users = 0
        self.built = False
        self.value: E | None = None
        self.building = threading.Lock()

    def get(self) -> E:
        assert self.built, "acquire() builds the value before handing the slot out"
        return self.value  # type: ignore[return-value]


class InstanceCache(Generic[E]):
    """Parameter values -> one built value, LRU-bounded, safe to use from many threads.

    ``build`` runs at most once per key while the key stays cached (concurrent first users
    wait for it); ``close`` runs on eviction and on `close`, outside every lock.
    """

    def __init__(self, build: Callable[[Params], E], close: Callable[[E], None], capacity: int,
                 *, exclusive: bool = False) -> None:
        self._build, self._close = build, close
        self.capacity = 1 if exclusive else max(1, capacity)
        self.exclusive = exclusive
        self._slots: OrderedDict[Params, _Slot[E]] = OrderedDict()
        self._changed = threading.Condition()

    @contextmanager
    def use(self, params: Params) -> Iterator[E]:
        slot = self.acquire(params)
        try:
            yield slot.get()
        finally:
            self.close_all(self.release(slot))

    def acquire_built(self, params: Params) -> _Slot[E] | None:
        """The cached slot for ``params``, held, if it is ready; never blocks on a build."""
        with self._changed:
            slot = self._slots.get(params)
            if slot is None or not slot.built:
                return None
            slot.users += 1
            self._slots.move_to_end(params)
            return slot

    def acquire(self, params: Params) -> _Slot[E]:
        """Hold the slot for ``params``, building its value first if needed (may block)."""
        slot, victims = self._enter(params)
        self.close_all(victims)  # before building: free what the old instance held first
        try:
            with slot.building:
                if not slot.built:
                    slot.value = self._build(params)
                    slot.built = True
        except BaseException:
            self.close_all(self._forget_failed(params, slot))
            raise
        return slot

    def release(self, slot: _Slot[E]) -> list[E]:
        """Let go of a slot; returns the values evicted meanwhile, for the caller to `close_all`."""
        with self._changed:
            slot.users -= 1
            victims = self._evict_idle()
            self._changed.notify_all()
        return victims

    def close(self) -> None:
        """Close every built value (environment shutdown)."""
        with self._changed:
            slots, self._slots = list(self._slots.values()), OrderedDict()
        self.close_all([s.get() for s in slots if s.built])

    # -- internals ---------------------------------------------------------------------------------

    def _enter(self, params: Params) -> tuple[_Slot[E], list[E]]:
        with self._changed:
            if self.exclusive:
                # one instance at a time: wait until whoever holds the machine is idle
                self._changed.wait_for(lambda: all(s.users == 0 for k, s in self._slots.items() if k != params))
            slot = self._slots.get(params)
            if slot is None:
                slot = self._slots[params] = _Slot()
            slot.users += 1
            self._slots.move_to_end(params)
            return slot, self._evict_idle()

    def _evict_idle(self) -> list[E]:
        """Idle slots past capacity, least recently used first (caller holds the lock)."""
        victims: list[E] = []
        for key in list(self._slots):
            if len(self._slots) <= self.capacity:
                break
            slot = self._slots[key]
            if slot.users == 0:
                del self._slots[key]
                if slot.built:
                    victims.append(slot.get())
        return victims

    def _forget_failed(self, params: Params, slot: _Slot[E]) -> list[E]:
        with self._changed:
            slot.users -= 1
            if not slot.built and slot.users == 0 and self._slots.get(params) is slot:
                del self._slots[params]  # the next user tries again
            self._changed.notify_all()
            return self._evict_idle()

    def close_all(self, values: list[E]) -> None:
        for value in values:
            try:
                self._close(value)
            except Exception:
                log.exception("closing an evicted instance failed")


def build_instance(info: Any, params: Params) -> Any:
    """Build a user object the way every worker does: parameters set (defaults for those not given,
    so a field never reads as the `toolkit.parameter()` marker), then the ``@enter`` hooks run.

    ``info`` is the class's description (name, user_cls, parameters, enter_methods), as
    ``toolkit.spec.ClsInfo`` holds it; raises `InvalidError` for bad values.
    """
    try:
        bound = codec.bind(info.name, info.parameters, dict(params))
    except codec.ParameterError as exc:
        raise InvalidError(str(exc)) from None
    obj: Any = object.__new__(info.user_cls)
    for name, value in bound:
        setattr(obj, name, value)
    for hook in info.enter_methods:
        call_hook(getattr(obj, hook))
    return obj


def call_hook(hook: Callable[[], Any]) -> None:
    """Run an ``@enter`` / ``@exit`` hook to completion.  The platform allows ``async def`` hooks; calling
    one only makes a coroutine, so it is run on an event loop of its own (in a helper thread when this
    thread already runs a loop).  A client bound to that loop at creation (an aiohttp session made in
    ``@enter``) does not carry over to the loop the async methods run on."""
    result = hook()
    if inspect.isawaitable(result):
        _run_to_completion(result)


_shared_loop: asyncio.AbstractEventLoop | None = None


def share_hook_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Run async hooks on ``loop``, the one this environment's async methods run on, so that what an
    ``@enter`` binds to its loop (an asyncpg pool, an aiohttp session) works in the methods.  Only for an
    environment that runs that loop itself between hooks (toolkit's local worker); hooks wait for it."""
    global _shared_loop
    _shared_loop = loop


def _run_to_completion(awaitable: Any) -> None:
    async def wait() -> None:
        await awaitable

    loop = _shared_loop
    if loop is not None and not loop.is_closed():
        if not loop.is_running():  # before the methods' loop starts (@enter) or after it ends (@exit)
            loop.run_until_complete(wait())
            return
        if not _runs_in_this_thread(loop):
            asyncio.run_coroutine_threadsafe(wait(), loop).result()
            return
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # no loop in this thread: the usual case (a worker builds its object before serving)
        asyncio.run(wait())
        return
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(wait())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
            failure.append(exc)

    helper = threading.Thread(target=run, name="toolkit-async-hook")
    helper.start()
    helper.join()
    if failure:
        raise failure[0]


def _runs_in_this_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
