"""The protocols the runtime speaks, written down as types (after starlette/types.py).

Front door (``runtime.FRONT_DOORS``): the SDK imports the ASGI types (`Scope`, `Receive`, `Send`,
`ASGIApp`) ``toolkit serve`` is typed with; `__all__` is what it offers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LambdaEvent = dict[str, Any]
LambdaResponse = dict[str, Any]
HeaderList = list[tuple[bytes, bytes]]

__all__ = ["ASGIApp", "HeaderList", "LambdaEvent", "LambdaResponse", "Message", "Receive", "Scope", "Send"]
