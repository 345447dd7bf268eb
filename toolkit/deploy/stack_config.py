"""The stack configuration a deploy hands the infra program (keys: infra/config.py).

Built in one place so that ``toolkit plan`` (mock runtime) and ``toolkit deploy`` (the
real engine) run the program on identical values.  Values are canonical JSON: the same app
gives the same config, so an unchanged redeploy changes nothing.

A deploy passes the manifest as a *file* (``toolkit:manifest`` = its path; infra/config.py
reads JSON or a path): the Automation API sets config with one ``pulumi config set-all
--plaintext KEY=VALUE`` command line, and Linux refuses any single argument over 128 KiB
(``MAX_ARG_STRLEN``), which an app with many functions or a large image spec reaches.  The
file is named by its content's hash, so a changed manifest is a changed config value.

The manifest is read through its schema (`runtime.manifest`) like every other reader: a
malformed one is refused here, naming the field, before Pulumi runs.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime import manifest as schema
from toolkit import config
from toolkit.deploy.errors import DeployError
from toolkit.deploy.target import Target
from toolkit.images.builders.platform import architecture

__all__ = ["HOSTED_ZONE_ENV", "NETWORK_ENV", "SANDBOXES_ENV", "Network", "network", "sandboxes_planned", "stack_config",
           "write_manifest"]

HOSTED_ZONE_ENV = "TOOLKIT_HOSTED_ZONE"
SANDBOXES_ENV = "TOOLKIT_SANDBOXES"  # "true"/"false": plan toolkit.Sandbox's AWS side or not (docs/sandboxes.md)
# A VPC of the user's instead of the account's default one (infra/config.py's network keys).
NETWORK_ENV = {"vpc_id": "TOOLKIT_VPC_ID", "subnet_ids": "TOOLKIT_SUBNET_IDS",
               "alb_subnet_ids": "TOOLKIT_ALB_SUBNET_IDS", "private_subnets": "TOOLKIT_PRIVATE_SUBNETS"}


@dataclass(frozen=True)
class Network:
    """Where ECS tasks, GPU instances and the load balancer go; empty: the default VPC."""

    vpc_id: str | None = None
    subnet_ids: tuple[str, ...] = ()
    alb_subnet_ids: tuple[str, ...] = ()
    private_subnets: bool = False

    @property
    def configured(self) -> bool:
        return bool(self.vpc_id or self.subnet_ids)


def _ids(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def network(env: Mapping[str, str] | None = None) -> Network:
    """From ``TOOLKIT_VPC_ID``, ``TOOLKIT_SUBNET_IDS`` / ``TOOLKIT_ALB_SUBNET_IDS`` (comma-separated)
    and ``TOOLKIT_PRIVATE_SUBNETS`` (``true``: tasks reach the internet through your NAT)."""
    source = os.environ if env is None else env
    return Network(source.get(NETWORK_ENV["vpc_id"]) or None, _ids(source.get(NETWORK_ENV["subnet_ids"])),
                   _ids(source.get(NETWORK_ENV["alb_subnet_ids"])),
                   (source.get(NETWORK_ENV["private_subnets"]) or "").lower() == "true")


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def write_manifest(manifest: Mapping[str, Any], directory: Path) -> Path:
    """``directory/manifest-<sha256[:16]>.json``, the only manifest file left there."""
    text = _canonical(manifest)
    path = directory / f"manifest-{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"
    directory.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        staging = path.with_suffix(".tmp")
        staging.write_text(text)
        staging.replace(path)  # atomic: a concurrent preview never reads half a manifest
    for stale in directory.glob("manifest-*.json"):
        if stale != path:
            stale.unlink(missing_ok=True)
    return path


def sandboxes_planned(manifest: Mapping[str, Any] | schema.Manifest) -> bool:
    """Whether the deploy plans the AWS side of ``toolkit.Sandbox``: ``TOOLKIT_SANDBOXES=true``/``false``
    decides when set; otherwise the app's code does (its manifest's ``uses_sandboxes``), so a program
    that creates sandboxes deploys them without a switch and one that does not plans nothing."""
    chosen = (os.environ.get(SANDBOXES_ENV) or "").strip().lower()
    if chosen in ("true", "false"):
        return chosen == "true"
    if chosen:
        raise DeployError(f"{SANDBOXES_ENV}={chosen!r} is neither true nor false; unset it to follow the app's code.")
    typed = manifest if isinstance(manifest, schema.Manifest) else schema.load(manifest)
    return typed.uses_sandboxes


def stack_config(
    manifest: Mapping[str, Any], target: Target, *, images: Mapping[str, str] | None = None,
    registry_only: bool = False, manifest_dir: Path | None = None,
) -> dict[str, str]:
    """``namespace:key`` -> plain string, as ``pulumi config set-all --plaintext`` takes them.

    ``manifest`` is the JSON form the writer made (it is passed on as is, canonically); with
    ``manifest_dir`` it goes into a file there and the config holds its path.
    """
    typed = schema.load(manifest)
    values = {
        "aws:region": target.region,
        "toolkit:region": target.region,
        "toolkit:manifest": str(write_manifest(manifest, manifest_dir)) if manifest_dir else _canonical(manifest),
        "toolkit:images": _canonical(dict(images or {})),
        "toolkit:registryOnly": "true" if registry_only else "false",
    }
    # Optional keys are always written, "" meaning unset (infra reads `get(key) or None`):
    # `set-all` never removes a key, so a domain dropped from the settings must be blanked.
    values["toolkit:baseDomain"] = config.setting("domain") or ""
    values["toolkit:hostedZone"] = os.environ.get(HOSTED_ZONE_ENV) or ""
    values["toolkit:emulatorEndpoint"] = target.endpoint or ""
    values["toolkit:proxyTokens"] = _canonical(_proxy_token_hashes(typed))
    net = network()
    values["toolkit:vpcId"] = net.vpc_id or ""
    values["toolkit:subnetIds"] = _canonical(list(net.subnet_ids)) if net.subnet_ids else ""
    values["toolkit:albSubnetIds"] = _canonical(list(net.alb_subnet_ids)) if net.alb_subnet_ids else ""
    values["toolkit:privateSubnets"] = "true" if net.private_subnets else ""
    values["toolkit:sandboxes"] = "true" if sandboxes_planned(typed) else ""
    # The images are built for this architecture (builders/platform.py); Lambda and ECS must match.
    values["toolkit:architecture"] = architecture()
    return values


def _proxy_token_hashes(manifest: schema.Manifest) -> dict[str, str]:
    """Hashes of the tokens from `toolkit token create`, when an endpoint requires proxy auth.

    Read at deploy time: a token created or revoked later takes effect on the next deploy.
    """
    if not any(fn.web is not None and fn.web.requires_proxy_auth for fn in manifest.functions):
        return {}
    from toolkit.serve.tokens import TokenStore

    return TokenStore().hashes()
