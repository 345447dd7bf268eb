"""``@fastapi_endpoint``: the user's function becomes the ``/`` route of a FastAPI app.

FastAPI's own signature handling gives typed query parameters, JSON bodies into dicts
or pydantic models, and 422s on bad input, exactly as in a hand-written FastAPI app.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runtime.adapters.base import WebSpec
from runtime.types import ASGIApp


def build_fastapi_endpoint(fn: Callable[..., Any], spec: WebSpec) -> ASGIApp:
    from fastapi import FastAPI

    app = FastAPI(
        docs_url="/docs" if spec.docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if spec.docs else None,
    )
    app.add_api_route("/", fn, methods=[spec.method])
    return app
