"""``toolkit.Sandbox``: run untrusted commands in an isolated container, as the hosted platform's users write it.

    app = toolkit.App.lookup("runner", create_if_missing=True)
    sb = toolkit.Sandbox.create(app=app, image=toolkit.Image.debian_slim(), timeout=60, block_network=True)
    p = sb.exec("python3", "-c", "print(6 * 7)")
    print(p.stdout.read(), p.wait())
    sb.terminate()

Locally every sandbox is a container in podman (or docker): never a bare process.  Its state
lives under ``$TOOLKIT_HOME/sandboxes`` (`toolkit.sandboxes.records`), so ``from_id``,
``from_name`` and ``list`` work from other processes; a supervisor process per sandbox
(`toolkit.sandboxes.supervisor`) enforces ``timeout``/``idle_timeout`` and removes the container
when the sandbox ends, including when the creating process dies.  Where toolkit differs from the
hosted platform: a local sandbox lives at most as long as the process that created it, tunnels
are plain HTTP on 127.0.0.1, and the main command's stdin is not attached (use ``exec``).
"""

# mypy: disable-error-code="empty-body"
# (the refusals below are bodies the not_supported decorator replaces)

from __future__ import annotations

import dataclasses
import json
import secrets as _secrets
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any, Literal, NoReturn, cast

from toolkit.aio import Aio, aio_method
from toolkit.construction import refuse_construction
from toolkit.exception import (
    InvalidError,
    NotFoundError,
    NotSupportedError,
    SandboxTerminatedError,
    SandboxTimeoutError,
)
from toolkit.handles import Clientless
from toolkit.sandboxes.filesystem import FileCalls
from toolkit.sandboxes.ports import Probe, Tunnel, Tunnels, check_command, check_port, listening_ports
from toolkit.unsupported import UnsupportedClass, not_supported, refusal

if TYPE_CHECKING:
    from toolkit.app import App
    from toolkit.image import Image
    from toolkit.sandboxes.logs import SandboxLogs
    from toolkit.sandboxes.process import ContainerProcess
    from toolkit.sandboxes.records import End, Record
    from toolkit.sandboxes.streams import ByteSource, StreamReader, StreamType
    from toolkit.secret import Secret
    from toolkit.volume import Volume

__all__ = ["Probe", "Sandbox", "SandboxSnapshot", "Tunnel"]

DEFAULT_TIMEOUT_S = 300
MAX_TIMEOUT_S = 24 * 3600
START_TIMEOUT_S = 330.0  # the supervisor's own bound on `<engine> run` is 300 s
END_WAIT_S = 60.0
POLL_S = 0.05
SUPERVISOR = Path(__file__).parent / "sandboxes" / "supervisor.py"


# -- argument checks -------------------------------------------------------------------------------

def _seconds(what: str, value: Any, *, optional: bool) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_TIMEOUT_S:
        raise InvalidError(f"Sandbox {what}={value!r} must be a number of seconds between 1 and {MAX_TIMEOUT_S} "
                           "(24 hours).")
    return int(value)


def _limit(what: str, value: Any) -> Any:
    """cpu/memory as a number or a (request, limit) pair; locally the limit is what applies."""
    if isinstance(value, tuple) and len(value) == 2:
        value = value[1]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise InvalidError(f"Sandbox {what}={value!r} must be a positive number (memory in MiB) or a "
                           "(request, limit) pair.")
    return value


def _env(what: str, env: Mapping[str, Any] | None, secrets: Sequence[Secret] | None) -> dict[str, str]:
    values: dict[str, str] = {}
    for secret in secrets or ():
        values.update(secret.values())
    for key, value in (env or {}).items():
        if not isinstance(key, str) or not isinstance(value, (str, type(None))):
            raise InvalidError(f"{what} env={{{key!r}: {value!r}}}: names and values must be str.")
        if value is not None:
            values[key] = value
    return values


def _unsupported_locally(options: Mapping[str, Any]) -> None:
    for option, value in options.items():
        if value:
            raise NotSupportedError(
                f"Sandbox.create({option}=...) cannot be enforced by a local container engine, and toolkit never "
                f"runs a sandbox with less isolation than asked; drop {option}, or use block_network=True.")


def _unsupported_on_aws(options: Mapping[str, Any]) -> None:
    for option, value in options.items():
        if value:
            raise NotSupportedError(
                f"Sandbox.create({option}=...) is not enforced on AWS: a sandbox's egress is its deploy-planned "
                "security group (open, or the blocked one), and toolkit never runs a sandbox with less isolation "
                f"than asked; drop {option}, or use block_network=True.")


def _mounts(volumes: Mapping[str, Volume] | None) -> tuple[tuple[str, str], ...]:
    """Only what the user asked for is mounted: each Volume's local directory at its path."""
    from toolkit.volume import BUCKET_ENV, Volume

    mounts = []
    for path, volume in (volumes or {}).items():
        if not isinstance(path, str) or not path.startswith("/") or path == "/":
            raise InvalidError(f"Sandbox volumes: mount path {path!r} must be absolute and not '/'.")
        if not isinstance(volume, Volume):
            raise InvalidError(f"Sandbox volumes[{path!r}] must be a toolkit.Volume, got {volume!r}.")
        store = volume._store()
        working = getattr(store, "working_copy", None)
        if working is None:
            raise NotSupportedError(f"Sandbox volumes: Volume {volume.name!r} lives in S3 here ({BUCKET_ENV} is set), and "
                                    "a local sandbox mounts only volumes of the local store. Instead, unset "
                                    f"{BUCKET_ENV}, or copy the files in with sb.filesystem.")
        mounts.append((str(working(volume.name)), path))
    return tuple(mounts)


# -- the sandbox ----------------------------------------------------------------------------------

class Sandbox(FileCalls, Clientless):
    """A container running a command (or waiting for ``exec``), bounded by ``timeout``."""

    _record: Record
    _detached: bool
    _streams: dict[str, StreamReader[str]]
    _stdin: Any  # toolkit.sandboxes.main_stdin.MainStdin once asked for

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # the platform's signature (toolkit.construction)
        refuse_construction("Sandbox", "Sandbox.create(*args, app=...), Sandbox.from_id(sandbox_id) or "
                                       "Sandbox.from_name(app_name, name)")

    @classmethod
    def _make(cls, record: Record) -> Sandbox:
        sandbox = object.__new__(cls)
        sandbox._record, sandbox._detached, sandbox._streams, sandbox._stdin = record, False, {}, None
        return sandbox

    def __repr__(self) -> str:
        return f"<toolkit.Sandbox {self.object_id} app={self._record.app!r} name={self._record.name!r}>"

    @property
    def object_id(self) -> str:
        return self._record.sandbox_id

    @property
    def _records(self) -> Any:
        from toolkit.sandboxes import records

        return records

    def _live(self) -> Record:
        if self._detached:
            raise InvalidError(f"Sandbox {self.object_id} was detached from this object; get a new handle with "
                               f"toolkit.Sandbox.from_id({self.object_id!r}).")
        return self._record

    def _end(self) -> End | None:
        records = self._records
        end: End | None = records.load_end(self.object_id)
        pid = self._record.supervisor_pid
        if end is None and pid and not records.alive(pid):
            _reap_orphans()  # its supervisor was killed: nobody else would ever write the end
            end = records.load_end(self.object_id)
        return end

    def _ended_error(self, end: End) -> Exception:
        why = {"exited": f"its command exited with code {end.returncode}", "timeout": "it reached its timeout",
               "idle_timeout": "it was idle past its idle_timeout", "creator_exited": "the process that created it "
               "exited", "terminated": "it was terminated", "failed_to_start": f"it failed to start: {end.detail}"}
        message = (f"Sandbox {self.object_id} has already ended ({why.get(end.reason, end.reason)}); "
                   "create a new one with toolkit.Sandbox.create(...).")
        if end.reason in ("timeout", "idle_timeout"):
            return SandboxTimeoutError(message)
        return SandboxTerminatedError(message)

    # -- create and find ----------------------------------------------------------------------------
    @staticmethod
    def _create(*args: str, app: App | None = None, name: str | None = None, tags: Mapping[str, str] | None = None,
                image: Image | None = None, env: Mapping[str, str | None] | None = None,
                secrets: Sequence[Secret] | None = None, network_file_systems: Mapping[Any, Any] | None = None,
                timeout: int = DEFAULT_TIMEOUT_S, idle_timeout: int | None = None, workdir: str | None = None,
                gpu: str | None = None, cloud: str | None = None, region: str | Sequence[str] | None = None,
                cpu: float | tuple[float, float] | None = None, memory: int | tuple[int, int] | None = None,
                runtime: Literal["gvisor", "vm"] | None = None, block_network: bool = False,
                outbound_cidr_allowlist: Sequence[str] | None = None,
                outbound_domain_allowlist: Sequence[str] | None = None, _experimental_outbound_policy: Any = None,
                inbound_cidr_allowlist: Sequence[str] | None = None, volumes: Mapping[str, Volume] | None = None,
                pty: bool = False, encrypted_ports: Sequence[int] = (), h2_ports: Sequence[int] = (),
                unencrypted_ports: Sequence[int] = (), custom_domain: str | None = None, proxy: Any = None,
                include_oidc_identity_token: bool = False, readiness_probe: Probe | None = None,
                verbose: bool = False, experimental_options: Mapping[str, Any] | None = None,
                _experimental_enable_snapshot: bool = False, _experimental_persistent: bool = False,
                client: Any = None, environment_name: str | None = None, pty_info: Any = None,
                cidr_allowlist: Sequence[str] | None = None) -> Sandbox:
        """Start a sandbox running ``args`` (or nothing but waiting for ``exec`` when empty)."""
        from toolkit.sandboxes import engine as engines
        from toolkit.sandboxes import images
        from toolkit.sandboxes.options import PlatformOptions

        platform = PlatformOptions(network_file_systems, cloud, region, runtime, _experimental_outbound_policy, pty,
                                   custom_domain, proxy, include_oidc_identity_token, experimental_options,
                                   _experimental_enable_snapshot, _experimental_persistent, client, pty_info)
        platform.check("aws" if _deployed() else "local")
        spec = _Spec.check(args, app, name, tags, env, secrets, timeout, idle_timeout, workdir, cpu, memory,
                           (*encrypted_ports, *h2_ports, *unencrypted_ports), readiness_probe)
        if block_network and spec.ports:
            raise InvalidError(f"Sandbox.create(block_network=True) cannot also expose ports {list(spec.ports)}: "
                               "a sandbox without network has no tunnels; drop one of them.")
        outbound = {"cidr_allowlist": cidr_allowlist, "outbound_cidr_allowlist": outbound_cidr_allowlist,
                    "outbound_domain_allowlist": outbound_domain_allowlist}
        if _deployed():
            _unsupported_on_aws(outbound)
            return _create_on_aws(spec, _AwsOptions(image, bool(block_network), gpu, workdir, volumes, encrypted_ports,
                                                    h2_ports, inbound_cidr_allowlist))
        _unsupported_locally({**outbound, "inbound_cidr_allowlist": inbound_cidr_allowlist})
        if gpu:
            raise NotSupportedError(f"Sandbox.create(gpu={gpu!r}): a local sandbox has no GPU; run it without gpu=.")
        mounts = _mounts(volumes)
        engine = engines.find_engine()
        ref = images.resolve(image, engine)
        _reap_orphans()
        _check_name_free(spec.app, name)
        sandbox_id = "sb-" + _secrets.token_hex(11)
        from toolkit.sandboxes import logs, records

        run = engines.RunSpec(sandbox_id, ref, spec.command, spec.env, workdir, spec.cpu, spec.memory,
                              bool(block_network), spec.ports, mounts, {"dev.toolkit.app": spec.app},
                              str(records.directory(sandbox_id) / logs.LOG_NAME),
                              stdin=engine == "podman")  # its attach closes the stdin at EOF; docker's may not
        return _start(engine, run, spec)

    create = Aio(_create)

    @staticmethod
    def _from_id(sandbox_id: str, client: Any = None) -> Sandbox:
        from toolkit.sandboxes import records

        if _deployed():
            from toolkit.sandboxes.aws import deployed_sandboxes

            return cast(Sandbox, deployed_sandboxes().from_id(sandbox_id))
        record = records.load(sandbox_id) if isinstance(sandbox_id, str) and sandbox_id.startswith("sb-") else None
        if record is None:
            raise NotFoundError(f"No sandbox {sandbox_id!r} on this machine (see `toolkit sandbox list`); "
                                "ids look like 'sb-...' and come from Sandbox.create(...).object_id.")
        return Sandbox._make(record)

    from_id = Aio(_from_id)

    @staticmethod
    def _from_name(app_name: str, name: str, *, environment_name: str | None = None,
                   include_terminated: bool = False, client: Any = None) -> Sandbox:
        from toolkit.sandboxes import records

        if _deployed():
            from toolkit.sandboxes.aws import deployed_sandboxes

            return cast(Sandbox, deployed_sandboxes().from_name(app_name, name))
        for record in records.records():
            if record.app == app_name and record.name == name and (
                    include_terminated or records.load_end(record.sandbox_id) is None):
                return Sandbox._make(record)
        raise NotFoundError(f"No running sandbox named {name!r} in app {app_name!r} (see `toolkit sandbox list`); "
                            "create it with Sandbox.create(app=..., name=...).")

    from_name = Aio(_from_name)

    @staticmethod
    def _list(*, app_id: str | None = None, tags: Mapping[str, str] | None = None,
              client: Any = None) -> Iterator[Sandbox]:
        """Running sandboxes, newest first; ``app_id`` is the app's name locally, ``tags`` must all match."""
        from toolkit.sandboxes import records

        if _deployed():
            from toolkit.sandboxes.aws import deployed_sandboxes

            if app_id is None:
                raise InvalidError("Sandbox.list(app_id=...) inside a deployed function needs the app's name.")
            yield from (cast(Sandbox, sb) for sb in deployed_sandboxes().list(app_id.removeprefix("ap-"), tags))
            return
        _reap_orphans()
        for record in records.records():
            if records.load_end(record.sandbox_id) is not None:
                continue
            if app_id is not None and app_id not in (record.app, _app_id(record.app)):
                continue
            if tags and any(record.tags.get(k) != v for k, v in tags.items()):
                continue
            yield Sandbox._make(record)

    list = Aio(_list, is_iter=True)

    # -- its life -----------------------------------------------------------------------------------
    def poll(self) -> int | None:
        """The main command's exit code once the sandbox has ended, else None."""
        end = self._end()
        return None if end is None else end.returncode

    @property
    def returncode(self) -> int | None:
        return self.poll()

    @aio_method
    def wait(self, raise_on_termination: bool = True) -> None:
        """Block until the sandbox ends; a timeout or a termination raises unless told not to."""
        self._live()
        while (end := self._end()) is None:
            time.sleep(POLL_S)
        if raise_on_termination and end.reason not in ("exited", "failed_to_start"):
            raise self._ended_error(end)

    @aio_method
    def terminate(self, *, wait: bool = False) -> int | None:
        """End the sandbox now (its container is killed and removed); with ``wait``, its exit code."""
        from toolkit.sandboxes import engine, records

        record = self._live()
        if self._end() is None:
            (records.directory(self.object_id) / "terminate").touch()
            subprocess.run([record.engine, "kill", "--signal", "KILL", record.container], capture_output=True,
                           timeout=engine.ENGINE_TIMEOUT_S)
        if not wait:
            return None
        deadline = time.monotonic() + END_WAIT_S
        while (end := self._end()) is None and time.monotonic() < deadline:
            time.sleep(POLL_S)
        return None if end is None else end.returncode

    def detach(self) -> None:
        """Forget the sandbox in this object (it keeps running; ``from_id`` gets it back)."""
        self._detached = True

    # -- exec ----------------------------------------------------------------------------------------
    def exec(self, *args: str, stdout: StreamType | None = None, stderr: StreamType | None = None,
             timeout: int | None = None, workdir: str | None = None, env: Mapping[str, str | None] | None = None,
             secrets: Sequence[Secret] | None = None, text: bool = True, bufsize: Literal[-1, 1] = -1,
             pty: bool = False, _pty_info: Any = None, pty_info: Any = None) -> ContainerProcess:
        """Run ``args`` in the sandbox (the engine's exec); its streams arrive as they are written."""
        from toolkit.sandboxes import engine
        from toolkit.sandboxes.options import refuse_exec_pty_info
        from toolkit.sandboxes.process import ContainerProcess, with_timeout
        from toolkit.sandboxes.streams import StreamType

        record = self._live()
        command = check_command("Sandbox.exec", args, required=True)
        seconds = _seconds("exec timeout", timeout, optional=True)
        if workdir is not None and not (isinstance(workdir, str) and workdir.startswith("/")):
            raise InvalidError(f"Sandbox.exec(workdir={workdir!r}) must be an absolute path.")
        if pty:
            raise NotSupportedError("Sandbox.exec(pty=True) is not supported locally; run without a pseudo-terminal.")
        refuse_exec_pty_info(pty_info, _pty_info)
        end = self._end()
        if end is not None:
            raise self._ended_error(end)
        argv = engine.exec_args(record.engine, record.container, with_timeout(command, seconds),
                                env=_env("Sandbox.exec", env, secrets), workdir=workdir, stdin=True)
        return ContainerProcess(self.object_id, argv, stdout=stdout or StreamType.PIPE,
                                stderr=stderr or StreamType.PIPE, text=text)

    @property
    def stdout(self) -> StreamReader[str]:
        """The main command's stdout, from its start, as it arrives (one stream per handle: what is
        read is consumed, as from a pipe)."""
        return self._main_stream("stdout")

    @property
    def stderr(self) -> StreamReader[str]:
        return self._main_stream("stderr")

    def _main_stream(self, which: Literal["stdout", "stderr"]) -> StreamReader[str]:
        from toolkit.sandboxes.streams import StreamReader

        if which not in self._streams:
            self._streams[which] = StreamReader(lambda: self._main_output(which))
        return self._streams[which]

    @property
    def stdin(self) -> Any:
        """The main command's stdin (`toolkit.sandboxes.main_stdin`): ``write``, ``drain``, ``write_eof``."""
        from toolkit.sandboxes.main_stdin import MainStdin

        if self._record.engine != "podman":
            raise NotSupportedError(f"Sandbox {self.object_id}: the main command's stdin is attached with podman "
                                    f"only, not {self._record.engine}; use sb.exec(...).stdin.")
        if self._stdin is None:
            self._stdin = MainStdin(self.object_id)
        return self._stdin

    def _main_output(self, which: Literal["stdout", "stderr"]) -> ByteSource:
        from toolkit.sandboxes import logs as log_files
        from toolkit.sandboxes import records

        record = self._live()
        log = records.directory(self.object_id) / log_files.LOG_NAME
        if record.engine == "podman":
            return log_files.LogTail(log, which, lambda: self._end() is not None)
        if self._end() is None:
            logs = subprocess.Popen([record.engine, "logs", "--follow", record.container],
                                    stdout=subprocess.PIPE if which == "stdout" else subprocess.DEVNULL,
                                    stderr=subprocess.PIPE if which == "stderr" else subprocess.DEVNULL)
            return _Followed(logs, which, self)
        return self._saved_output(which)

    def _saved_output(self, which: str) -> IO[bytes]:
        from toolkit.sandboxes import records

        deadline = time.monotonic() + END_WAIT_S
        while self._end() is None and time.monotonic() < deadline:
            time.sleep(POLL_S)
        path = records.directory(self.object_id) / f"{which}.log"
        return open(path, "rb") if path.exists() else _empty()  # noqa: SIM115 - the reader owns it

    # -- ports, readiness, tags ---------------------------------------------------------------------
    @aio_method
    def tunnels(self, timeout: int = 50) -> Tunnels:
        record = self._live()
        return Tunnels(self.object_id, {port: Tunnel("127.0.0.1", host, "127.0.0.1", host)
                                        for port, host in record.ports.items()})

    @aio_method
    def wait_until_ready(self, *, timeout: float = 300) -> None:
        """Block until the sandbox's readiness probe passes; ``TimeoutError`` past ``timeout`` seconds."""
        record = self._live()
        probe = _load_probe(self.object_id)
        if probe is None:
            raise InvalidError(f"Sandbox {self.object_id} has no readiness probe; create it with "
                               "readiness_probe=toolkit.Probe.with_tcp(PORT) or Probe.with_exec(...).")
        deadline = time.monotonic() + timeout
        while not self._probe_passes(record, probe):
            end = self._end()
            if end is not None:
                raise self._ended_error(end)
            if time.monotonic() > deadline:
                raise TimeoutError(f"Sandbox {self.object_id} was not ready after {timeout} s ({probe}).")
            time.sleep(probe.interval_ms / 1000)

    def _probe_passes(self, record: Record, probe: Probe) -> bool:
        from toolkit.sandboxes import engine

        if probe.exec_argv is not None:
            argv = engine.exec_args(record.engine, record.container, probe.exec_argv, env={}, workdir=None,
                                    stdin=False)
            return subprocess.run(argv, capture_output=True, timeout=60).returncode == 0
        argv = engine.exec_args(record.engine, record.container, ("cat", "/proc/net/tcp", "/proc/net/tcp6"),
                                env={}, workdir=None, stdin=False)
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        return probe.tcp_port in listening_ports(done.stdout)

    @aio_method
    def set_tags(self, tags: Mapping[str, str], *, client: Any = None) -> None:
        from toolkit.sandboxes import records

        self._live()
        checked = _tags(tags)
        current = records.load(self.object_id) or self._record
        self._record = current.with_tags(checked)
        records.save(self._record)

    @aio_method
    def get_tags(self) -> dict[str, str]:
        from toolkit.sandboxes import records

        current = records.load(self.object_id) or self._record
        return dict(current.tags)

    # -- the filesystem -----------------------------------------------------------------------------
    @aio_method
    def snapshot_filesystem(self, timeout: int = 55, *, ttl: int | None = None) -> Image:
        """The sandbox's filesystem now, as an Image (``<engine> commit``) to create other sandboxes from."""
        from toolkit.image import Image
        from toolkit.sandboxes import engine

        record = self._live()
        end = self._end()
        if end is not None:
            raise self._ended_error(end)
        ref = f"localhost/toolkit/sandbox-snapshot:{self.object_id}-{int(time.time() * 1000)}"
        engine.commit(record.engine, record.container, ref)
        return Image.from_registry(ref)


    # -- the platform's other members (``client`` is Clientless's): hydrate, and refusals naming the alternative
    @aio_method
    def hydrate(self, client: Any = None) -> Sandbox:
        """A handle is usable as made: nothing to look up.  ``client`` must stay None."""
        from toolkit.unsupported import no_client

        no_client("Sandbox.hydrate", client)
        return self

    @not_supported("Sandbox.create_connect_token", "sandbox ports are reached through tunnels, with no token service",
                   "use sb.tunnels()[port].url and check a secret of your own in the server")
    def create_connect_token(self, user_metadata: str | dict[str, Any] | None = None, port: int = 8080) -> NoReturn: ...

    @not_supported("Sandbox.get_dashboard_url", "sandboxes have no hosted dashboard page",
                   "run `toolkit sandbox list` (or open the dashboard of `toolkit serve`)")
    def get_dashboard_url(self) -> NoReturn: ...

    @property
    def logs(self) -> SandboxLogs:
        """The main command's output as timed lines (``tail``/``fetch``), readable after the end too."""
        from toolkit.sandboxes import logs as log_files
        from toolkit.sandboxes import records

        if self._record.engine != "podman":
            raise NotSupportedError(refusal(
                f"Sandbox.logs with {self._record.engine}", "only podman writes a sandbox's log to a file toolkit keeps",
                "read sb.stdout / sb.stderr, or set TOOLKIT_SANDBOX_ENGINE=podman"))
        return log_files.SandboxLogs(self.object_id, records.directory(self.object_id) / log_files.LOG_NAME)

    # -- volumes and image mounts (`toolkit.sandboxes.mounts`) ----------------------------------------
    def _running(self) -> Record:
        record = self._live()
        end = self._end()
        if end is not None:
            raise self._ended_error(end)
        return record

    @aio_method
    def mount_image(self, path: PurePosixPath | str, image: Image, *,
                    _experimental_encryption_key: bytes | None = None) -> None:
        """Put ``image``'s files at ``path`` (created if missing; what was there comes back on
        ``unmount_image``).  Locally a copy, not a mount: `toolkit.sandboxes.mounts`."""
        from toolkit.sandboxes import images, mounts, records

        where = mounts.checked_path("Sandbox.mount_image", path)
        if _experimental_encryption_key is not None:
            raise NotSupportedError(refusal("Sandbox.mount_image(_experimental_encryption_key=...)",
                                            "local images are not encrypted", "leave it unset"))
        record = self._running()
        mounts.mount(record.engine, record.container, records.directory(self.object_id), where,
                     images.resolve(image, record.engine))

    @aio_method
    def unmount_image(self, path: PurePosixPath | str) -> None:
        """Remove what ``mount_image`` put at ``path`` (writes under it included) and restore what was there."""
        from toolkit.sandboxes import mounts, records

        where = mounts.checked_path("Sandbox.unmount_image", path)
        record = self._running()
        mounts.unmount(record.engine, record.container, records.directory(self.object_id), where)

    @aio_method
    def snapshot_directory(self, path: PurePosixPath | str, *, timeout: int = 55, ttl: int | None = 2592000,
                           _experimental_encryption_key: bytes | None = None) -> Image:
        """An Image whose root holds ``path``'s contents now (for ``mount_image`` here or in another sandbox);
        kept in the engine's local store until removed there (``ttl`` is not enforced locally)."""
        from toolkit.image import Image
        from toolkit.sandboxes import mounts

        where = mounts.checked_path("Sandbox.snapshot_directory", path)
        record = self._running()
        return Image.from_registry(mounts.snapshot_directory(record.engine, record.container, self.object_id, where))

    @aio_method
    def reload_volumes(self, *, timeout: int = 55) -> None:
        """Returns at once: a local Volume is a live directory mounted into the sandbox, so what any process
        wrote to it is already visible here (docs/volumes.md, "Locally the store is live")."""
        self._running()


class SandboxSnapshot(UnsupportedClass):
    """The platform's memory-and-filesystem snapshot of a running sandbox: refused."""

    __toolkit_not_supported__ = refusal(
        "SandboxSnapshot", "toolkit takes no memory snapshots of a sandbox",
        "use sb.snapshot_filesystem() and create a new sandbox from the Image it returns")

    def __init__(self, *args: Any, **kwargs: Any) -> None: ...


class _Followed:
    """``<engine> logs --follow`` of a running sandbox; if the container was removed before the
    engine could follow it, the output saved by the supervisor instead."""

    def __init__(self, logs: subprocess.Popen[bytes], which: str, sandbox: Sandbox) -> None:
        self._logs, self._which, self._sandbox = logs, which, sandbox
        pipe = logs.stdout if which == "stdout" else logs.stderr
        assert pipe is not None
        self._pipe: IO[bytes] = pipe
        self._got_any = False
        self._fell_back = False

    def _fall_back(self) -> bool:
        """At the end of the engine's output: switch to the saved output if the engine had none to give."""
        code = self._logs.wait()
        if self._got_any or self._fell_back or code == 0:
            return False
        self._fell_back = True
        self._pipe = self._sandbox._saved_output(self._which)
        return True

    def readline(self) -> bytes:
        line = self._pipe.readline()
        if not line and self._fall_back():
            line = self._pipe.readline()
        self._got_any = self._got_any or bool(line)
        return line

    def read(self) -> bytes:
        data = self._pipe.read()
        if not data and self._fall_back():
            data = self._pipe.read()
        self._got_any = self._got_any or bool(data)
        return data


def _empty() -> IO[bytes]:
    import io

    return io.BytesIO()


# -- creating ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Spec:
    app: str
    name: str | None
    tags: dict[str, str]
    command: tuple[str, ...]
    env: dict[str, str]
    timeout: int
    idle_timeout: int | None
    cpu: float | None
    memory: int | None
    ports: tuple[int, ...]
    probe: Probe | None

    @staticmethod
    def check(args: Sequence[Any], app: Any, name: Any, tags: Any, env: Any, secrets: Any, timeout: Any,
              idle_timeout: Any, workdir: Any, cpu: Any, memory: Any, ports: Sequence[Any], probe: Any) -> _Spec:
        from toolkit.app import App
        from toolkit.sandboxes.engine import KEEP_ALIVE

        if not isinstance(app, App):
            raise InvalidError(f"Sandbox.create needs app=<a toolkit.App>, got {app!r}; e.g. "
                               "app=toolkit.App.lookup('my-app', create_if_missing=True).")
        if name is not None and (not isinstance(name, str) or not name or len(name) > 64
                                 or not all(c.isalnum() or c in "-_." for c in name)):
            raise InvalidError(f"Sandbox name {name!r} must be 1-64 letters, digits, '-', '_' or '.'.")
        if workdir is not None and not (isinstance(workdir, str) and workdir.startswith("/")):
            raise InvalidError(f"Sandbox workdir={workdir!r} must be an absolute path.")
        if probe is not None and not isinstance(probe, Probe):
            raise InvalidError(f"Sandbox readiness_probe={probe!r} must be a toolkit.Probe (Probe.with_tcp(port)).")
        memory_mib = _limit("memory", memory)
        return _Spec(app.app_name, name, _tags(tags or {}), check_command("Sandbox.create", args) or KEEP_ALIVE,
                     _env("Sandbox.create", env, secrets), int(_seconds("timeout", timeout, optional=False) or 0),
                     _seconds("idle_timeout", idle_timeout, optional=True), _limit("cpu", cpu),
                     int(memory_mib) if memory_mib is not None else None,
                     tuple(dict.fromkeys(check_port("Sandbox ports", p) for p in ports)), probe)


def _deployed() -> bool:
    from toolkit.runner import in_deployment

    return in_deployment()


@dataclass(frozen=True)
class _AwsOptions:
    """What only the AWS side reads of ``Sandbox.create``'s arguments."""

    image: Any
    block_network: bool
    gpu: str | None
    workdir: str | None
    volumes: Mapping[str, Any] | None
    encrypted_ports: Sequence[int]
    h2_ports: Sequence[int]
    inbound_cidr_allowlist: Sequence[str] | None


def _create_on_aws(spec: _Spec, options: _AwsOptions) -> Sandbox:
    """Inside a deployed function: an ECS task (`toolkit.sandboxes.aws`); the handle has the same calls."""
    from toolkit.sandboxes.aws import deployed_sandboxes
    from toolkit.sandboxes.declared import default_image
    from toolkit.sandboxes.engine import KEEP_ALIVE

    if options.encrypted_ports or options.h2_ports:
        given = "encrypted_ports" if options.encrypted_ports else "h2_ports"
        raise NotSupportedError(refusal(
            f"Sandbox.create({given}=...) on AWS", "a sandbox task is reached at its public IP, with no TLS "
            "terminator in front of it", "pass unencrypted_ports=[...] (narrowed with inbound_cidr_allowlist) or "
            "serve TLS from inside the sandbox"))
    command = () if spec.command == KEEP_ALIVE else spec.command
    sandboxes = deployed_sandboxes()
    image_key = None if options.image is None else str(options.image.spec_hash)
    if image_key is None and not options.gpu:  # no image=: debian_slim, as locally, where the deploy built it
        default = default_image().spec_hash
        image_key = default if default in sandboxes.config.images else None
    handle = sandboxes.create(
        *command, app=spec.app, name=spec.name, tags=spec.tags, env=spec.env, timeout=spec.timeout,
        idle_timeout=spec.idle_timeout, cpu=spec.cpu, memory=spec.memory, block_network=options.block_network,
        gpu=options.gpu, image_key=image_key, ports=spec.ports, inbound_cidr_allowlist=options.inbound_cidr_allowlist,
        probe=None if spec.probe is None else spec.probe.to_dict(), workdir=options.workdir,
        volumes=_aws_volumes(options.volumes))
    return cast(Sandbox, handle)  # an AwsSandbox: the same calls (`toolkit.sandboxes.aws`)


def _aws_volumes(volumes: Mapping[str, Volume] | None) -> list[tuple[str, str, bool, bool]]:
    """``volumes=`` for the agent: each Volume's name and flags at its checked path (the app's S3 volumes)."""
    from toolkit.volume import Volume

    found = []
    for path, volume in (volumes or {}).items():
        if not isinstance(path, str) or not path.startswith("/") or path == "/":
            raise InvalidError(f"Sandbox volumes: mount path {path!r} must be absolute and not '/'.")
        if not isinstance(volume, Volume):
            raise InvalidError(f"Sandbox volumes[{path!r}] must be a toolkit.Volume, got {volume!r}.")
        found.append((path, volume.name, volume.creates_if_missing, volume.is_read_only))
    return found


def _tags(tags: Any) -> dict[str, str]:
    if not isinstance(tags, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise InvalidError(f"Sandbox tags {tags!r} must be a dict of str to str.")
    return dict(tags)


def _app_id(app: str) -> str:
    return f"ap-{app}"


def _check_name_free(app: str, name: str | None) -> None:
    from toolkit.sandboxes import records

    if name is None:
        return
    for record in records.records():
        if record.app == app and record.name == name and records.load_end(record.sandbox_id) is None:
            raise InvalidError(f"App {app!r} already has a running sandbox named {name!r} ({record.sandbox_id}); "
                               "pick another name or terminate it first.")


def _start(engine: str, run: Any, spec: _Spec) -> Sandbox:
    """Hand the container to a new supervisor, then learn its ports; errors name the command or image."""
    from toolkit.sandboxes import engine as engines
    from toolkit.sandboxes import records

    home = records.directory(run.sandbox_id)
    home.mkdir(parents=True)
    record = records.Record(run.sandbox_id, spec.app, spec.name, engine, run.container_name, run.image,
                            spec.command, time.time(), spec.timeout, spec.idle_timeout, {}, spec.tags, _pid())
    records.save(record)
    records.write_json(home / "spec.json", {
        "engine": engine, "container": run.container_name, "run_args": engines.run_args(engine, run),
        "timeout": spec.timeout, "idle_timeout": spec.idle_timeout, "creator_pid": _pid(), "stdin": run.stdin,
        "probe": None if spec.probe is None else spec.probe.to_dict()})
    supervisor = subprocess.Popen([sys.executable, "-I", "-S", str(SUPERVISOR), str(home)], stdout=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
    assert supervisor.stdout is not None
    line = supervisor.stdout.readline()
    supervisor.stdout.close()
    started = json.loads(line) if line.strip() else {"error": "its supervisor exited without a word"}
    if "error" in started:
        from toolkit.sandboxes import images

        supervisor.wait(timeout=START_TIMEOUT_S)
        images.forget(engine, run.image)
        raise _start_error(run, str(started["error"]))
    _reap_later(supervisor)
    ports = engines.published_ports(engine, run.container_name) if run.ports else {}
    record = dataclasses.replace(record, ports=ports, supervisor_pid=supervisor.pid)
    records.save(record)
    return Sandbox._make(record)


def _reap_orphans() -> None:
    from toolkit.sandboxes import records

    records.reap_orphans()


def _start_error(run: Any, detail: str) -> Exception:
    if "executable file not found" in detail or "no such file or directory" in detail.lower():
        return InvalidError(f"Sandbox command {run.command[0]!r} was not found in image {run.image!r}; install it in "
                            f"the image or give its full path ({detail.splitlines()[-1]}).")
    return InvalidError(f"Sandbox {run.sandbox_id} of image {run.image!r} failed to start: {detail}")


def _reap_later(supervisor: subprocess.Popen[bytes]) -> None:
    """The supervisor is our child: reap it when it exits so it never lingers as a zombie."""
    import threading

    threading.Thread(target=supervisor.wait, daemon=True, name="toolkit-sandbox-reaper").start()


def _pid() -> int:
    import os

    return os.getpid()


def _load_probe(sandbox_id: str) -> Probe | None:
    from toolkit.sandboxes import records

    raw = json.loads((records.directory(sandbox_id) / "spec.json").read_text()).get("probe")
    return None if raw is None else Probe.from_dict(raw)
