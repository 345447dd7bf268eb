"""Stack configuration: what ``pulumi config`` gives the program, read into plain types.

All keys live in the ``toolkit`` namespace (``pulumi config set toolkit:baseDomain ...``):

======================  ========================================================  ==============
key                     meaning                                                    default
======================  ========================================================  ==============
``manifest``            the app manifest: JSON text, or a path to a JSON file      required
``images``              JSON object: function tag -> image URI                    ``{}``
                        (``<repo>@sha256:<digest>``; the Lambda image / task image)
``registryOnly``        ``true``: declare only the ECR repository (first phase of  ``false``
                        a deploy, before any image is pushed)
``baseDomain``          domain of the workspace URLs ``<host>.<baseDomain>``       none
``hostedZone``          Route53 zone holding the base and custom domains           derived
``emulatorEndpoint``    one URL (``http://localhost:4566``) every AWS provider     none
                        is pointed at: LocalStack, moto server
``region``              default region (else ``aws:region``, else us-east-1)       ``us-east-1``
``rateLimit``           API Gateway steady rate per endpoint, requests/second       ``200``
``burstLimit``          API Gateway burst (``rateLimit`` x 5 s)                     ``1000``
``originReadTimeout``   CloudFront origin read timeout, seconds (60, up to 180     ``60``
                        after a quota increase)
``logRetentionDays``    CloudWatch log retention, one of CloudWatch's values        ``30``
``payloadExpiryDays``   days before the payload bucket expires call payloads       ``7``
``subnetIds``           subnets of ECS tasks and GPU instances (JSON list)          default VPC's
``vpcId``               their VPC (else read from the first subnet)                 default VPC
``albSubnetIds``        public subnets of the load balancer (JSON list), needed     ``subnetIds``
                        when ``subnetIds`` are private
``privateSubnets``      ``true``: ``subnetIds`` reach the internet through your     ``false``
                        NAT gateway, so tasks and GPU instances get no public IP
``architecture``        ``x86_64`` or ``arm64`` (Graviton) for Lambda and Fargate;  ``x86_64``
                        GPU functions always run x86_64
``gpuOnDemandPercent``  share of GPU capacity bought on demand above base           ``0``
``proxyTokens``         JSON object: token id -> sha256 hex of its secret, for       ``{}``
                        ``requires_proxy_auth`` endpoints (``toolkit token create``)
======================  ========================================================  ==============
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.manifest import ManifestError, load

__all__ = ["ARCHITECTURES", "LOG_RETENTION_DAYS", "ConfigError", "Settings", "load_manifest", "settings_from"]

Getter = Callable[[str], "str | None"]

# The only values CloudWatch Logs' PutRetentionPolicy accepts (API reference, retentionInDays).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                      2922, 3288, 3653)
ARCHITECTURES = ("x86_64", "arm64")  # Lambda's names; ECS says X86_64 / ARM64


class ConfigError(ValueError):
    """A stack configuration value that cannot be used; the message names key and fix."""


@dataclass(frozen=True)
class Settings:
    manifest: dict[str, Any]
    stack: str = "dev"
    images: dict[str, str] = field(default_factory=dict)
    registry_only: bool = False
    base_domain: str | None = None
    hosted_zone: str | None = None
    emulator_endpoint: str | None = None
    region: str = "us-east-1"
    rate_limit: float = 200.0
    burst_limit: int = 1000
    origin_read_timeout: int = 60
    log_retention_days: int = 30
    payload_expiry_days: int = 7
    vpc_id: str | None = None
    subnet_ids: tuple[str, ...] = ()
    gpu_on_demand_percent: int = 0
    alb_subnet_ids: tuple[str, ...] = ()  # empty: the ALB uses subnet_ids
    private_subnets: bool = False  # subnet_ids egress through the user's NAT: no public IPs
    architecture: str = "x86_64"
    # The Pulumi project; None (or toolkit-<app>, what `toolkit deploy` uses) keeps the names
    # <app>-<stack>-...; any other project (the repo's Pulumi.yaml: "toolkit") adds a short
    # hash of itself, so two states never declare the same AWS names.
    project: str | None = None
    # Only hashes: a secret never leaves the machine that created it.
    proxy_tokens: dict[str, str] = field(default_factory=dict)
    sandboxes: bool = False  # plan toolkit.Sandbox's AWS side (infra/components/sandboxes.py)


def load_manifest(value: str) -> dict[str, Any]:
    """``value`` is the manifest JSON itself or a path to it."""
    text = value if value.lstrip().startswith("{") else _read(value)
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"toolkit:manifest is not valid JSON ({exc}); run `toolkit manifest app.py`") from None
    try:
        load(manifest)  # the schema: schema_version and every field, checked before any resource is planned
    except ManifestError as exc:
        raise ConfigError(f"toolkit:manifest: {exc}") from None
    return dict(manifest)


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"toolkit:manifest: cannot read {path!r} ({exc.strerror}); pass JSON or a path") from None


def _json(get: Getter, key: str, default: Any) -> Any:
    raw = get(key)
    if raw is None or raw == "":
        return default
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        raise ConfigError(f"toolkit:{key} must be JSON, got {raw!r}") from None


def _number(get: Getter, key: str, default: float) -> float:
    raw = get(key)
    try:
        return default if raw in (None, "") else float(raw)
    except ValueError:
        raise ConfigError(f"toolkit:{key} must be a number, got {raw!r}") from None


def _choice(get: Getter, key: str, allowed: tuple[Any, ...], default: Any) -> Any:
    raw = get(key)
    if raw in (None, ""):
        return default
    value = type(default)(raw) if isinstance(default, int) and str(raw).isdigit() else raw
    if value not in allowed:
        choices = ", ".join(str(a) for a in allowed)
        raise ConfigError(f"toolkit:{key} is {raw!r}; use one of {choices}")
    return value


def _network_keys(get: Getter) -> dict[str, Any]:
    vpc_id, subnets = get("vpcId") or None, tuple(_json(get, "subnetIds", []))
    if vpc_id and not subnets:
        raise ConfigError(
            f"toolkit:vpcId is {vpc_id!r} but toolkit:subnetIds is not set; set the subnets of that VPC "
            "the tasks run in (JSON list), or neither to use the account's default VPC"
        )
    return {
        "vpc_id": vpc_id,
        "subnet_ids": subnets,
        "alb_subnet_ids": tuple(_json(get, "albSubnetIds", [])),
        "private_subnets": str(get("privateSubnets") or "false").lower() == "true",
    }


def settings_from(get: Getter, stack: str = "dev", default_region: str | None = None,
                  project: str | None = None) -> Settings:
    """Read every ``toolkit:`` key through ``get`` (``pulumi.Config('toolkit').get``)."""
    manifest_value = get("manifest")
    if not manifest_value:
        raise ConfigError("toolkit:manifest is not set; `pulumi config set toolkit:manifest <path or JSON>`")
    return Settings(
        manifest=load_manifest(manifest_value),
        stack=stack,
        images=dict(_json(get, "images", {})),
        registry_only=str(get("registryOnly") or "false").lower() == "true",
        base_domain=get("baseDomain") or None,
        hosted_zone=get("hostedZone") or None,
        emulator_endpoint=get("emulatorEndpoint") or None,
        region=get("region") or default_region or "us-east-1",
        rate_limit=_number(get, "rateLimit", 200.0),
        burst_limit=int(_number(get, "burstLimit", 1000)),
        origin_read_timeout=int(_number(get, "originReadTimeout", 60)),
        log_retention_days=_choice(get, "logRetentionDays", LOG_RETENTION_DAYS, 30),
        payload_expiry_days=int(_number(get, "payloadExpiryDays", 7)),
        **_network_keys(get),
        architecture=_choice(get, "architecture", ARCHITECTURES, "x86_64"),
        project=project,
        gpu_on_demand_percent=int(_number(get, "gpuOnDemandPercent", 0)),
        proxy_tokens={str(k): str(v) for k, v in dict(_json(get, "proxyTokens", {})).items()},
        sandboxes=str(get("sandboxes") or "false").lower() == "true",
    )
