"""`toolkit app list | stop` over real local serves (their registry under an isolated TOOLKIT_HOME)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
from cli_helpers import EXAMPLES, Serve, toolkit_cli
from test_light_install import light_env


def test_list_and_stop_local_serves(tmp_path: Path) -> None:
    env = {"TOOLKIT_HOME": str(tmp_path / "home")}
    first = Serve(EXAMPLES / "simple_endpoint.py", tmp_path / "first.log", env=env)
    second = Serve(EXAMPLES / "query_params.py", tmp_path / "second.log", env=env)
    try:
        first.wait_ready()
        second.wait_ready()
        listed = toolkit_cli("app", "list", "--local", "--json", env=env)
        assert listed.returncode == 0, listed.stderr
        rows = {row["app"]: row for row in json.loads(listed.stdout)}
        assert set(rows) == {"simple-endpoint", "web-endpoint"}
        simple = rows["simple-endpoint"]
        assert (simple["where"], simple["pid"], simple["port"]) == ("local", first.proc.pid, first.port)
        (endpoint,) = simple["endpoints"]
        assert endpoint["url"] == f"http://default--simple-endpoint-hello-dev.localhost:{first.port}"
        assert first.get("simple-endpoint-hello").json() == "Hello world!"  # the listed label answers

        text = toolkit_cli("app", "list", "--local", env=env).stdout
        assert f"simple-endpoint  local  pid={first.proc.pid}  http://localhost:{first.port}" in text
        assert f"  {endpoint['url']}" in text

        stopped = toolkit_cli("app", "stop", "simple-endpoint", env=env)
        assert stopped.returncode == 0, stopped.stderr
        assert stopped.stdout.strip() == f"Stopped 'simple-endpoint' (pid {first.proc.pid}, http://localhost:{first.port})."
        assert first.proc.poll() is not None  # it had exited when stop returned
        assert "Traceback" not in first.output()
        remaining = json.loads(toolkit_cli("app", "list", "--local", "--json", env=env).stdout)
        assert [row["app"] for row in remaining] == ["web-endpoint"]
        httpx.get(f"http://127.0.0.1:{second.port}/api/endpoints", timeout=5, trust_env=False).raise_for_status()

        missing = toolkit_cli("app", "stop", "simple-endpoint", env=env)
        assert missing.returncode == 1 and "Traceback" not in missing.stderr
        assert f"No local serve of app 'simple-endpoint' (local serves: web-endpoint (port {second.port}))" \
            in missing.stderr and "toolkit destroy" in missing.stderr

        by_port = toolkit_cli("app", "stop", "--port", str(second.port), env=env)
        assert by_port.returncode == 0 and second.proc.poll() is not None, by_port.stderr
        assert "No local serves" in toolkit_cli("app", "list", "--local", env=env).stdout
    finally:
        first.stop()
        second.stop()


def test_stop_needs_one_selector(tmp_path: Path) -> None:
    result = toolkit_cli("app", "stop", env={"TOOLKIT_HOME": str(tmp_path)})
    assert result.returncode == 2 and "Name one app, or give --port or --all. Local serves: none." in result.stderr


def test_app_list_on_a_light_install_lists_local_serves_and_says_why_not_deployed(tmp_path: Path) -> None:
    env, _pids = light_env(tmp_path)
    env["TOOLKIT_HOME"] = str(tmp_path / "home")
    result = toolkit_cli("app", "list", env=env)
    assert result.returncode == 0, result.stderr
    assert "No local serves" in result.stdout
    assert "Deployed apps are not listed: that needs the aws extra (pip install 'toolkit-serverless[aws]')" \
        in result.stderr


PRINTING = '''
import toolkit

app = toolkit.App("printer")


@app.function()
@toolkit.fastapi_endpoint()
def shout(word: str = "hey"):
    print(f"shouting {word}")
    return word.upper()


@app.function()
@toolkit.fastapi_endpoint()
def whisper():
    print("psst")
    return "..."
'''


def test_app_logs_of_a_local_serve(tmp_path: Path) -> None:
    env = {"TOOLKIT_HOME": str(tmp_path / "home")}
    (tmp_path / "printer.py").write_text(PRINTING)
    serve = Serve(tmp_path / "printer.py", tmp_path / "serve.log", cwd=tmp_path, env=env)
    try:
        serve.wait_ready()
        assert serve.get("printer-shout", "/?word=abc").json() == "ABC"
        assert serve.get("printer-whisper").json() == "..."
        deadline = time.monotonic() + 20  # a line reaches the serve through the worker's pipe, maybe after its response
        while "psst" not in (every := toolkit_cli("app", "logs", "printer", env=env)).stdout:
            assert every.returncode == 0 and time.monotonic() < deadline, (every.stdout, every.stderr)
            time.sleep(0.1)
        assert every.stdout.splitlines() == ["[shout] shouting abc", "[whisper] psst"]
        one = toolkit_cli("app", "logs", "printer", "--function", "whisper", env=env)
        assert one.stdout.splitlines() == ["[whisper] psst"]
    finally:
        serve.stop()
