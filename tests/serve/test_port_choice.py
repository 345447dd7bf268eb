"""The gateway's default port steps aside for an app whose web_server listens on it."""

from __future__ import annotations

import socket
from types import SimpleNamespace
from typing import Any

from toolkit.serve.server import ServeOptions, gateway_port


def routes_with_ports(*ports: int | None) -> Any:
    endpoints = {f"h{i}": SimpleNamespace(spec=SimpleNamespace(port=p)) for i, p in enumerate(ports)}
    return SimpleNamespace(endpoints=endpoints)


def test_default_port_moves_off_the_apps_web_server_port() -> None:
    options = ServeOptions("app.py", port=8000, port_explicit=False)
    chosen = gateway_port(options, routes_with_ports(8000, 8001, None))
    assert chosen not in (8000, 8001) and chosen > 8001
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", chosen))  # it was free


def test_default_port_stays_when_there_is_no_clash() -> None:
    options = ServeOptions("app.py", port=8000, port_explicit=False)
    assert gateway_port(options, routes_with_ports(9000, None)) == 8000


def test_an_explicit_port_is_never_changed() -> None:
    options = ServeOptions("app.py", port=8000, port_explicit=True)
    assert gateway_port(options, routes_with_ports(8000)) == 8000  # the clash is then reported, not dodged
