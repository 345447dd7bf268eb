"""``toolkit sandbox``: list, read, exec into and terminate this machine's sandboxes (toolkit.Sandbox)."""

from __future__ import annotations

import json
import shutil
import sys
import threading
import time
from typing import Any

import click


@click.group("sandbox")
def sandbox_group() -> None:
    """Sandboxes on this machine (toolkit.Sandbox)."""


def _row(sandbox_id: str) -> dict[str, Any]:
    from toolkit.sandboxes import records

    record = records.load(sandbox_id)
    assert record is not None
    end = records.load_end(sandbox_id)
    return {"id": record.sandbox_id, "app": record.app, "name": record.name, "image": record.image,
            "state": "running" if end is None else end.reason, "returncode": None if end is None else end.returncode,
            "created_at": record.created_at, "tags": dict(record.tags),
            "tunnels": {str(port): f"http://127.0.0.1:{host}" for port, host in record.ports.items()}}


@sandbox_group.command("list")
@click.option("--app", "app_name", default=None, help="Only this app's sandboxes.")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Only sandboxes with this tag (repeatable).")
@click.option("--all", "show_all", is_flag=True, help="Include sandboxes that have ended.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array, for scripts.")
def list_sandboxes(app_name: str | None, tags: tuple[str, ...], show_all: bool, as_json: bool) -> None:
    """Running sandboxes, newest first (with --all, ended ones too)."""
    from toolkit.sandboxes import records

    records.reap_orphans()
    wanted = dict(_tag(t) for t in tags)
    rows = [_row(r.sandbox_id) for r in records.records()
            if (app_name is None or r.app == app_name) and all(r.tags.get(k) == v for k, v in wanted.items())]
    rows = [row for row in rows if show_all or row["state"] == "running"]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No running sandboxes." if not show_all else "No sandboxes.")
        return
    click.echo(f"{'ID':<28} {'APP':<16} {'NAME':<16} {'STATE':<14} {'AGE':>7}  TUNNELS")
    for row in rows:
        age = f"{int(time.time() - row['created_at'])}s"
        click.echo(f"{row['id']:<28} {row['app']:<16} {row['name'] or '-':<16} {row['state']:<14} {age:>7}  "
                   f"{' '.join(f'{p}={u}' for p, u in row['tunnels'].items()) or '-'}")


def _tag(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"--tag {text!r} must look like KEY=VALUE.")
    return key, value


@sandbox_group.command("logs")
@click.argument("sandbox_id")
def logs(sandbox_id: str) -> None:
    """The main command's output of SANDBOX_ID (followed while it runs; stderr to stderr)."""
    from toolkit.sandbox import Sandbox

    sb = Sandbox.from_id(sandbox_id)
    errors = threading.Thread(target=_copy, args=(sb.stderr, sys.stderr), daemon=True)
    errors.start()
    _copy(sb.stdout, sys.stdout)
    errors.join(timeout=5)


def _copy(reader: Any, out: Any) -> None:
    for line in reader:
        out.write(line)
        out.flush()


@sandbox_group.command("exec", context_settings={"ignore_unknown_options": True})
@click.argument("sandbox_id")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("--workdir", default=None, help="Absolute directory to run in.")
@click.option("--timeout", type=click.IntRange(min=1), default=None, help="Seconds before the command is killed.")
def exec_command(sandbox_id: str, command: tuple[str, ...], workdir: str | None, timeout: int | None) -> None:
    """Run COMMAND in SANDBOX_ID; its output streams here, this stdin goes to it; exits with its code."""
    from toolkit.sandbox import Sandbox

    process = Sandbox.from_id(sandbox_id).exec(*command, workdir=workdir, timeout=timeout, text=False)
    feeder = threading.Thread(target=_feed_stdin, args=(process,), daemon=True)
    feeder.start()
    errors = threading.Thread(target=_copy_bytes, args=(process.stderr, sys.stderr.buffer), daemon=True)
    errors.start()
    _copy_bytes(process.stdout, sys.stdout.buffer)
    errors.join(timeout=5)
    sys.exit(process.wait())


def _feed_stdin(process: Any) -> None:
    if sys.stdin is None or sys.stdin.isatty():
        process.stdin.write_eof()
        return
    try:
        shutil.copyfileobj(sys.stdin.buffer, _Sink(process.stdin))
    except BrokenPipeError:
        return
    process.stdin.write_eof()


class _Sink:
    def __init__(self, writer: Any) -> None:
        self._writer = writer

    def write(self, data: bytes) -> int:
        self._writer.write(data)
        self._writer.drain()
        return len(data)


def _copy_bytes(reader: Any, out: Any) -> None:
    for chunk in reader:
        out.write(chunk)
        out.flush()


@sandbox_group.command("terminate")
@click.argument("sandbox_ids", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="The ended sandboxes as JSON.")
def terminate(sandbox_ids: tuple[str, ...], as_json: bool) -> None:
    """Stop SANDBOX_IDS now; their containers are removed."""
    from toolkit.sandbox import Sandbox

    ended = []
    for sandbox_id in sandbox_ids:
        code = Sandbox.from_id(sandbox_id).terminate(wait=True)
        ended.append(_row(sandbox_id))
        if not as_json:
            click.echo(f"{sandbox_id}: {ended[-1]['state']} (exit code {code})")
    if as_json:
        click.echo(json.dumps(ended, indent=2))
