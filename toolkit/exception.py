"""Errors toolkit raises.  Every message names the offending value and the fix."""

from __future__ import annotations

# Error and InvalidError live below the SDK so that the runtime and infra raise the same classes.
from runtime.errors import Error as Error
from runtime.errors import InvalidError as InvalidError


class NotFoundError(Error):
    """A named app, function, call or file does not exist."""


class AppLoadError(Error):
    """The user's app file or module could not be loaded (the message says why and where)."""


class SerializationError(Error):
    """An argument or a return value could not be pickled to cross to a worker."""


class FunctionTimeoutError(Error):
    """A call ran past its function's ``timeout`` and its worker was stopped.

    Distinct from the built-in ``TimeoutError`` that ``FunctionCall.get(timeout=...)``
    raises while a call is simply not finished yet.
    """


class WorkerCrashedError(Error):
    """The worker process running a call exited before the call finished."""


class CallLostError(Error):
    """A spawned call can never finish: the process that owned its workers exited."""


class NotSupportedError(Error):
    """A feature of the hosted platform that toolkit cannot provide; the message names the nearest alternative."""


class NotSupportedWarning(UserWarning):
    """An option toolkit accepts for compatibility but cannot honour; it is shown once, at the call site."""


class SandboxTerminatedError(Error):
    """A sandbox was terminated (``terminate()``, its creator exiting) before its command finished."""


class SandboxTimeoutError(Error):
    """A sandbox ran past its ``timeout`` or ``idle_timeout`` and was stopped."""


class RemoteError(Error):
    """A call failed where it ran without an exception of its own to raise (the platform's name)."""


class CallCancelledError(RemoteError):
    """``FunctionCall.cancel()`` stopped the call before it finished: its ``get()`` raises this."""


class InputCancellation(BaseException):
    """Raised inside a cancelled input, in the worker running it, to stop it (the platform's name).

    A BaseException, as on the platform, so that a user's ``except Exception`` (a retry loop, say)
    does not swallow the cancellation.
    """
