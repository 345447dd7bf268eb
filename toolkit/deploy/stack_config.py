"""The stack configuration a deploy hands the infra program (keys: infra/config.py).

Built in one place so that ``toolkit plan`` (mock runtime) and ``toolkit deploy`` (the
real engine) run the program on identical values.  Values are canonical JSON: the same app
gives the same config, so an unchanged redeploy changes nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from toolkit import config
from toolkit.deploy.target import Target

__all__ = ["HOSTED_ZONE_ENV", "stack_config"]

HOSTED_ZONE_ENV = "TOOLKIT_HOSTED_ZONE"


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def stack_config(
    manifest: Mapping[str, Any], target: Target, *, images: Mapping[str, str] | None = None,
    registry_only: bool = False,
) -> dict[str, str]:
    """``namespace:key`` -> plain string, as ``pulumi config set-all --plaintext`` takes them."""
    values = {
        "aws:region": target.region,
        "toolkit:region": target.region,
        "toolkit:manifest": _canonical(manifest),
        "toolkit:images": _canonical(dict(images or {})),
        "toolkit:registryOnly": "true" if registry_only else "false",
    }
    # Optional keys are always written, "" meaning unset (infra reads `get(key) or None`):
    # `set-all` never removes a key, so a domain dropped from the settings must be blanked.
    values["toolkit:baseDomain"] = config.setting("domain") or ""
    values["toolkit:hostedZone"] = os.environ.get(HOSTED_ZONE_ENV) or ""
    values["toolkit:emulatorEndpoint"] = target.endpoint or ""
    values["toolkit:proxyTokens"] = _canonical(_proxy_token_hashes(manifest))
    return values


def _proxy_token_hashes(manifest: Mapping[str, Any]) -> dict[str, str]:
    """Hashes of the tokens from `toolkit token create`, when an endpoint requires proxy auth.

    Read at deploy time: a token created or revoked later takes effect on the next deploy.
    """
    if not any((fn.get("web") or {}).get("requires_proxy_auth") for fn in manifest.get("functions") or ()):
        return {}
    from toolkit.serve.tokens import TokenStore

    return TokenStore().hashes()
