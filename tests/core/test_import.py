"""`import toolkit` stays light and its public API is what __all__ says."""

from __future__ import annotations

import subprocess
import sys

import toolkit

HEAVY = ["pulumi", "pulumi_aws", "boto3", "botocore", "fastapi", "uvicorn", "starlette", "httpx", "mangum"]


def test_import_toolkit_loads_no_heavy_modules() -> None:
    code = f"import sys, toolkit; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_all_names_exist_and_are_public() -> None:
    for name in toolkit.__all__:
        assert hasattr(toolkit, name), name
    assert len(set(toolkit.__all__)) == len(toolkit.__all__), "duplicate names in __all__"
    for expected in ["App", "Image", "Secret", "FunctionCall", "fastapi_endpoint", "asgi_app", "wsgi_app",
                     "web_server", "concurrent", "parameter", "enter", "method", "Retries"]:
        assert expected in toolkit.__all__
