"""A sandbox's readiness probes and tunnels: plain data shared by local sandboxes and ECS tasks.

``Probe`` says when a sandbox is ready (a port listening inside it, or a command exiting 0);
``Tunnel`` is one exposed port as this machine reaches it; ``Tunnels`` is ``sb.tunnels()``'s answer,
whose missing ports are a named error.  `listening_ports` reads ``/proc/net/tcp`` text, which
is how a TCP probe is checked from inside either kind of sandbox.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from toolkit.exception import InvalidError, NotFoundError

__all__ = ["Probe", "Tunnel", "Tunnels", "check_command", "check_port", "listening_ports"]


# -- probes and tunnels -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Probe:
    """When a sandbox is ready: a TCP port listening inside it (``tcp_port``), or a command exiting 0
    there (``exec_argv``); exactly one of the two, as `with_tcp` and `with_exec` build them."""

    tcp_port: int | None = None
    exec_argv: tuple[str, ...] | None = None
    interval_ms: int = 100

    def __post_init__(self) -> None:
        if (self.tcp_port is None) == (self.exec_argv is None):
            raise InvalidError(f"Probe(tcp_port={self.tcp_port!r}, exec_argv={self.exec_argv!r}) needs exactly one "
                               "of the two; use Probe.with_tcp(port) or Probe.with_exec(*argv).")
        if self.tcp_port is not None:
            check_port("Probe(tcp_port=...)", self.tcp_port)
        else:
            object.__setattr__(self, "exec_argv", check_command("Probe(exec_argv=...)", tuple(self.exec_argv or ()),
                                                           required=True))
        _interval(self.interval_ms)

    @property
    def kind(self) -> Literal["tcp", "exec"]:
        return "tcp" if self.tcp_port is not None else "exec"

    @staticmethod
    def with_tcp(port: int, *, interval_ms: int = 100) -> Probe:
        return Probe(tcp_port=check_port("Probe.with_tcp", port), interval_ms=_interval(interval_ms))

    @staticmethod
    def with_exec(*argv: str, interval_ms: int = 100) -> Probe:
        return Probe(exec_argv=check_command("Probe.with_exec", argv, required=True), interval_ms=_interval(interval_ms))

    def to_dict(self) -> dict[str, Any]:
        """What a sandbox's record keeps of it (``from_dict`` reads it back in another process)."""
        return {"tcp_port": self.tcp_port, "exec_argv": None if self.exec_argv is None else list(self.exec_argv),
                "interval_ms": self.interval_ms}

    @staticmethod
    def from_dict(raw: Mapping[str, Any]) -> Probe:
        argv = raw.get("exec_argv")
        return Probe(raw.get("tcp_port"), None if argv is None else tuple(argv), int(raw.get("interval_ms", 100)))


@dataclass(frozen=True)
class Tunnel:
    """A sandbox port reachable from this machine.  Locally it is published on 127.0.0.1 and spoken
    to in plain HTTP/TCP (no TLS): ``url`` is ``http://127.0.0.1:<port>``."""

    host: str
    port: int
    unencrypted_host: str
    unencrypted_port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def tls_socket(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def tcp_socket(self) -> tuple[str, int]:
        return self.unencrypted_host, self.unencrypted_port


class Tunnels(dict[int, Tunnel]):
    """``sb.tunnels()``: container port -> `Tunnel`; a port that was not exposed is a named error."""

    def __init__(self, sandbox_id: str, tunnels: Mapping[int, Tunnel]) -> None:
        super().__init__(tunnels)
        self._sandbox_id = sandbox_id

    def __missing__(self, port: int) -> Tunnel:
        exposed = ", ".join(map(str, sorted(self))) or "none"
        raise NotFoundError(f"Port {port!r} of sandbox {self._sandbox_id} has no tunnel (exposed: {exposed}); "
                            f"create the sandbox with encrypted_ports=[{port!r}] or unencrypted_ports=[{port!r}].")


def check_port(what: str, port: Any) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise InvalidError(f"{what}: port {port!r} must be an int between 1 and 65535.")
    return port


def _interval(ms: Any) -> int:
    if isinstance(ms, bool) or not isinstance(ms, int) or ms < 1:
        raise InvalidError(f"Probe interval_ms={ms!r} must be a positive int (milliseconds).")
    return ms


def check_command(what: str, args: Sequence[Any], *, required: bool = False) -> tuple[str, ...]:
    bad = [a for a in args if not isinstance(a, str)]
    if bad:
        raise InvalidError(f"{what}: every argument must be a str, got {bad[0]!r}; pass the command as separate "
                           "strings, e.g. ('python3', '-c', 'print(1)').")
    if required and not args:
        raise InvalidError(f"{what} needs a command, e.g. {what}('python3', '--version').")
    return tuple(args)


def listening_ports(proc_net: str) -> set[int]:
    """Ports in LISTEN state (0A) in /proc/net/tcp{,6} text: ``sl local_address rem_address st ...``."""
    ports = set()
    for line in proc_net.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and fields[3] == "0A" and ":" in fields[1]:
            ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports
