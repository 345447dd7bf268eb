"""`toolkit serve`'s client limits as flags: listed with units in --help, a bad value named with its
range (exit 2, no traceback), and a real serve enforcing the value given, over the environment's."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from serve.rawhttp import RawConnection, request
from serve.serving import served, toolkit_cli

ANSWER_WITHIN_S = 10
APP = '''
import toolkit

app = toolkit.App("limitflags")


@app.function()
@toolkit.fastapi_endpoint()
def hello():
    return "hi"
'''
FLAGS = ("--max-request-head", "--header-timeout", "--body-timeout", "--min-body-rate", "--body-grace",
         "--idle-timeout", "--max-connections")


def test_help_lists_every_client_limit_with_its_unit_default_and_variable() -> None:
    shown = toolkit_cli("serve", "--help")
    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.split())  # help text wraps anywhere
    for flag in FLAGS:
        assert flag in text
    assert "--max-request-head SIZE" in text and "in bytes or with a unit (16KiB)" in text
    assert "[default: 64 KiB]" in text and "TOOLKIT_SERVE_MAX_HEAD_BYTES" in text
    assert "Seconds a request head may take to arrive whole; then 408. [default: 20]" in text
    assert "Bytes per second a request body must average" in text and "TOOLKIT_SERVE_MIN_BODY_RATE" in text


@pytest.mark.parametrize(("args", "env", "message"), [
    (("--max-request-head", "12parsecs"), {},
     "Invalid value for '--max-request-head' (env var: 'TOOLKIT_SERVE_MAX_HEAD_BYTES'): '12parsecs' is not a size: write bytes (65536) or a number with a "
     "unit (B, KiB, MiB, GiB, KB, MB, GB), e.g. 64KiB."),
    (("--max-request-head", "100"), {},
     "Invalid value for '--max-request-head' (env var: 'TOOLKIT_SERVE_MAX_HEAD_BYTES'): 100 is not in the range "
     "1 KiB to 16 MiB."),
    (("--header-timeout", "0"), {},
     "Invalid value for '--header-timeout' (env var: 'TOOLKIT_SERVE_HEADER_TIMEOUT'): 0.0 is not in the range "
     "0.1<=x<=86400."),
    (("--max-connections", "lots"), {},
     "Invalid value for '--max-connections' (env var: 'TOOLKIT_SERVE_MAX_CONNECTIONS'): 'lots' is not a valid "
     "integer"),
    ((), {"TOOLKIT_SERVE_IDLE_TIMEOUT": "soon"},
     "Invalid value for '--idle-timeout' (env var: 'TOOLKIT_SERVE_IDLE_TIMEOUT'): 'soon' is not a valid float"),
], ids=["size-unit", "size-range", "seconds-range", "count", "from-environment"])
def test_a_bad_value_names_the_flag_and_what_it_accepts(tmp_path: Path, args: tuple[str, ...], env: dict[str, str],
                                                         message: str) -> None:
    app = tmp_path / "limitflags.py"
    app.write_text(APP)
    result = toolkit_cli("serve", str(app), "--port", "1", *args, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in " ".join(result.stderr.split()), result.stderr
    assert "Traceback" not in result.stderr


def test_a_serve_enforces_the_limits_its_flags_set_over_the_environment(tmp_path: Path) -> None:
    app = tmp_path / "limitflags.py"
    app.write_text(APP)
    env = {"TOOLKIT_SERVE_MAX_HEAD_BYTES": "65536", "TOOLKIT_SERVE_HEADER_TIMEOUT": "60"}  # the flags win
    with served(app, "--no-reload", "--max-request-head", "1KiB", "--header-timeout", "1", env=env) as server:
        host = server.host("limitflags-hello")
        with RawConnection(server.port, timeout=ANSWER_WITHIN_S) as conn:
            conn.send(request("GET", "/", host, [("X-Padding", "a" * 2000)]))
            refused = conn.read_response()
        assert refused.status == 431, refused
        assert b"over 1024 bytes" in refused.body and b"--max-request-head" in refused.body
        with RawConnection(server.port, timeout=ANSWER_WITHIN_S) as conn:
            conn.send(request("GET", "/", host, [("X-Padding", "a" * 500)]))
            assert conn.read_response().status == 200  # under 1 KiB: served

        with RawConnection(server.port, timeout=ANSWER_WITHIN_S) as conn:
            conn.send(b"GET / HTTP/1.1\r\nHost: " + host.encode())  # a head that never finishes
            started = time.monotonic()
            timed_out = conn.read_response()
            waited = time.monotonic() - started
        assert timed_out.status == 408 and b"within 1 s" in timed_out.body, timed_out
        assert waited < ANSWER_WITHIN_S  # the 1 s of the flag, not the 60 s of the environment
