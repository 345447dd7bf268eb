"""The image's Lambda entrypoint: ``python -m runtime.lambda_loop [module.handler]``.

Our own Runtime API loop (`runtime.runtime_api`) instead of awslambdaric, for two reasons: it
can stream (awslambdaric for Python only posts buffered responses), and it starts no slower
(bench/bench_runtime.py measures both; runtime/README.md has the figures).  Each turn: ``next`` -> the handler -> one answer.

* ``runtime.lambda_handler.handler`` (the default) is served through its streaming-aware entry,
  `runtime.lambda_handler.respond`: Function URL web events stream, everything else is buffered.
* Any other ``module.function`` is a plain buffered handler ``(event, context) -> JSON value``,
  as with any Lambda runtime.

A handler that raises gets ``/error`` (or, mid-stream, the error trailers); an event that is not
JSON gets ``Runtime.UnmarshalError``; either way the loop goes on with the next event.  A handler
that cannot be imported is reported to ``/init/error`` and the process exits, as Lambda expects.

SIGTERM (Lambda sends it at the end of an environment whose function has an extension, then SIGKILL
about 500 ms later) unwinds the loop wherever it is, waiting in ``next`` or mid-invocation, runs
`runtime.lambda_handler.shutdown` once (ASGI lifespan shutdown, class instances' ``@exit`` hooks)
within `SHUTDOWN_GRACE_S`, and exits 0.  An invocation it interrupts is not answered: nothing more
is posted for it, and a stream it was writing is dropped without its last chunk.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from runtime.environment import ContainerEnv, ContainerEnvError
from runtime.runtime_api import (
    HTTP_INTEGRATION_CONTENT_TYPE,
    TRANSPORT_ERRORS,
    ErrorReport,
    Invocation,
    ResponseStream,
    RuntimeAPI,
)

TOOLKIT_HANDLER = "runtime.lambda_handler.handler"
TRACE_ENV = "_X_AMZN_TRACE_ID"

log = logging.getLogger("toolkit.runtime")

SHUTDOWN_GRACE_S = 0.45
"""From SIGTERM to exit at most: Lambda sends SIGKILL about 500 ms after SIGTERM (the runtime's part of
the Shutdown phase; a function without an extension gets SIGKILL alone), so shutdown hooks that are
still running then are abandoned and the process exits 0 on its own, 50 ms before it would be killed.
A function with an external extension has a 2 s Shutdown phase: ``TOOLKIT_SHUTDOWN_GRACE_S`` (a
container knob, `runtime.environment`) gives it the longer bound."""
_grace_s = SHUTDOWN_GRACE_S  # what `install_sigterm_handler` read from the environment


class RuntimeFault(Exception):
    """A failure of the runtime's own part (unreadable event, unencodable result, missing
    handler), reported under the error type AWS's runtimes use for it."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.report = ErrorReport(error_type, message)


def report_of(exc: BaseException) -> ErrorReport:
    return exc.report if isinstance(exc, RuntimeFault) else ErrorReport.from_exception(exc)


InvocationHandler = Callable[[Any, "LambdaContext", "Reply"], None]


class LambdaContext:
    """The context object handlers receive, with the attributes of the AWS Python runtime's."""

    def __init__(self, invocation: Invocation) -> None:
        env = os.environ.get
        self.aws_request_id = invocation.request_id
        self.invoked_function_arn = invocation.function_arn
        self.function_name = env("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = env("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")  # a string, as awslambdaric gives it
        self.log_group_name = env("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env("AWS_LAMBDA_LOG_STREAM_NAME")
        self.client_context = _json_header(invocation.client_context)
        self.identity = _json_header(invocation.cognito_identity)
        self._deadline_ms = invocation.deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))

    def __repr__(self) -> str:
        return f"LambdaContext(aws_request_id={self.aws_request_id!r}, function_name={self.function_name!r})"


class Terminated(SystemExit):
    """Raised in the main thread by the SIGTERM handler: a `SystemExit` (not an `Exception`), so no
    ``except Exception`` on the way, ours or the user's, mistakes it for a failed invocation."""

    def __init__(self) -> None:
        super().__init__(0)


_terminating = False  # set once by SIGTERM: from then on nothing more is posted for any invocation


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    global _terminating
    if _terminating:
        return
    _terminating = True
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: a second SIGTERM must not cut the hooks short
    watchdog = threading.Timer(_grace_s, _exit_now)  # the bound holds even if unwinding hangs
    watchdog.daemon = True
    watchdog.start()
    raise Terminated()


def _exit_now() -> None:
    # no logging here: the main thread may hold a handler's lock
    os.write(2, b"toolkit runtime: shutdown hooks still running at the end of the shutdown grace; exiting\n")
    os._exit(0)


def install_sigterm_handler() -> None:
    """From now on SIGTERM raises `Terminated` in the main thread (a blocking ``recv`` in ``next`` is
    interrupted: the handler runs and its exception propagates instead of the read being retried)."""
    global _grace_s
    _grace_s = _configured_grace()
    signal.signal(signal.SIGTERM, _on_sigterm)


def _configured_grace() -> float:
    """The knob alone, not the whole `ContainerEnv`: a malformed other variable is reported by the
    init it belongs to (to the Runtime API), not here before the loop runs."""
    variable = ContainerEnv.name("shutdown_grace_s")
    raw = os.environ.get(variable)
    try:
        value = ContainerEnv.from_environ({variable: raw}).shutdown_grace_s if raw else None
    except ContainerEnvError as exc:
        log.warning("%s; using %.2f s", exc, SHUTDOWN_GRACE_S)
        return SHUTDOWN_GRACE_S
    return value if value is not None and value > 0 else SHUTDOWN_GRACE_S


def run_shutdown_hooks() -> None:
    """`runtime.lambda_handler.shutdown` if toolkit's handler was loaded (another handler has no hooks of ours)."""
    module = sys.modules.get("runtime.lambda_handler")
    if module is None:
        return
    try:
        module.shutdown()
    except Exception:
        log.exception("shutdown hooks failed")


class _Guarded:
    """The stream an invocation writes, cut off once SIGTERM came: writes are dropped and the end is
    never sent (the connection is dropped instead), so an interrupted response is not posted as whole.
    Dropped quietly rather than raised: an interrupted request may be resumed by the event loop while
    the lifespan shutdown runs on it, and must not break that run."""

    def __init__(self, stream: ResponseStream) -> None:
        self._stream = stream

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not _terminating:
            self._stream.write(data)

    def close(self) -> None:
        if _terminating:
            self._stream.abandon()
        else:
            self._stream.close()


class _Discarded:
    """A stream opened after SIGTERM: nothing is sent."""

    def write(self, data: bytes | bytearray | memoryview) -> None:
        pass

    def close(self) -> None:
        pass


class Reply:
    """How one invocation answers, exactly once: `send` (buffered JSON), `stream` (HTTP-integration
    stream) or `fail` (``/error``, or the error trailers once a stream has started)."""

    def __init__(self, api: RuntimeAPI, request_id: str) -> None:
        self._api, self._request_id = api, request_id
        self._stream: ResponseStream | None = None
        self._answered = False

    @property
    def answered(self) -> bool:
        return self._answered

    def send(self, result: Any) -> None:
        if _terminating:  # SIGTERM interrupted the handler and something answered anyway (Mangum's 500)
            raise Terminated()
        payload = result if isinstance(result, bytes) else _to_json(result)
        self._claim()
        self._api.respond(self._request_id, payload)

    def stream(self) -> _Guarded | _Discarded:
        if self._answered:
            raise RuntimeError("This invocation has already been answered.")
        if _terminating:
            self._answered = True
            return _Discarded()
        # opened before it counts as the answer: if opening fails, `fail` can still post /error
        self._stream = self._api.stream(self._request_id, HTTP_INTEGRATION_CONTENT_TYPE)
        self._answered = True
        return _Guarded(self._stream)

    def fail(self, report: ErrorReport) -> None:
        if _terminating:  # the invocation was interrupted: drop what is open, post nothing
            self._answered = True
            self.abandon()
            return
        if self._stream is not None and not self._stream.closed:
            self._stream.fail(report)
        elif not self._answered:
            self._answered = True
            self._api.fail(self._request_id, report)
        else:  # the answer is out already: all that is left is the log
            log.error("Invocation %s failed after it answered: %s: %s", self._request_id, report.error_type,
                      report.message)

    def abandon(self) -> None:
        """The connection broke (mid-stream, or under a report): drop it; the next ``next`` reconnects."""
        if self._stream is not None:
            self._stream.abandon()
        else:
            self._api.close()

    def _claim(self) -> None:
        if self._answered:
            raise RuntimeError("This invocation has already been answered.")
        self._answered = True


def serve(api: RuntimeAPI, handle: InvocationHandler, max_invocations: int | None = None) -> None:
    """Answer events until the process is stopped (or ``max_invocations``, for benchmarks)."""
    count = 0
    while max_invocations is None or count < max_invocations:
        answer(api, api.next(), handle)
        if _terminating:  # the handler swallowed `Terminated` (a broad ``except BaseException``)
            raise Terminated()
        count += 1


def answer(api: RuntimeAPI, invocation: Invocation, handle: InvocationHandler) -> None:
    global _request_id
    _request_id = invocation.request_id
    _set_trace(invocation.trace_id)
    reply = Reply(api, invocation.request_id)
    try:
        event = _event(invocation.body)
        handle(event, LambdaContext(invocation), reply)
        if not reply.answered:
            raise RuntimeError("The handler returned without answering the invocation.")
    except Exception as exc:
        report = report_of(exc)
        log.error("Invocation %s failed: %s: %s", invocation.request_id, report.error_type, report.message,
                  exc_info=not isinstance(exc, RuntimeFault))
        _report(reply, report)


def _report(reply: Reply, report: ErrorReport) -> None:
    try:
        reply.fail(report)
    except TRANSPORT_ERRORS as exc:  # the Runtime API is the only one to tell; log and go on
        log.error("Could not report the failure to the Runtime API: %s", exc)
        reply.abandon()


def _event(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise RuntimeFault("Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}") from None


def _to_json(result: Any) -> bytes:
    try:
        return json.dumps(result, default=_json_default).encode()
    except (TypeError, ValueError) as exc:
        raise RuntimeFault("Runtime.MarshalError", f"Unable to marshal response: {exc}") from None


def _json_default(value: Any) -> Any:
    import decimal

    if isinstance(value, decimal.Decimal):  # DynamoDB numbers: integral ones stay integers
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _json_header(value: str | None) -> Any:
    try:
        return json.loads(value) if value else None
    except ValueError:
        return None


def _set_trace(trace_id: str | None) -> None:
    # X-Ray's SDK reads the invocation's trace header from the environment
    if trace_id:
        os.environ[TRACE_ENV] = trace_id
    else:
        os.environ.pop(TRACE_ENV, None)


# -- start-up ------------------------------------------------------------------------------------


def load_handler(name: str) -> InvocationHandler:
    """The handler named ``module.function``; toolkit's own is served through its streaming entry."""
    module_name, _, attr = name.rpartition(".")
    if not module_name:
        raise RuntimeFault("Runtime.MalformedHandlerName", f"Bad handler {name!r}: use module.function")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise RuntimeFault("Runtime.ImportModuleError", f"Unable to import module {module_name!r}: {exc}") from exc
    if name == TOOLKIT_HANDLER:
        respond: InvocationHandler = module.respond
        return respond
    function = getattr(module, attr, None)
    if not callable(function):
        raise RuntimeFault("Runtime.HandlerNotFound", f"Handler {attr!r} missing on module {module_name!r}")
    return buffered(function)


def buffered(function: Callable[[Any, Any], Any]) -> InvocationHandler:
    def handle(event: Any, context: LambdaContext, reply: Reply) -> None:
        reply.send(function(event, context))

    return handle


def start(api: RuntimeAPI, name: str) -> InvocationHandler | None:
    """Import the handler (Lambda's init phase); on failure report it to ``/init/error``."""
    try:
        return load_handler(name)
    except Exception as exc:
        report = report_of(exc)
        log.exception("The handler %s could not be loaded: %s: %s", name, report.error_type, report.message)
        try:
            api.init_error(report)
        except TRANSPORT_ERRORS as post_error:
            log.error("Could not report the init error to the Runtime API: %s", post_error)
        return None


_request_id = ""  # the invocation in progress, for log lines


class OneEventPerRecord(logging.Formatter):
    """Text logs as the AWS Python runtime writes them (level, UTC time, request id, message);
    line breaks inside one record become ``\\r`` so CloudWatch keeps a traceback as one event."""

    def __init__(self) -> None:
        super().__init__("[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
                         "%Y-%m-%dT%H:%M:%S")
        self.converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        record.aws_request_id = _request_id
        return super().format(record).replace("\n", "\r")


def setup_logging() -> None:
    root = logging.getLogger()
    if not root.handlers:  # a user's own logging configuration wins
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(OneEventPerRecord())
        root.addHandler(handler)
        level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
        if isinstance(logging.getLevelName(level), int):  # as awslambdaric: WARNING unless Lambda sets one
            root.setLevel(level)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # print() lines reach the log at once
    sys.stderr.reconfigure(line_buffering=True)  # type: ignore[union-attr]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    address = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if not address:
        print("AWS_LAMBDA_RUNTIME_API is not set: this entrypoint runs inside Lambda (or an emulator that sets it); "
              "use `python -m runtime.server` to serve HTTP.", file=sys.stderr)
        return 2
    setup_logging()
    api = RuntimeAPI(address)
    install_sigterm_handler()  # before init: a SIGTERM during the user's imports ends the process cleanly too
    try:
        handle = start(api, args[0] if args else TOOLKIT_HANDLER)
        if handle is None:
            return 1
        serve(api, handle)
    except BaseException:
        if not _terminating:
            raise
        # `Terminated`, possibly wrapped on the way (an anyio task group raises a BaseExceptionGroup)
        log.info("SIGTERM: running shutdown hooks")
        run_shutdown_hooks()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
