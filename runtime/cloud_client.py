"""Calling a deployed app from outside: ``.remote``, ``.spawn``, ``.map``, ``FunctionCall.get``.

The transport the SDK plugs in for deployed apps.  State lives in the DynamoDB call
store; ``spawn`` starts the function's Step Functions worker; ``remote`` invokes the
Lambda directly or, for functions without a Lambda, spawns and waits.  Input and result go
through the store either way, never inside the invoke or the execution input: a blob over
the store's item threshold is a claim-check in the payload bucket (S3), so a call's size is
not bound by Lambda's 6 MB or Step Functions' 256 KB (`runtime.invocation` names the limits).
Calls to a method of an ``@app.cls`` class carry the parameter values the caller bound
(``params``), and the runtime builds (or reuses) that instance.  boto3 is imported lazily
(through `runtime.awsclients`) and honours ``AWS_ENDPOINT_URL``.

Front door (``runtime.FRONT_DOORS``): the SDK imports `CloudTransport`:
``.remote``/``.spawn``/``.map`` against a deployed app; `__all__` is what it offers.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from runtime.callmap import CallMap
from runtime.callstore.base import CallStatus, CallStore, new_call_id
from runtime.environment import ContainerEnv
from runtime.invocation import LAMBDA_MAX_TIMEOUT_S, call_event, encode_args
from runtime.params import Params
from runtime.serialization import RemoteError, WorkerFailedError, deserialize, serialize_error
from runtime.stepfunctions import start_execution, stop_execution

__all__ = [
    "CloudFunctionCall",
    "CloudTransport",
    "FunctionTarget",
    "INVOKE_READ_TIMEOUT_S",
    "InvocationError",
    "Invoker",
    "RemoteCallError",
    "TARGETS_ENV",
    "lambda_invoker",
    "targets_from_env",
    "transport_from_call_map",
    "transport_from_env",
]

Invoker = Callable[[str, dict[str, Any]], dict[str, Any]]
# Set by infra in every function: JSON {tag: {"lambda_arn": str | null, "state_machine_arn": str}}
TARGETS_ENV = ContainerEnv.name("function_targets")
POLL_FIRST_S, POLL_MAX_S = 0.05, 1.0
SPAWN_THREADS = 16  # a .map's spawns in flight at once (boto3 clients are thread-safe)
# A synchronous invoke answers when the function returns, up to Lambda's 900 s limit: the client
# must wait at least that long, or botocore's 60 s default ends (and retries) a long call.
INVOKE_READ_TIMEOUT_S = LAMBDA_MAX_TIMEOUT_S + 60


class RemoteCallError(RuntimeError):
    """A remote failure whose exception could not be carried back; the remote traceback is attached."""

    def __init__(self, error: RemoteError) -> None:
        super().__init__(f"{error.type_name}: {error.message}\n\nRemote traceback:\n{error.traceback}")
        self.remote = error


class InvocationError(RuntimeError):
    pass


@dataclass(frozen=True)
class FunctionTarget:
    """Where one deployed function runs (from deploy outputs)."""

    tag: str
    lambda_arn: str | None = None
    state_machine_arn: str | None = None


def lambda_invoker(function_arn: str, event: dict[str, Any]) -> dict[str, Any]:
    from runtime.awsclients import client

    lambda_client = client("lambda", read_timeout=INVOKE_READ_TIMEOUT_S)
    response = lambda_client.invoke(FunctionName=function_arn, InvocationType="RequestResponse",
                                    Payload=json.dumps(event).encode())
    reply: dict[str, Any] = json.loads(response["Payload"].read() or b"null") or {}
    if "FunctionError" in response:
        raise InvocationError(f"Lambda {function_arn} failed: {reply.get('errorMessage', reply)}")
    return reply


class CloudTransport:
    def __init__(self, app_name: str, store: CallStore, targets: Mapping[str, FunctionTarget],
                 invoker: Invoker = lambda_invoker, invocation_limit_s: float = INVOKE_READ_TIMEOUT_S) -> None:
        """``invocation_limit_s``: how long a Lambda invocation can possibly run (Lambda's limit and a
        margin); a call another invocation holds and has not finished by then never will."""
        self.app_name, self.store, self.targets, self._invoke = app_name, store, dict(targets), invoker
        self.invocation_limit_s = invocation_limit_s

    def _target(self, tag: str) -> FunctionTarget:
        try:
            return self.targets[tag]
        except KeyError:
            raise LookupError(_not_deployed(self.app_name, tag, self.targets)) from None

    def spawn(self, tag: str, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None,
              params: Params = ()) -> str:
        target = self._target(tag)
        if not target.state_machine_arn:
            raise LookupError(f"Function {tag!r} has no worker state machine; redeploy to enable .spawn().")
        call_id = self._create(tag, args, kwargs, params)
        start_execution(target.state_machine_arn, call_id, tag)
        return call_id

    def remote(self, tag: str, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None,
               params: Params = ()) -> Any:
        target = self._target(tag)
        if target.lambda_arn is None:
            return self.get(self.spawn(tag, args, kwargs, params), timeout=None)
        call_id = self._create(tag, args, kwargs, params)
        reply = self._invoke(target.lambda_arn, call_event(tag, call_id=call_id))
        if reply.get("toolkit_result") != "stored":
            raise InvocationError(f"Unexpected reply from {target.lambda_arn}: {reply.get('message', reply)!r}")
        if reply.get("status") == CallStatus.RUNNING.value:
            return self._await_invocation(call_id)
        return self.get(call_id, timeout=0)

    def _await_invocation(self, call_id: str) -> Any:
        """A retried invoke found the first invocation still at work on the call: it records the result,
        unless it is killed (its timeout, a crash) first.  No execution or task watches a direct invoke,
        so the wait is bounded by the longest any invocation runs; past it the call is settled FAILED
        (the conditional write a result uses: a result that landed first wins)."""
        try:
            return self.get(call_id, timeout=self.invocation_limit_s)
        except TimeoutError:
            error = WorkerFailedError(
                "Lambda.InvocationLost", f"the Lambda invocation running it recorded no result within "
                f"{self.invocation_limit_s:g} s, longer than an invocation can run: it was killed by the function's "
                "timeout or crashed. Call it again; raise timeout= (or memory=) in @app.function(...) if it needs it.",
                call_id)
            self.store.complete(call_id, CallStatus.FAILED, serialize_error(error))
            return self.get(call_id, timeout=0)

    def _create(self, tag: str, args: tuple[Any, ...], kwargs: dict[str, Any] | None, params: Params) -> str:
        """Record a PENDING call with its input (the store claim-checks a large one to S3)."""
        call_id = new_call_id()
        self.store.create(call_id, self.app_name, tag, encode_args(args, kwargs or {}, params))
        return call_id

    def get(self, call_id: str, timeout: float | None = None) -> Any:
        """The call's result; raises its exception if it failed, `TimeoutError` if unfinished in time."""
        deadline = None if timeout is None else time.monotonic() + timeout
        interval = POLL_FIRST_S
        while True:
            record = self.store.get(call_id)
            if record is None:
                raise LookupError(f"No call {call_id!r}: unknown id, or its record expired.")
            if record.status.finished:
                return _outcome(record.status, record.result)
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"Call {call_id} is still {record.status.value} after {timeout} s.")
            wait = interval if deadline is None else min(interval, max(0.0, deadline - time.monotonic()))
            time.sleep(wait)
            interval = min(interval * 2, POLL_MAX_S)

    def cancel(self, call_id: str, error: bytes) -> bool:
        """Cancel an unfinished call: ``error`` (the caller's serialized cancellation error) becomes its
        outcome, with the conditional write a result uses, then its execution is stopped.  False when
        it had already finished (its result stands)."""
        record = self.store.get(call_id)
        if record is None:
            raise LookupError(f"No call {call_id!r} in app {self.app_name!r} to cancel: unknown id, or its "
                              "record expired.")
        if record.status.finished or not self.store.complete(call_id, CallStatus.FAILED, error):
            return False
        machine = self.targets[record.function].state_machine_arn if record.function in self.targets else None
        if machine:  # after the verdict: the state machine's Catch finds the call finished and leaves it
            stop_execution(machine, call_id, f"{call_id} was cancelled (FunctionCall.cancel()).")
        return True

    def map(self, tag: str, inputs: Iterable[tuple[Any, ...]], *, order_outputs: bool = True,
            return_exceptions: bool = False, kwargs: dict[str, Any] | None = None,
            params: Params = ()) -> Iterator[Any]:
        """Spawn one call per argument tuple now, then yield results (in input order, or as they finish).
        Spawns run `SPAWN_THREADS` at a time: each is a PutItem and a StartExecution, two round trips
        that from outside AWS would otherwise add up input by input."""
        with ThreadPoolExecutor(max_workers=SPAWN_THREADS, thread_name_prefix="toolkit-spawn") as pool:
            call_ids = list(pool.map(lambda args: self.spawn(tag, tuple(args), kwargs, params), inputs))
        return self._results(call_ids, order_outputs, return_exceptions)

    def _results(self, call_ids: list[str], order_outputs: bool, return_exceptions: bool) -> Iterator[Any]:
        if order_outputs:
            for call_id in call_ids:
                yield self._map_result(call_id, return_exceptions)
            return
        with ThreadPoolExecutor(max_workers=min(32, len(call_ids) or 1)) as pool:
            futures = [pool.submit(self._map_result, call_id, return_exceptions) for call_id in call_ids]
            for future in as_completed(futures):
                yield future.result()

    def _map_result(self, call_id: str, return_exceptions: bool) -> Any:
        try:
            return self.get(call_id)
        except Exception as exc:
            if return_exceptions:
                return exc
            raise


def _not_deployed(app: str, tag: str, targets: Mapping[str, FunctionTarget]) -> str:
    function, variant, _ = tag.partition("~")
    if variant and function in targets:  # toolkit.variants names a with_options variant <tag>~<options hash>
        return (f"{function!r} with these options ({tag!r}) is not deployed in app {app!r}: a with_options variant "
                "is deployed only when it is made at module level (e.g. big = f.with_options(...) beside the "
                "function); move it there and redeploy.")
    known = ", ".join(sorted(targets)) or "none"
    return f"No deployed function {tag!r} in app {app!r} (callable: {known}); deploy it first."


def _outcome(status: CallStatus, result: bytes | None) -> Any:
    value = deserialize(result) if result is not None else None
    if status is CallStatus.DONE:
        return value
    if isinstance(value, RemoteError):
        raise value.exception if value.exception is not None else RemoteCallError(value)
    raise RuntimeError("The call failed without a recorded error.")


class CloudFunctionCall:
    """``FunctionCall`` for a deployed app: a handle on a spawned call by id."""

    def __init__(self, call_id: str, transport: CloudTransport) -> None:
        self.object_id, self._transport = call_id, transport

    @classmethod
    def from_id(cls, call_id: str, transport: CloudTransport) -> CloudFunctionCall:
        return cls(call_id, transport)

    def get(self, timeout: float | None = None) -> Any:
        return self._transport.get(self.object_id, timeout)

    def cancel(self, error: bytes) -> bool:
        return self._transport.cancel(self.object_id, error)


def targets_from_env(env: Mapping[str, str] = os.environ) -> dict[str, FunctionTarget]:
    """The app's callable functions as infra passed them (`TARGETS_ENV`)."""
    try:
        raw = json.loads(env.get(TARGETS_ENV) or "{}")
    except ValueError as exc:
        raise ValueError(f"{TARGETS_ENV} is not JSON: {exc}") from None
    return {tag: FunctionTarget(tag, t.get("lambda_arn"), t.get("state_machine_arn")) for tag, t in raw.items()}


def transport_from_env(app_name: str) -> CloudTransport:
    """The transport a deployed function uses to call its app's other functions."""
    from runtime.callstore.dynamodb import DynamoDBCallStore

    return CloudTransport(app_name, DynamoDBCallStore.from_env(), targets_from_env())


def transport_from_call_map(call_map: CallMap) -> CloudTransport:
    """The transport a process outside AWS uses to call a deployed app it looked up (`runtime.callmap`):
    the same call table, bucket and targets the app's own functions use."""
    from runtime.callstore.dynamodb import DynamoDBCallStore
    from runtime.callstore.supervision import Supervisor

    targets = {tag: FunctionTarget(tag, f.lambda_arn, f.state_machine_arn)
               for tag, f in call_map.functions.items() if f.lambda_arn or f.state_machine_arn}
    # reads settle calls whose execution ended or whose ECS task stopped (runtime.callstore.supervision)
    machines = {tag: t.state_machine_arn for tag, t in targets.items() if t.state_machine_arn}
    store = DynamoDBCallStore(call_map.calls_table, call_map.payload_bucket, supervisor=Supervisor(machines))
    return CloudTransport(call_map.app, store, targets)
