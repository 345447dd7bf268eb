"""Platform names whose toolkit meaning is not the platform's object: they resolve and refuse when used,
naming what works instead (`toolkit.unsupported`); docs/parity.md lists them "not supported".  `Server`:
on toolkit ``@app.server`` (`toolkit.servers`) returns a `Cls`, never a `Server`."""

from __future__ import annotations

from typing import Any

from toolkit.unsupported import UnsupportedClass, refusal


class Server(UnsupportedClass):
    """The object ``@app.server`` makes on the platform; on toolkit that decorator returns a `Cls`."""

    __toolkit_not_supported__ = refusal(
        "toolkit.Server()", "toolkit's servers come from the @app.server decorator, not from the class",
        "decorate a class whose @toolkit.enter() method starts the HTTP server with @app.server(port=...)")

    def __init__(self, *args: Any, **kwargs: Any) -> None: ...
