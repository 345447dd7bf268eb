"""The main command's stdin, written from any handle (podman): the public code-interpreter programs
drive a REPL started as the sandbox's command through ``sb.stdin`` and read ``sb.stdout``.  Before,
``sb.stdin`` raised NotSupportedError locally."""

from __future__ import annotations

import pytest

import toolkit

ECHO = "import sys\nfor line in sys.stdin:\n    print('got', line.strip(), flush=True)\nprint('eof', flush=True)"


def test_the_main_commands_stdin_takes_writes_from_any_handle_until_write_eof(app: toolkit.App,
                                                                               image: toolkit.Image) -> None:
    sb = toolkit.Sandbox.create("python3", "-c", ECHO, app=app, image=image, timeout=60)
    lines = iter(sb.stdout)
    sb.stdin.write(b"first\n")
    sb.stdin.drain()
    assert next(lines) == "got first\n"  # answered while the command still runs: a REPL can be driven
    other = toolkit.Sandbox.from_id(sb.object_id)  # another handle (another process's would do the same)
    other.stdin.write("second\n")
    other.stdin.drain()
    assert next(lines) == "got second\n"
    sb.stdin.write_eof()
    sb.stdin.drain()  # the platform's write_eof(); drain() pattern: nothing left to send, no error
    assert next(lines) == "eof\n"
    assert sb.wait() is None and sb.returncode == 0
    with pytest.raises(BrokenPipeError, match="write_eof"):
        sb.stdin.write(b"late\n")


def test_an_execs_stdin_drains_after_write_eof(app: toolkit.App, image: toolkit.Image) -> None:
    sb = toolkit.Sandbox.create(app=app, image=image, timeout=60)
    process = sb.exec("cat")
    process.stdin.write(b"once\n")
    process.stdin.write_eof()
    process.stdin.drain()  # raised BrokenPipeError: the pipe was already closed
    assert process.stdout.read() == "once\n"
    assert process.wait() == 0
    sb.terminate()
