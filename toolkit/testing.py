"""Test an app in-process, from pytest, without ``toolkit serve``: ``toolkit.testing.Client``.

Like Chalice's test client: endpoints answer through the same adapters the runtime and serve
use (a FastAPI endpoint's query parameters, JSON bodies and 422s; an ASGI app's lifespan; a WSGI
app through a2wsgi), and functions run here with their secrets in the environment::

    from toolkit.testing import Client

    def test_hello():
        with Client.from_file("app.py") as client:
            assert client.endpoint("hello").get("/").json() == "Hello world!"
            assert client.call("square", 7) == 49

What it leaves out, on purpose: the gateway in front of endpoints (proxy auth, rate limits, the
request budget and its 303s, body limits) and worker processes.  Test those with ``toolkit serve``
or ``.remote()``; this client is for the function's own behaviour, fast.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from toolkit.exception import InvalidError, NotFoundError

if TYPE_CHECKING:
    from starlette.testclient import TestClient

    from toolkit.app import App
    from toolkit.functions import Function

__all__ = ["Client"]


class Client:
    """In-process access to ``app``'s endpoints (``endpoint``) and functions (``call``).

    Use it as a context manager: endpoints' lifespans (startup/shutdown) run at entry and exit.
    """

    def __init__(self, app: App) -> None:
        self.app = app
        self._stack = contextlib.ExitStack()
        self._clients: dict[str, TestClient] = {}

    @classmethod
    def from_file(cls, ref: str | Path) -> Client:
        """A client for the app in ``app.py`` (or ``app.py::app_variable``), loaded as ``toolkit run`` does."""
        from toolkit.loader import load_app

        return cls(load_app(str(ref)))

    def __enter__(self) -> Client:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Shut every endpoint down (lifespan shutdown) and restore the environment."""
        self._clients.clear()
        self._stack.close()

    def function(self, name: str) -> Function:
        """The app's function (or ``Cls.method``) called ``name``; unknown names list the known ones."""
        functions = self.app.registered_functions
        if name not in functions:
            raise NotFoundError(f"App {self.app.name!r} has no function {name!r}; "
                                f"its functions: {', '.join(sorted(functions)) or 'none'}.")
        return functions[name]

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Run function ``name`` here (``.local``), with its secrets' variables set while it runs."""
        fn = self.function(name)
        if fn.spec.web is not None:
            raise InvalidError(f"{name!r} is a web endpoint: send it requests with client.endpoint({name!r}).get(...)")
        with _environment(_secret_env(fn)):
            return fn.local(*args, **kwargs)

    def endpoint(self, name: str) -> TestClient:
        """An HTTP client (starlette's ``TestClient``, an ``httpx.Client``) bound to web function ``name``.

        The first use starts the endpoint (its lifespan, or a web_server's process); it stays up
        until the client closes, so state kept between requests is kept here too.
        """
        if name not in self._clients:
            self._clients[name] = self._start(name)
        return self._clients[name]

    def _start(self, name: str) -> TestClient:
        with warnings.catch_warnings():  # starlette >= 0.5x prefers httpx2 but still drives httpx
            warnings.filterwarnings("ignore", message=".*starlette.testclient.*")
            from starlette.testclient import TestClient

        from runtime.adapters import build_web_app

        fn = self.function(name)
        if fn.spec.web is None:
            raise InvalidError(f"{name!r} is not a web endpoint: call it with client.call({name!r}, ...)")
        self._stack.enter_context(_environment(_secret_env(fn)))
        web_app = build_web_app(_callable(fn), _web_spec(self.app, fn.tag))
        client = TestClient(web_app, raise_server_exceptions=False)  # a 500 is a response, as over HTTP
        entered: TestClient = self._stack.enter_context(client)
        return entered


def _callable(fn: Function) -> Callable[..., Any]:
    """The user's function; for a class's method, bound to an instance whose @enter hooks ran."""
    if fn.spec.cls is None:
        return fn.spec.raw_f
    from toolkit.instances import bound_method, local_instance

    bound: Callable[..., Any] = bound_method(local_instance(fn.spec.cls, fn.params), fn.spec.name)
    return bound


def _web_spec(app: App, tag: str) -> Any:
    from runtime.adapters import WebSpec
    from toolkit.manifest import build

    (entry,) = [f for f in build(app).functions if f.tag == tag]
    return WebSpec.from_manifest(entry)


def _secret_env(fn: Function) -> dict[str, str]:
    from toolkit.local.secrets import secret_env

    return secret_env(fn.spec.secrets)  # the app's secrets are in each function's (as workers get them)


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
