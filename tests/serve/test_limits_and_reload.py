"""Workspace rate limit (429 + Retry-After), the Bearer-token example with a local secret, and live reload."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import httpx
from serve.serving import REPO, served, toolkit_cli


def test_rate_limit_answers_429_with_retry_after() -> None:
    with served(REPO / "examples" / "simple_endpoint.py", "--rate-limit", "5", "--burst-seconds", "1") as server:
        client = server.client("simple-endpoint-hello")
        statuses = [client.get("/").status_code for _ in range(12)]
        assert statuses[:5] == [200] * 5  # the burst: 5 req/s x 1 s
        limited = client.get("/")
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert 429 in statuses
        assert server.client().get("/api/endpoints").status_code == 200  # the index is not an endpoint request
        time.sleep(0.5)
        assert client.get("/").status_code == 200  # tokens refill at the configured rate


def test_bearer_token_example_with_a_local_secret() -> None:
    made = toolkit_cli("secret", "create", "my-web-auth-token", "AUTH_TOKEN=s3cret-token")
    assert made.returncode == 0, made.stderr
    with served(REPO / "examples" / "auth.py") as server:
        client = server.client("auth-example-bearer")
        assert client.get("/").status_code in (401, 403)  # HTTPBearer refuses a missing header
        wrong = client.get("/", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json()["detail"] == "Incorrect bearer token"
        assert client.get("/", headers={"Authorization": "Bearer s3cret-token"}).json() == "success!"
        ip = server.client("auth-example-get-ip-address").get("/").json()
        assert ip == "Your IP address is 127.0.0.1"


APP_V1 = '''
import time
import toolkit

app = toolkit.App("reloading")


@app.function()
@toolkit.concurrent(max_inputs=10)
@toolkit.fastapi_endpoint()
def version(sleep: float = 0):
    time.sleep(sleep)
    return {"version": VERSION}


VERSION = 1
'''


def _wait_for(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_live_reload_new_code_same_port_inflight_finishes_broken_edit_keeps_last_good(tmp_path: Path) -> None:
    app_file = tmp_path / "reloading.py"
    app_file.write_text(APP_V1)
    with served(app_file) as server:
        client = server.client("reloading-version")
        assert client.get("/").json() == {"version": 1}
        inflight: dict[str, object] = {}
        slow = threading.Thread(target=lambda: inflight.update(r=server.client("reloading-version").get("/?sleep=2")))
        slow.start()
        time.sleep(0.3)
        app_file.write_text(APP_V1.replace("VERSION = 1", "VERSION = 2"))
        _wait_for(lambda: client.get("/").json() == {"version": 2})
        slow.join()
        response = inflight["r"]
        assert isinstance(response, httpx.Response) and response.json() == {"version": 1}

        app_file.write_text(APP_V1.replace("VERSION = 1", "VERSION = (2"))  # a syntax error
        _wait_for(lambda: "Reload failed" in server.output())
        assert re.search(r"reloading\.py:\d+: syntax error", server.output())
        assert client.get("/").json() == {"version": 2}
        assert server.proc.poll() is None


def test_broken_app_at_start_is_one_line_and_exit_1() -> None:
    result = toolkit_cli("serve", str(REPO / "tests/fixtures/apps/syntax_error_app.py"), "--port", "1")
    assert result.returncode == 1 and "syntax error" in result.stderr and "Traceback" not in result.stderr
