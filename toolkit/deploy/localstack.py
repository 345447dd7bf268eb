"""``--target localstack``: which AWS services the app needs, and whether the endpoint offers them.

LocalStack's editions differ in what they emulate: the free (community) edition has no ECR,
API Gateway v2, ECS, ELBv2 or CloudFront, and runs no Lambda container images, so most toolkit
apps cannot deploy there.  Instead of letting ``pulumi up`` fail half-way on the first
missing API, the deploy asks the endpoint (``GET /_localstack/health``: its edition and each
service's state) before any resource changes, and names every missing piece and why the app
needs it.  ``needed_services`` is a pure function of the manifest (see docs/deploy.md for the
table per edition).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runtime.manifest import FunctionEntry, load
from toolkit.deploy.errors import DeployError
from toolkit.deploy.target import Target

__all__ = ["HEALTH_PATH", "LAMBDA_IMAGES", "EndpointServices", "check_localstack", "missing_services",
           "needed_services", "read_health"]

HEALTH_PATH = "/_localstack/health"
LAMBDA_IMAGES = "lambda container images"  # a feature, not a service: Pro editions only
_OFFERED = {"available", "running", "initialized"}
_HEALTH_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class EndpointServices:
    """What ``/_localstack/health`` reported."""

    edition: str  # "community", "pro", ... ("unknown" when not reported)
    services: frozenset[str]

    def offers(self, service: str) -> bool:
        if service == LAMBDA_IMAGES:
            return self.edition not in ("community", "unknown") and "lambda" in self.services
        return service in self.services


def _add(needs: dict[str, str], why: str, *services: str) -> None:
    for service in services:
        needs.setdefault(service, why)


def needed_services(manifest: Mapping[str, Any], *, base_domain: str | None = None) -> dict[str, str]:
    """Service (botocore name, as LocalStack reports it) -> the first reason the app needs it."""
    needs: dict[str, str] = {}
    _add(needs, "every app: image registry, call store, IAM roles, logs",
         "ecr", "iam", "sts", "s3", "dynamodb", "logs", "stepfunctions")
    _add(needs, "every app: the call map lookups read (an SSM parameter)", "ssm")
    for fn in load(manifest).functions:
        _function_needs(needs, fn, base_domain)
    return needs


def _function_needs(needs: dict[str, str], fn: FunctionEntry, base_domain: str | None) -> None:
    tag, backend, web = fn.tag, fn.backend, fn.web
    if fn.secrets:
        _add(needs, f"{tag}: secrets", "secretsmanager")
    if fn.schedule is not None:
        _add(needs, f"{tag}: schedule (EventBridge Scheduler, dead letters in SQS)", "scheduler", "sqs")
    if backend == "lambda":
        _add(needs, f"{tag}: runs on Lambda from a container image", "lambda", LAMBDA_IMAGES)
        if web:
            _add(needs, f"{tag}: web endpoint on an HTTP API", "apigatewayv2")
    else:
        _add(needs, f"{tag}: runs on ECS ({backend})", "ecs", "ec2")
        if web:
            _add(needs, f"{tag}: web endpoint behind a load balancer", "elbv2")
        if backend == "gpu":
            _add(needs, f"{tag}: GPU instances", "autoscaling", "ssm")
    if web and (web.custom_domains or base_domain):
        _add(needs, f"{tag}: domain names", "cloudfront", "route53", "acm")


def missing_services(needs: Mapping[str, str], offered: EndpointServices) -> dict[str, str]:
    return {service: why for service, why in needs.items() if not offered.offers(service)}


def read_health(endpoint: str) -> EndpointServices:
    url = endpoint.rstrip("/") + HEALTH_PATH
    try:
        with urllib.request.urlopen(url, timeout=_HEALTH_TIMEOUT_S) as response:  # noqa: S310 (user's endpoint)
            body = json.loads(response.read() or b"{}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise DeployError(f"LocalStack is not answering at {endpoint} ({_reason(exc)}); start it (`localstack "
                          "start`) or set LOCALSTACK_ENDPOINT to its URL.") from None
    services = body.get("services") if isinstance(body, dict) else None
    if not isinstance(services, dict):
        raise DeployError(f"{url} did not answer LocalStack's health document; is {endpoint} a LocalStack "
                          "endpoint? Set LOCALSTACK_ENDPOINT to it.")
    offered = frozenset(name for name, state in services.items() if str(state) in _OFFERED)
    return EndpointServices(str(body.get("edition") or "unknown"), offered)


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "reason", None) or exc)


def check_localstack(target: Target, manifest: Mapping[str, Any], *, base_domain: str | None = None) -> None:
    """Raise, naming each missing service and why the app needs it, before any resource changes."""
    assert target.endpoint is not None
    if base_domain is None:
        from toolkit import config

        base_domain = config.setting("domain") or None
    offered = read_health(target.endpoint)
    missing = missing_services(needed_services(manifest, base_domain=base_domain), offered)
    if not missing:
        return
    listed = "; ".join(f"{service} ({why})" for service, why in sorted(missing.items()))
    raise DeployError(
        f"The LocalStack at {target.endpoint} ({offered.edition} edition) lacks what this app needs: {listed}. "
        "Nothing was deployed. Use a LocalStack edition that offers them (see docs/deploy.md, 'LocalStack'), "
        "or deploy to AWS (--target aws).")
