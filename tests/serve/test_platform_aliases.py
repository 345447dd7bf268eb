"""The platform's deprecated ``@web_endpoint`` (issue 22): a DeprecationWarning naming the new name,
and an endpoint served exactly like ``@fastapi_endpoint`` through a real ``toolkit serve``."""

from __future__ import annotations

import pytest
from serve.serving import APPS, served

import toolkit

pytestmark = pytest.mark.timeout(120)


def test_web_endpoint_warns_and_serves_like_fastapi_endpoint() -> None:
    with pytest.warns(DeprecationWarning, match="renamed to @toolkit.fastapi_endpoint"):
        decorator = toolkit.web_endpoint(method="GET")
    web = decorator(lambda: "x").web
    assert web is not None and web.kind == "fastapi_endpoint"
    with served(APPS / "deprecated_names.py") as server:
        answer = server.client("old-hello").post("/", json={"name": "parity"})
        assert answer.status_code == 200 and answer.json() == {"hello": "parity"}
        assert server.client("old-hello").get("/").status_code == 405  # method="POST" was kept
