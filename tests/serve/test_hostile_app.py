"""Hostile requests through a real `toolkit serve` (issue 13): chunked uploads to WSGI apps, an
open redirect through the 303, and the proxy-auth secret reaching user code.

The app (tests/serve/apps/hostile.py) has a real Flask app, a plain PEP 3333 app that reads
exactly CONTENT_LENGTH bytes, a slow WSGI app answering any path, and a proxy-auth endpoint
that reports the header names it was given.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from serve.rawhttp import RawConnection, chunked, request
from serve.serving import APPS, Served, served, toolkit_cli

BUDGET_S = 1.0
MAX_BODY = 1_000_000


@pytest.fixture(scope="module")
def server() -> Iterator[Served]:
    with served(APPS / "hostile.py", "--request-timeout", str(BUDGET_S),
                "--max-body-size", str(MAX_BODY)) as running:
        for label in ("hostile-flask-body", "hostile-plain-wsgi"):  # cold workers may outlast the 1 s budget
            running.client(label, follow_redirects=True).post("/", content=b"warm")
        yield running


def pieces(count: int, size: int = 64 * 1024) -> Iterator[bytes]:
    for _ in range(count):
        yield b"x" * size


# -- item 6: chunked request bodies reach a wsgi_app whole, and within the limit --------------------

def test_chunked_body_reaches_flask_whole(server: Served) -> None:
    response = server.client("hostile-flask-body", follow_redirects=True).post("/", content=pieces(3))
    assert response.status_code == 200, response.text
    assert response.json() == {"length": 3 * 64 * 1024, "content_length": 3 * 64 * 1024}


def test_chunked_body_reaches_a_plain_wsgi_app_that_reads_content_length(server: Served) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request("POST", "/", server.host("hostile-plain-wsgi"), [("Transfer-Encoding", "chunked")],
                          chunked(b"hello ", b"chunked ", b"world")))
        response = conn.read_response()
    assert (response.status, response.body) == (200, b"19")


def test_body_with_content_length_is_unchanged(server: Served) -> None:
    response = server.client("hostile-flask-body", follow_redirects=True).post("/", content=b"y" * 1234)
    assert response.json() == {"length": 1234, "content_length": 1234}


def test_oversized_chunked_upload_to_wsgi_gets_413(server: Served) -> None:
    # 5 MB chunked against a 1 MB limit: the app would answer at once without reading a byte
    response = server.client("hostile-flask-body").post("/", content=pieces(80))
    assert response.status_code == 413, response.text
    assert f"{MAX_BODY} byte limit" in response.text


# -- item 7: the 303 never points at another origin -------------------------------------------------

@pytest.mark.parametrize("target", ["//evil.example/steal", "///evil.example/steal", "/\\evil.example/steal"])
def test_result_url_of_a_scheme_relative_looking_path_stays_on_this_origin(server: Served, target: str) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request("GET", f"{target}?seconds=1.6", server.host("hostile-slow")))
        response = conn.read_response()
        assert response.status == 303, response
        location = response.header("location") or ""
        assert location.startswith("/") and not location.startswith(("//", "/\\")), location
        assert "evil.example" in location and "__toolkit_call_id=fc-" in location  # same path, kept inside ours
        # the result URL still answers with the request's result
        for _ in range(10):
            conn.send(request("GET", location, server.host("hostile-slow")))
            result = conn.read_response()
            if result.status != 303:
                break
    assert result.status == 200 and result.body.endswith(b"evil.example/steal"), result


# -- degraded: the proxy-auth secret is the gateway's, not the app's --------------------------------

def test_proxy_auth_secret_is_not_forwarded_to_user_code(server: Served) -> None:
    created = toolkit_cli("token", "create")
    assert created.returncode == 0, created.stderr
    lines = dict(line.split(": ", 1) for line in created.stdout.splitlines() if ": " in line)
    client = server.client("hostile-headers-seen", follow_redirects=True)  # a cold worker may outlast the budget
    seen = client.get("/", headers={"Toolkit-Key": lines["Toolkit-Key"], "Toolkit-Secret": lines["Toolkit-Secret"]})
    assert seen.status_code == 200, seen.text
    assert "toolkit-secret" not in seen.json() and "toolkit-key" in seen.json()
