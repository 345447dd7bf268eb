"""Stack outputs (infra/stack.py ``_outputs``) read into plain types.

The Automation API hands back ``OutputValue`` objects (``.value``); ``pulumi stack output
--json`` plain JSON.  Both are accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DeployedApp", "DeployedEndpoint", "parse_outputs"]


@dataclass(frozen=True)
class DeployedEndpoint:
    tag: str
    url: str
    custom_urls: tuple[str, ...] = ()
    stream_url: str | None = None  # a Lambda endpoint's Function URL in RESPONSE_STREAM mode

    def to_json(self) -> dict[str, Any]:
        return {"function": self.tag, "url": self.url, "custom_domains": list(self.custom_urls),
                "stream_url": self.stream_url}


@dataclass(frozen=True)
class DeployedApp:
    app: str | None
    repository_url: str | None
    endpoints: tuple[DeployedEndpoint, ...] = ()
    log_groups: dict[str, str] = field(default_factory=dict)
    secret_arns: dict[str, str] = field(default_factory=dict)
    functions: tuple[str, ...] = ()
    # tag -> that function's outputs (backend, function_arn, alias_arn, state_machine_arn, task_definition_arn, ...)
    function_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    cluster_arn: str | None = None  # the app's ECS cluster, when it has ECS or GPU functions
    volume_bucket: str | None = None  # the app's volumes (kept by destroy unless --delete-volumes)
    proxy_ips: dict[str, str] = field(default_factory=dict)  # proxy name -> its Elastic IP (toolkit.Proxy)

    def endpoint(self, tag: str) -> DeployedEndpoint | None:
        return next((e for e in self.endpoints if e.tag == tag), None)

    def to_json(self) -> dict[str, Any]:
        return {"app": self.app, "repository_url": self.repository_url,
                "endpoints": [e.to_json() for e in self.endpoints], "functions": list(self.functions)}


def _plain(outputs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: getattr(v, "value", v) for k, v in outputs.items()}


def parse_outputs(outputs: Mapping[str, Any]) -> DeployedApp:
    plain = _plain(outputs)
    functions: dict[str, Any] = plain.get("functions") or {}
    custom: dict[str, list[str]] = plain.get("custom_domain_urls") or {}
    endpoints = tuple(
        DeployedEndpoint(tag, str(url), tuple(custom.get(tag) or ()), _stream_url(functions.get(tag)))
        for tag, url in sorted((plain.get("endpoints") or {}).items()) if url
    )
    return DeployedApp(
        app=plain.get("app"),
        repository_url=plain.get("repository_url"),
        endpoints=endpoints,
        log_groups={tag: f["log_group"] for tag, f in functions.items() if isinstance(f, dict) and f.get("log_group")},
        secret_arns=dict(plain.get("secrets") or {}),
        functions=tuple(sorted(functions)),
        function_outputs={tag: dict(f) for tag, f in functions.items() if isinstance(f, dict)},
        cluster_arn=plain.get("cluster_arn") or None,
        volume_bucket=plain.get("volume_bucket") or None,
        proxy_ips={str(k): str(v) for k, v in (plain.get("proxies") or {}).items()},
    )


def _stream_url(function: Any) -> str | None:
    url = function.get("stream_url") if isinstance(function, dict) else None
    return str(url) if url else None
