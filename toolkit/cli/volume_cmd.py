"""``toolkit volume``: create, list, browse, upload, download, copy and delete volumes in the store
`toolkit.volume` picks (local by default; set TOOLKIT_VOLUME_BUCKET, the ``volume_bucket`` output of
``toolkit deploy``, for a deployed app's).  Transfers of 16 MiB or more show a progress bar."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO

import click

if TYPE_CHECKING:
    from toolkit.volume import Volume

PROGRESS_MIN_BYTES = 16 << 20  # smaller transfers finish before a bar would help


def where() -> str:
    from toolkit.volume import BUCKET_ENV, volumes_root

    bucket = os.environ.get(BUCKET_ENV)
    return f"S3 bucket {bucket}" if bucket else f"local store {volumes_root()}"


@contextlib.contextmanager
def _file_errors() -> Iterator[None]:
    """The store's file errors as one-line CLI errors (their messages name the path and the fix)."""
    try:
        yield
    except (FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
        raise click.ClickException(str(exc)) from None


@contextlib.contextmanager
def _progress(total: int, what: str) -> Iterator[Callable[[int], None]]:
    """``advance(n)`` for a transfer of ``total`` bytes; a rich bar on stderr when it is large."""
    if total < PROGRESS_MIN_BYTES:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task(what, total=total)
        yield lambda n: bar.advance(task, n)


class _Reading:
    """A binary file that reports every read to ``advance`` (for uploads' progress)."""

    def __init__(self, source: BinaryIO, advance: Callable[[int], None]) -> None:
        self.source, self.advance = source, advance

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.advance(len(data))
        return data


def _volume(name: str) -> Volume:
    from toolkit.volume import Volume

    return Volume.from_name(name)


@click.group("volume")
def volume_group() -> None:
    """Named volumes (toolkit.Volume): persistent files shared by functions."""


@volume_group.command("create")
@click.argument("name")
def create(name: str) -> None:
    """Create volume NAME (nothing happens if it exists)."""
    from toolkit.volume import Volume

    Volume.from_name(name, create_if_missing=True).listdir("/")
    click.echo(f"Volume {name!r} is ready in the {where()}.")


@volume_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
def list_volumes(as_json: bool) -> None:
    """The volumes that exist."""
    from toolkit.volume import volume_store

    names = volume_store().names()
    if as_json:
        click.echo(json.dumps([{"name": name} for name in names], indent=2))
        return
    if not names:
        click.echo(f"No volumes in the {where()}.")
    for name in names:
        click.echo(name)


@volume_group.command("ls")
@click.argument("name")
@click.argument("path", default="/")
@click.option("-r", "--recursive", is_flag=True, help="Everything below PATH.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
def ls(name: str, path: str, recursive: bool, as_json: bool) -> None:
    """The files and directories of volume NAME under PATH."""
    from runtime.volumes.base import FileEntryType

    with _file_errors():
        entries = _volume(name).listdir(path, recursive=recursive)
    if as_json:
        click.echo(json.dumps([{"path": e.path, "type": "dir" if e.type == FileEntryType.DIRECTORY else "file",
                                "size": e.size, "mtime": e.mtime} for e in entries], indent=2))
        return
    for entry in entries:
        kind = "dir " if entry.type == FileEntryType.DIRECTORY else "file"
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.mtime)) if entry.mtime else " " * 16
        click.echo(f"{kind}  {entry.size:>14,}  {when}  {entry.path}{'/' if kind == 'dir ' else ''}")


@volume_group.command("put")
@click.argument("name")
@click.argument("local", type=click.Path(exists=True, path_type=Path))
@click.argument("remote", default="/")
@click.option("-f", "--force", is_flag=True, help="Overwrite files that already exist in the volume.")
def put(name: str, local: Path, remote: str, force: bool) -> None:
    """Upload a file or a directory to REMOTE in volume NAME (a directory keeps its name inside a
    REMOTE that ends with '/', as cp does)."""
    pairs = _uploads(local, remote)
    volume = _volume(name)
    store = volume._store()
    taken = [r for _, r in pairs if not force and store.file_exists(name, r)]
    if taken:
        raise click.ClickException(f"{taken[0]!r} already exists in volume {name!r}; pass --force to overwrite.")
    with _file_errors(), _progress(sum(p.stat().st_size for p, _ in pairs), f"put {local.name}") as advance:
        for path, target in pairs:
            with path.open("rb") as data:
                store.write(name, target, _Reading(data, advance))  # type: ignore[arg-type]
    click.echo(f"Uploaded {len(pairs)} file(s) to volume {name!r} ({where()}).")


def _uploads(local: Path, remote: str) -> list[tuple[Path, str]]:
    if local.is_file():
        return [(local, remote + local.name if remote.endswith("/") else remote)]
    base = remote + local.name if remote.endswith("/") else remote
    return [(p, f"{base.rstrip('/')}/{p.relative_to(local).as_posix()}") for p in sorted(local.rglob("*")) if p.is_file()]


@volume_group.command("get")
@click.argument("name")
@click.argument("remote")
@click.argument("local", default=".", type=click.Path(path_type=Path))
@click.option("-f", "--force", is_flag=True, help="Overwrite local files that exist.")
def get(name: str, remote: str, local: Path, force: bool) -> None:
    """Download REMOTE (a file or a directory) from volume NAME to LOCAL ('-' writes a file to stdout)."""
    from runtime.volumes.base import FileEntryType

    volume = _volume(name)
    with _file_errors():
        entries = [e for e in volume.listdir(remote, recursive=True) if e.type == FileEntryType.FILE]
    if str(local) == "-":
        with _file_errors():
            volume.read_file_into_fileobj(remote, sys.stdout.buffer)
        return
    single = len(entries) == 1 and entries[0].path == remote.strip("/")
    targets = [(e, _local_target(e.path, remote, local, single)) for e in entries]
    existing = [str(t) for _, t in targets if t.exists() and not force]
    if existing:
        raise click.ClickException(f"{existing[0]} exists; pass --force to overwrite it.")
    with _progress(sum(e.size for e in entries), f"get {remote}") as advance:
        for entry, target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as out:
                _copy_out(volume, entry.path, out, advance)
    click.echo(f"Downloaded {len(targets)} file(s) from volume {name!r} to {local}.")


def _local_target(path: str, remote: str, local: Path, single: bool) -> Path:
    if single:
        return local / Path(path).name if local.is_dir() else local
    base = remote.strip("/")
    relative = path[len(base):].lstrip("/") if base else path
    return local / (Path(base).name or ".") / relative


def _copy_out(volume: Volume, path: str, out: IO[bytes], advance: Callable[[int], None]) -> None:
    for chunk in volume.read_file(path):
        out.write(chunk)
        advance(len(chunk))


@volume_group.command("rm")
@click.argument("name")
@click.argument("path")
@click.option("-r", "--recursive", is_flag=True, help="Remove a directory and everything in it.")
def rm(name: str, path: str, recursive: bool) -> None:
    """Remove PATH from volume NAME."""
    with _file_errors():
        _volume(name).remove_file(path, recursive=recursive)
    click.echo(f"Removed {path} from volume {name!r}.")


@volume_group.command("cp")
@click.argument("name")
@click.argument("paths", nargs=-1, required=True)
@click.option("-r", "--recursive", is_flag=True, help="Copy directories too.")
def cp(name: str, paths: tuple[str, ...], recursive: bool) -> None:
    """Copy SOURCE... to DESTINATION inside volume NAME (the last path is the destination)."""
    if len(paths) < 2:
        raise click.UsageError("give one or more source paths and a destination, e.g. `toolkit volume cp v /a /b`.")
    with _file_errors():
        _volume(name).copy_files(list(paths[:-1]), paths[-1], recursive=recursive)
    click.echo(f"Copied {len(paths) - 1} path(s) to {paths[-1]} in volume {name!r}.")


@volume_group.command("delete")
@click.argument("name")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def delete(name: str, yes: bool) -> None:
    """Delete volume NAME and every file in it."""
    from toolkit.volume import Volume

    if not yes:
        click.confirm(f"Delete volume {name!r} and all its files from the {where()}?", abort=True)
    Volume.delete(name)
    click.echo(f"Deleted volume {name!r}.")


