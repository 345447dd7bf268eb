"""Which runner executes ``.remote()`` and friends.

* On a laptop: local worker pools (`toolkit.local.runner`).
* Inside a deployed function (the runtime's environment: ``TOOLKIT_MANIFEST``,
  ``TOOLKIT_FUNCTION`` and ``TOOLKIT_CALLS_TABLE`` set by infra): calls to the app's other
  functions go through AWS -- `runtime.cloud_client.CloudTransport`, Step Functions workers,
  Lambda invokes and the DynamoDB call store -- instead of starting worker processes inside
  the container.  Where each function runs comes from ``TOOLKIT_FUNCTION_TARGETS``.

User code does not change.  Nothing here imports boto3 until a cloud call is made.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from runtime.environment import VARIABLES
from toolkit.context import DEPLOYED_ENV, in_deployment
from toolkit.variants import deployed_tag

if TYPE_CHECKING:
    from runtime.cloud_client import CloudTransport
    from toolkit.functions import Function

__all__ = ["DEPLOYED_ENV", "CloudRunner", "current_runner", "deployed_runner", "in_deployment"]

_RUNNER_KEY = (*DEPLOYED_ENV, VARIABLES["function_targets"])  # one cloud runner per distinct environment


class CloudRunner:
    """The local runner's interface, over a deployed app's `CloudTransport`.  A method of a
    parametrized class (``Model(size=3).predict``) sends its bound values (``fn.params``)."""

    def __init__(self, transport: CloudTransport) -> None:
        self.transport = transport

    def call(self, fn: Function, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return self.transport.remote(deployed_tag(fn.spec), args, kwargs, fn.params)

    def remote_gen(self, fn: Function, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Iterator[Any]:
        # a deployed generator is drained where it runs: its values arrive together, in order
        return iter(self.transport.remote(deployed_tag(fn.spec), args, kwargs, fn.params))

    def spawn(self, fn: Function, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        return self.transport.spawn(deployed_tag(fn.spec), args, kwargs, fn.params)

    def map(self, fn: Function, arg_tuples: Iterable[tuple[Any, ...]], kwargs: dict[str, Any],
            order_outputs: bool, return_exceptions: bool) -> Iterator[Any]:
        return self.transport.map(deployed_tag(fn.spec), arg_tuples, order_outputs=order_outputs,
                                  return_exceptions=return_exceptions, kwargs=kwargs, params=fn.params)

    def get(self, call_id: str, timeout: float | None) -> Any:
        return self.transport.get(call_id, timeout)


_lock = threading.Lock()
_cloud: dict[tuple[str, ...], CloudRunner] = {}


def deployed_runner() -> CloudRunner | None:
    """The cloud runner when this process is a deployed function, else None."""
    if not in_deployment():
        return None
    key = tuple(os.environ.get(name, "") for name in _RUNNER_KEY)
    with _lock:  # one per environment: its boto3 clients are reused across invokes
        if key not in _cloud:
            from runtime.cloud_client import transport_from_env
            from runtime.deployment import load_deployment

            _cloud[key] = CloudRunner(transport_from_env(load_deployment().app_name))
        return _cloud[key]


def current_runner() -> Any:
    cloud = deployed_runner()
    if cloud is not None:
        return cloud
    from toolkit.local.runner import local_runner

    return local_runner()
