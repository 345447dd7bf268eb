"""The route table: which endpoint answers a Host, built from the app's manifest.

``<workspace>--<label>-dev.localhost:8000`` is routed by its first DNS label, the
manifest's ``web.host``, under ``localhost`` or another served domain (`served_domains`: a
foreign name is refused, against DNS rebinding); the bare host (``localhost``, an IP
address) is the index.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace

from runtime import params as codec
from runtime.adapters.base import WebKind, WebSpec
from runtime.manifest import ClsSpec, FunctionEntry, load
from runtime.params import Params
from toolkit import config
from toolkit.exception import InvalidError
from toolkit.local.protocol import WorkerTarget
from toolkit.serve.appinfo import AppInfo, FunctionSource
from toolkit.serve.registry import Holder

DEFAULT_MAX_CONTAINERS = 4  # like the local function runner: a laptop, not a cloud


LOOPBACK_DOMAINS = ("localhost", "lvh.me", "localtest.me")


class BadHostError(ValueError):
    """The Host header is missing or is not a host name."""


@dataclass(frozen=True)
class Endpoint:
    tag: str
    app_name: str
    host: str  # the DNS label this endpoint answers to
    label: str
    spec: WebSpec
    requires_proxy_auth: bool
    max_inputs: int
    max_containers: int
    min_containers: int  # workers kept warm, started with the pool (`WorkerPool.keep_warm`)
    scaledown_window: float
    timeout: float
    backend: str
    cls: ClsSpec | None  # the class's name and parameters; the class itself lives in the worker
    source: FunctionSource
    is_async: bool = False  # the decorated function is async (a fastapi_endpoint's handler runs on the loop)

    @property
    def kind(self) -> WebKind:
        return self.spec.kind

    def params_for(self, query: dict[str, str]) -> Params:
        """Class parameter values selected by the URL's query string (raises InvalidError)."""
        if self.cls is None:
            return ()
        try:
            return codec.from_query(self.cls.name, self.cls.parameters, query)
        except codec.ParameterError as exc:
            raise InvalidError(str(exc)) from None

    def default_params(self) -> Params | None:
        """The parameter values of the pool to keep warm: the class parameters' defaults, or
        None when one has no default (pools then start per parameter values, on request)."""
        if self.cls is None:
            return ()
        try:
            return codec.from_query(self.cls.name, self.cls.parameters, {})
        except codec.ParameterError:
            return None

    def target(self, params: Params, sys_path: tuple[str, ...]) -> WorkerTarget:
        return WorkerTarget(module=self.source.module, source_file=self.source.source_file, app_name=self.app_name,
                            tag=self.tag, params=params, max_inputs=self.max_inputs, timeout=self.timeout,
                            sys_path=sys_path)


def endpoint_from_manifest(app_name: str, entry: FunctionEntry, source: FunctionSource) -> Endpoint:
    web, scaling = entry.web, entry.scaling
    assert web is not None, "only web functions have endpoints"
    return Endpoint(
        tag=entry.tag, app_name=app_name, host=web.host, label=web.label,
        spec=WebSpec.from_manifest(entry), requires_proxy_auth=web.requires_proxy_auth,
        max_inputs=scaling.max_inputs,
        # the local cap when none is set; never below min_containers, which the user asked for
        max_containers=scaling.max_containers or max(DEFAULT_MAX_CONTAINERS, scaling.min_containers),
        min_containers=scaling.min_containers,
        scaledown_window=float(scaling.scaledown_window), timeout=float(entry.timeout),
        backend=entry.backend, cls=entry.cls, source=source, is_async=entry.is_async,
    )


@dataclass(frozen=True)
class Moved:
    """An endpoint a newer toolkit serve took over (`toolkit.serve.takeover`); it serves it now."""

    tag: str
    host: str
    holder: Holder


@dataclass(frozen=True)
class RouteTable:
    info: AppInfo
    endpoints: dict[str, Endpoint]  # by host label
    moved: dict[str, Moved] = field(default_factory=dict)  # by host label: no longer served here
    app_name: str = ""

    def without(self, moved: dict[str, Moved]) -> RouteTable:
        """This table less the endpoints newer serves took over (``moved``, by host label)."""
        return replace(self, endpoints={h: e for h, e in self.endpoints.items() if h not in moved}, moved=moved)

    @staticmethod
    def from_info(info: AppInfo) -> RouteTable:
        manifest = load(info.manifest)
        app_name = manifest.app_name or ""
        endpoints = {}
        for entry in manifest.functions:
            if entry.web is not None:
                endpoint = endpoint_from_manifest(app_name, entry, info.sources[entry.tag])
                endpoints[endpoint.host] = endpoint
        return RouteTable(info, endpoints, app_name=app_name)


def host_label(host_header: str | None, domains: tuple[str, ...] | None = None) -> str | None:
    """The endpoint label a Host header names, or None for the bare host (the index).

    Only ``<label>.<domain>`` routes, for a domain of ``domains`` (default: `served_domains`):
    a Host under any other name is refused, so that a web page whose own domain an attacker
    re-points at 127.0.0.1 (DNS rebinding) cannot reach the developer's endpoints.
    Raises BadHostError for a missing, malformed or foreign Host.
    """
    if not host_header:
        raise BadHostError("The request has no Host header.")
    name = _strip_port(host_header.strip().lower()).removesuffix(".")  # "localhost." is "localhost"
    domains = served_domains() if domains is None else domains
    if name in domains or _is_ip(name):
        return None
    if not name or any(c.isspace() or c in "/\\@?#:[]" for c in name):
        raise BadHostError(f"Host {host_header!r} is not a host name.")
    label, _, domain = name.partition(".")
    if not label:
        raise BadHostError(f"Host {host_header!r} is not a host name.")
    if domain not in domains:
        raise BadHostError(f"Host {host_header!r} is not served here: toolkit serve answers <label>."
                           f"{' / <label>.'.join(domains)} only (set TOOLKIT_DOMAIN to add your own domain).")
    return label


def served_domains() -> tuple[str, ...]:
    """The domains whose one-label subdomains name endpoints: names that resolve to loopback
    (``localhost``; ``lvh.me`` and ``localtest.me`` in public DNS) and the ``domain`` setting."""
    domain = config.setting("domain")
    return LOOPBACK_DOMAINS + ((domain.strip(".").lower(),) if domain else ())


def _strip_port(host: str) -> str:
    if host.startswith("["):  # [::1]:8000
        return host[1:].split("]", 1)[0]
    name, _, port = host.rpartition(":")
    return name if name and port.isdigit() else host


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
