"""examples/sandbox_code_runner.py through a real `toolkit serve`: each POST runs in a fresh container."""

from __future__ import annotations

from sandbox_support import wait_no_containers
from serve.serving import REPO, served

from toolkit.sandboxes import records


def test_code_runner_runs_submitted_code_in_fresh_sandboxes(sandbox_env, base_ref):
    with served(REPO / "examples" / "sandbox_code_runner.py", env=sandbox_env) as server:
        client = server.client("code-runner-run")
        first = client.post("/", json={"code": "import sys; print(6 * 7); print('warn', file=sys.stderr)"},
                            timeout=120).json()
        assert (first["stdout"], first["stderr"], first["returncode"]) == ("42\n", "warn\n", 0)
        failing = client.post("/", json={"code": "raise SystemExit('bad input')"}, timeout=120).json()
        assert failing["returncode"] == 1 and "bad input" in failing["stderr"]
        offline = client.post("/", json={"code": "import socket; socket.create_connection(('10.88.0.1', 80), 3)"},
                              timeout=120).json()
        assert offline["returncode"] == 1 and "Network is unreachable" in offline["stderr"]
        assert len({first["sandbox"], failing["sandbox"], offline["sandbox"]}) == 3  # a fresh one each time
        assert client.post("/", json={"nope": 1}, timeout=60).json()["error"].startswith("POST a JSON object")
    assert wait_no_containers() == []
    assert records.load_end(first["sandbox"]).reason in ("exited", "terminated")


def test_the_serve_dashboard_lists_live_sandboxes(sandbox_env, app, image):
    import httpx

    import toolkit

    with served(REPO / "examples" / "sandbox_code_runner.py", env=sandbox_env) as server:
        sb = toolkit.Sandbox.create(app=app, image=image, timeout=60, name="on-the-dashboard", unencrypted_ports=[8000])
        state = httpx.get(f"http://127.0.0.1:{server.port}/api/dashboard", timeout=30).json()
        [row] = [s for s in state["sandboxes"] if s["id"] == sb.object_id]
        assert (row["app"], row["name"], row["tunnels"]) == ("sandbox-tests", "on-the-dashboard",
                                                             {"8000": sb.tunnels()[8000].url})
        assert 'id="sandboxes"' in httpx.get(f"http://127.0.0.1:{server.port}/", timeout=30).text
        sb.terminate(wait=True)
        state = httpx.get(f"http://127.0.0.1:{server.port}/api/dashboard", timeout=30).json()
        assert sb.object_id not in [s["id"] for s in state["sandboxes"]]
