"""The Lambda entrypoint for container-image functions: ``runtime.lambda_handler.handler``.

One execution environment serves one function.  At init (first import with the
variables set, or the first invoke) it loads secrets, imports the user's code, builds
the web adapter (starting a ``web_server`` once) and runs ASGI lifespan startup once.

Events handled (see `runtime.events.sources`, `runtime.invocation`):
  * web: API Gateway REST (v1), HTTP API (v2), ALB, Function URL -> adapter via Mangum,
    behind the shared `Gateway` (proxy auth, 413 body limit, the 303 budget).  Under the image's
    own Runtime API loop (`runtime.lambda_loop`, entry `respond`) Function URL events are
    answered as streams instead (`runtime.events.function_url`): SSE arrives event by event;
  * ``{"toolkit_event": "call", ...}``: a ``.remote()`` / ``.spawn()`` direct invoke;
  * ``{"toolkit_event": "worker_task", "call_id", "function"}``: a Step Functions task.  A task
    that cannot record an outcome *raises* (a Lambda function error) instead of replying, so
    Step Functions retries it and finally marks the call FAILED (infra/asl.py ``MarkFailed``);
  * API Gateway WebSocket routes, S3/SQS/EventBridge records, a console test event: a 400 reply naming
    what arrived and the fix (`runtime.events.refusals`), logged once; the environment stays up.

Environment variables read (the contract is `runtime.environment.ContainerEnv`):
  TOOLKIT_MANIFEST           path to the app manifest JSON (required)
  TOOLKIT_FUNCTION           tag of the function this environment serves (required)
  TOOLKIT_APP_ROOT           directory the manifest's source path is relative to (default: cwd)
  TOOLKIT_SECRET_ARNS        JSON list of Secrets Manager ARNs loaded into os.environ at init
  TOOLKIT_CALLS_TABLE        DynamoDB call table (worker tasks, stored calls, detached web calls)
  TOOLKIT_PAYLOAD_BUCKET     S3 bucket for claim-checks over the item-size threshold
  TOOLKIT_CALL_TTL_SECONDS   how long call records live (default 7 days)
  TOOLKIT_STATE_MACHINE_ARN  Step Functions state machine for over-budget web calls; unset: all inline
  TOOLKIT_REQUEST_BUDGET_S   front-door wait before a 303 (default 25: HTTP API's 30 s minus a margin)
  TOOLKIT_PROXY_TOKENS       JSON {token_id: sha256_hex(secret)} for requires_proxy_auth endpoints
  TOOLKIT_STREAM_BUDGET_S    streamed Function URL requests: wait for a response to start before a 303 (150)
  TOOLKIT_STREAM_RESPONSES   "0": answer Function URL events buffered (a URL in BUFFERED invoke mode)
  AWS_ENDPOINT_URL (+ usual AWS_* variables) read by boto3 itself
"""

from __future__ import annotations

import http.client
import logging
import os
from collections.abc import Callable
from typing import Any

from mangum.types import Response

from runtime.callstore.base import CallStatus, CallStore
from runtime.deployment import Deployment, load_deployment
from runtime.environment import ContainerEnv
from runtime.events import EventSource, LambdaBridge, classify
from runtime.events.bridge import DirectHTTP
from runtime.events.function_url import FunctionURLFront, StoredResults, web_server_proxy
from runtime.events.handlers import alb_reply
from runtime.events.refusals import refusal
from runtime.events.streaming import OpenStream, StreamingReply, stream_reply
from runtime.gateway import Gateway, fits_inline, result_call_id
from runtime.gateway.call_paths import CallPath
from runtime.gateway.records import HTTPRequestRecord, run_asgi
from runtime.invocation import (
    LAMBDA_MAX_TIMEOUT_S,
    CallRequest,
    InvalidInvocationError,
    WorkerTask,
    error_reply,
    inline_reply,
    stored_reply,
)
from runtime.secrets import load_secrets
from runtime.types import ASGIApp, LambdaEvent, Scope
from runtime.userapp import load_function
from runtime.volumes.mounts import commit_all
from runtime.worker import await_batch, execute_stored_batch, execute_stored_call, run_to_result

log = logging.getLogger("toolkit.runtime")
_STREAMING = ContainerEnv.name("stream_responses")


class AbandonedCallError(RuntimeError):
    """A worker task found its call still running and could not take it back: an earlier attempt
    claimed it and stopped (timeout, crash) without a result, and this task carries no later attempt
    number (or a batch holds the call), so nothing will finish it."""


class FunctionService:
    """Everything one execution environment holds between invocations."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.entry = deployment.function
        self.function = load_function(deployment)  # a plain function or a class method
        self._store: CallStore | None = None
        self.app: ASGIApp | None = None
        self.bridge: LambdaBridge | None = None
        self.gateway: Gateway | None = None  # the buffered doors'; the Function URL's derives from it
        self._front: FunctionURLFront | None = None
        if self.entry.is_web:
            self.app = self.function.web_app(deployment.web_spec)
            self.gateway = gateway = Gateway(self.app, deployment.gateway_policy("lambda"), self._call_path())
            self.bridge = LambdaBridge(gateway, direct=direct_proxy(gateway))
            self.bridge.startup()  # lifespan once per environment, not per event

    # -- wiring ----------------------------------------------------------------------------

    @property
    def store(self) -> CallStore:
        if self._store is None:
            from runtime.callstore.dynamodb import DynamoDBCallStore

            self._store = DynamoDBCallStore.from_env(self.deployment.env)
        return self._store

    def _call_path(self) -> CallPath | None:
        from runtime.stepfunctions import StepFunctionsCalls

        env = self.deployment.env
        if not (env.state_machine_arn and env.calls_table):
            return None  # no Step Functions: every request runs inline
        return StepFunctionsCalls(self.store, self.deployment.app_name, env.state_machine_arn)

    # -- events ----------------------------------------------------------------------------

    def handle(self, event: Any, context: Any) -> dict[str, Any]:
        source = classify(event)
        if source.is_web:
            return self.web(event, context)
        if source is EventSource.CALL:
            return self.call(CallRequest.parse(event))
        if source is EventSource.WORKER_TASK:
            return self.worker_task(WorkerTask.parse(event))
        return self.refuse(event, source)

    def refuse(self, event: Any, source: EventSource) -> dict[str, Any]:
        """A 400 naming what arrived (a WebSocket route, an S3 record, a console test event) and the fix,
        logged once without a traceback; toolkit-shaped for a plain function, so its callers raise it."""
        message = refusal(event, source, self.entry.tag, self.entry.is_web)
        log.warning("toolkit runtime refused an event: %s", message)
        return error_reply(400, message, web=self.entry.is_web)

    def web(self, event: LambdaEvent, context: Any) -> dict[str, Any]:
        if self.bridge is None:
            return self._not_web_reply()
        try:
            return self.bridge(event, context)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # app errors become 500s inside Mangum; what escapes is the event failing to parse
            source = classify(event).value
            return error_reply(400, f"Malformed {source} event: {type(exc).__name__}: {exc}", web=True)

    def stream(self, event: LambdaEvent, context: Any, open_stream: OpenStream) -> None:
        """A Function URL event, answered on ``open_stream`` as it is produced."""
        if self.bridge is None:
            stream_reply(self._not_web_reply(), open_stream)
            return
        try:
            scope, body = self.bridge.request(event, context)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # the event failed to parse
            stream_reply(error_reply(400, f"Malformed function_url event: {type(exc).__name__}: {exc}", web=True),
                         open_stream)
            return
        self.function_url().serve(scope, body, open_stream, _seconds_left(context))

    def function_url(self) -> FunctionURLFront:
        """Built on the first Function URL event: the stream budget, and the call store if configured."""
        if self._front is None:
            assert self.app is not None and self.bridge is not None and self.gateway is not None
            app, has_store = self.app, bool(self.deployment.env.calls_table)
            policy = self.deployment.gateway_policy("stream")
            call_path = self.gateway.call_path
            backed: list[Gateway] = []

            def backed_gateway() -> Gateway | None:
                if has_store and not backed:
                    backed.append(Gateway(app, policy, call_path or StoredResults(self.store)))
                return backed[0] if backed else None

            long = (self.entry.timeout or 0) > LAMBDA_MAX_TIMEOUT_S and call_path is not None
            self._front = FunctionURLFront(self.bridge, Gateway(app, policy), backed_gateway,
                                           (lambda: self.store) if has_store else None, self.deployment.app_name, long)
        return self._front

    def _not_web_reply(self) -> dict[str, Any]:
        message = (f"{self.entry.tag!r} is a plain function, not a web endpoint: "
                   "call it with .remote() or give it a web decorator.")
        log.warning("toolkit runtime refused an event: %s", message)  # the function's log says why, too
        return error_reply(400, message, web=True)

    def call(self, request: CallRequest) -> dict[str, Any]:
        self._check_function(request.function)
        if request.call_id is not None:
            return stored_reply(request.call_id, self._execute(request.call_id))
        assert request.payload is not None
        return inline_reply(*run_to_result(self._runner(), request.payload))

    def worker_task(self, task: WorkerTask) -> dict[str, Any]:
        self._check_function(task.function)
        status = self._execute(task.call_id, task.attempt)
        store: Any = self.store
        if not status.finished and hasattr(store, "batched_by"):  # claimed into another call's batch: wait for it
            status = await_batch(store, task.call_id, float(self.entry.timeout or LAMBDA_MAX_TIMEOUT_S))
            if not status.finished and store.take_back(task.call_id, task.attempt):  # the batch ended without it
                status = self._execute(task.call_id, task.attempt, claimed=True)
        if not status.finished:
            raise AbandonedCallError(
                f"Call {task.call_id} is still {status.value} but no attempt is running it: an earlier attempt "
                "stopped (timeout or crash) before recording a result. Raise the function's timeout or memory.")
        return {"call_id": task.call_id, "status": status.value}

    def _execute(self, call_id: str, attempt: int = 0, *, claimed: bool = False) -> CallStatus:
        """Run a stored call: alone, or a ``@toolkit.batched`` function's with the pending calls it gathers
        (a store without a pending index, such as a test's SQLite one, runs batches of one).  A retried
        worker task (``attempt`` > 0) may take the call back from the attempt before it; ``claimed``: this
        worker holds the call already (taken back from a batch that ended without it)."""
        batch = getattr(self.function, "batch", None) if self.app is None else None
        store: Any = self.store
        claim = _held if claimed else (lambda cid: bool(store.mark_running(cid, attempt=attempt))) if attempt else None
        if batch is None or not hasattr(store, "pending_calls"):
            return execute_stored_call(store, call_id, self._runner(), claim)
        fn: Any = self.function
        return execute_stored_batch(store, call_id, self.deployment.app_name, self.entry.tag, batch,
                                    fn.call_batch, fn.same_batch, claim)

    def _runner(self) -> Any:
        if self.app is None:
            return self.function.call
        app, bridge = self.app, self.bridge
        assert bridge is not None

        def replay(request: object) -> object:
            if not isinstance(request, HTTPRequestRecord):
                raise InvalidInvocationError(f"Web function {self.entry.tag!r} can only replay HTTP requests.")
            return bridge.run(run_asgi(app, request, bridge.state))

        return replay

    def _check_function(self, function: str) -> None:
        if function != self.entry.tag:
            raise InvalidInvocationError(
                f"This environment serves {self.entry.tag!r}, not {function!r}: check the invoked function name."
            )


def _held(call_id: str) -> bool:
    """The claim of a call this worker already holds (`FunctionService._execute`'s ``claimed``)."""
    return True


def direct_proxy(gateway: Gateway) -> DirectHTTP | None:
    """For ``web_server``: the request goes straight to the user's server on a kept connection
    (`WebServerProxy.forward`), no event loop, whenever the gateway would pass it through inline
    unchanged: admitted (auth, declared size), body within the limit, no detached call and no
    result URL.  Anything else returns None, and the ASGI path through `Gateway` answers it
    (its 401/413/303 replies stay one implementation)."""
    proxy = web_server_proxy(gateway)
    if proxy is None:
        return None  # only the web_server adapter has a synchronous form
    policy, call_path = gateway.policy, gateway.call_path
    detaches = call_path is not None and not fits_inline(policy.timeout, policy.budget)

    def direct(scope: Scope, body: bytes) -> Response | None:
        if detaches or not gateway.admits_whole(scope, body):
            return None
        if call_path is not None and result_call_id(scope.get("query_string", b"")) is not None:
            return None
        try:
            status, headers, data = proxy.forward(scope, body)
        except (OSError, http.client.HTTPException) as exc:  # the server is down or broke the connection
            return Response(status=502, headers=[[b"content-type", b"text/plain; charset=utf-8"]],
                            body=proxy.unreachable(exc))
        return Response(status=status, headers=[[k, v] for k, v in headers], body=data)

    return direct


def _seconds_left(context: Any) -> Callable[[], float | None]:
    """The invocation's remaining time, from the Lambda context (None without one: in-process calls)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return lambda: None
    return lambda: float(remaining()) / 1000


# -- the module-scope environment -------------------------------------------------------------

_service: FunctionService | None = None


def init() -> FunctionService:
    """Build the environment's service once; later calls return the same one."""
    global _service
    if _service is None:
        load_secrets()
        _service = FunctionService(load_deployment())
    return _service


def shutdown() -> None:
    """Run lifespan shutdown, then the class instances' ``@exit`` hooks, and forget the service: on
    SIGTERM (`runtime.lambda_loop`), at the end of an ECS worker task (`runtime.entrypoints.worker_task`), between tests."""
    global _service
    service, _service = _service, None
    if service is None:
        return
    try:
        if service.bridge is not None:
            service.bridge.shutdown()
    finally:
        service.function.close()  # class instances run their @exit hooks, even if the lifespan's shutdown failed


def handler(event: Any, context: Any) -> dict[str, Any]:
    reply = _answer(event, context)
    # the runtime's own refusals are plain dicts: an ALB target group needs its shape for them too
    return alb_reply(event, reply) if classify(event) is EventSource.ALB else reply


def _answer(event: Any, context: Any) -> dict[str, Any]:
    source = classify(event)
    web = source not in (EventSource.CALL, EventSource.WORKER_TASK)
    # A Step Functions task must fail visibly: a reply would count as success and leave the call unfinished.
    reraise = source is EventSource.WORKER_TASK
    try:
        service = init()
    except Exception as exc:  # a broken deployment answers every event with why, instead of crash-looping
        log.exception("toolkit runtime failed to initialise")
        if reraise:
            raise
        return error_reply(500, f"The function could not start: {type(exc).__name__}: {exc}", web=web)
    try:
        return service.handle(event, context)
    except InvalidInvocationError as exc:
        return error_reply(400, str(exc), web=web)
    except Exception as exc:
        log.exception("toolkit runtime failed to handle an event")
        if reraise:
            raise
        return error_reply(500, f"The runtime failed handling this event: {type(exc).__name__}: {exc}", web=web)
    finally:
        commit_all()  # a Lambda can be discarded without notice: its volume writes are committed now


def streams(event: Any) -> bool:
    """Function URL events stream, unless ``TOOLKIT_STREAM_RESPONSES=0`` (a URL in BUFFERED mode).
    Read per event, before `init`: only this one variable, not the whole `ContainerEnv`."""
    return classify(event) is EventSource.FUNCTION_URL and os.environ.get(_STREAMING, "1") != "0"


def respond(event: Any, context: Any, reply: StreamingReply) -> None:
    """The entry of the image's Runtime API loop (`runtime.lambda_loop`): a Function URL event is
    answered as a stream; every other event gets `handler`'s buffered reply.  An error before the
    stream started answers 500 with why, as `handler` does; one after it propagates, and the loop
    ends the stream with Lambda's error trailers."""
    if not streams(event):
        reply.send(handler(event, context))
        return
    try:
        service = init()
    except Exception as exc:  # as in `handler`: every event says why, instead of crash-looping
        log.exception("toolkit runtime failed to initialise")
        stream_reply(error_reply(500, f"The function could not start: {type(exc).__name__}: {exc}", web=True),
                     reply.stream)
        return
    try:
        service.stream(event, context, reply.stream)
    except Exception as exc:
        if reply.answered:
            raise
        log.exception("toolkit runtime failed to handle an event")
        stream_reply(error_reply(500, f"The runtime failed handling this event: {type(exc).__name__}: {exc}",
                                 web=True), reply.stream)
    finally:
        commit_all()  # as `handler` does: a Lambda can be discarded without notice after a streamed reply


if os.environ.get(ContainerEnv.name("manifest")) and os.environ.get(ContainerEnv.name("function")):
    # Lambda's init phase: do the slow work before the first request arrives
    try:
        init()
    except Exception:
        log.exception("toolkit runtime init failed; every invoke will report why")
