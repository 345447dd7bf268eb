"""The hosted platform's ``Sandbox.create``/``exec`` options toolkit cannot honour, refused when given.

A program written for the platform passes them by name, so every one is accepted at its default and
refused (`NotSupportedError`) only when set to something toolkit would silently not do: each
message names the option, its value, why, and the nearest alternative.  ``cloud`` and ``region``
are honoured where they describe where the sandbox really runs: on AWS, ``cloud="aws"`` and the
deploy's own region; locally (this machine), neither.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from toolkit.exception import NotSupportedError
from toolkit.options import region_agrees
from toolkit.unsupported import no_client, refusal

__all__ = ["PlatformOptions", "refuse_exec_pty_info"]

Where = Literal["local", "aws"]


def _refuse(option: str, value: Any, why: str, instead: str) -> NotSupportedError:
    return NotSupportedError(refusal(f"Sandbox.create({option}={value!r})", why, instead))


@dataclass(frozen=True)
class PlatformOptions:
    """The platform's create options beyond what toolkit implements, as given."""

    network_file_systems: Mapping[Any, Any] | None = None
    cloud: str | None = None
    region: str | Sequence[str] | None = None
    runtime: str | None = None
    outbound_policy: Any = None
    pty: bool = False
    custom_domain: str | None = None
    proxy: Any = None
    include_oidc_identity_token: bool = False
    experimental_options: Mapping[str, Any] | None = None
    enable_snapshot: bool = False
    persistent: bool = False
    client: Any = None
    pty_info: Any = None

    def check(self, where: Where) -> None:
        """Raise for the first option that cannot be honoured ``where`` the sandbox would run."""
        no_client("Sandbox.create", self.client)
        self._placement(where)
        self._features()

    def _placement(self, where: Where) -> None:
        deploy_region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if self.cloud is not None and (where == "local" or self.cloud.lower() != "aws"):
            place = "this machine (a local sandbox)" if where == "local" else "AWS (your account)"
            raise _refuse("cloud", self.cloud, f"the sandbox runs on {place}", "leave cloud unset")
        regions = [self.region] if isinstance(self.region, str) else list(self.region or ())
        agrees = deploy_region is not None and any(  # a prefix ("us-east") agrees, as for @app.function(region=)
            isinstance(r, str) and region_agrees(r.strip().lower(), deploy_region) for r in regions)
        if regions and (where == "local" or not agrees):
            place = "this machine" if where == "local" else f"the app's deploy region {deploy_region!r}"
            raise _refuse("region", self.region, f"the sandbox runs in {place}",
                          "leave region unset, or deploy the app to the region you need")
        if self.runtime is not None and not (where == "aws" and self.runtime == "vm"):
            isolation = "a podman/docker container" if where == "local" else "a Fargate task (its own microVM)"
            raise _refuse("runtime", self.runtime, f"the isolation is {isolation}", "leave runtime unset")

    def _features(self) -> None:
        refusals = (
            ("network_file_systems", bool(self.network_file_systems), "there are no NetworkFileSystems",
             "pass a toolkit.Volume with volumes={path: volume}"),
            ("_experimental_outbound_policy", self.outbound_policy is not None, "outbound policies are not built",
             "use block_network=True or outbound_cidr_allowlist=[...]"),
            ("pty", bool(self.pty), "sandboxes have no pseudo-terminal", "run commands with sb.exec(...) and its "
             "stdin/stdout"),
            ("custom_domain", self.custom_domain is not None, "sandbox ports get no domain of their own",
             "use sb.tunnels()[port].url"),
            ("proxy", self.proxy is not None, "a static egress IP is given to functions, not sandboxes",
             "make the outbound calls from a function with @app.function(proxy=...)"),
            ("include_oidc_identity_token", bool(self.include_oidc_identity_token),
             "toolkit issues no OIDC identity tokens", "pass credentials with secrets=[toolkit.Secret...]"),
            ("experimental_options", bool(self.experimental_options), "the platform's experimental options have no "
             "toolkit meaning", "leave experimental_options unset"),
            ("_experimental_enable_snapshot", bool(self.enable_snapshot), "memory snapshots of a sandbox are not "
             "taken", "use sb.snapshot_filesystem() and create a new sandbox from the Image it returns"),
            ("_experimental_persistent", bool(self.persistent), "a sandbox ends at its timeout",
             "keep state in a toolkit.Volume (volumes=) and create a new sandbox"),
            ("pty_info", self.pty_info is not None, "sandboxes have no pseudo-terminal",
             "run commands with sb.exec(...) and its stdin/stdout"),
        )
        for option, given, why, instead in refusals:
            if given:
                raise _refuse(option, _shown(self, option), why, instead)


def _shown(options: PlatformOptions, option: str) -> Any:
    field = {"_experimental_outbound_policy": "outbound_policy", "_experimental_enable_snapshot": "enable_snapshot",
             "_experimental_persistent": "persistent"}.get(option, option)
    return getattr(options, field)


def refuse_exec_pty_info(pty_info: Any, legacy_pty_info: Any) -> None:
    """``exec(pty_info=...)``/``_pty_info=``: a pseudo-terminal, which toolkit's exec never has."""
    for option, value in (("pty_info", pty_info), ("_pty_info", legacy_pty_info)):
        if value is not None:
            raise NotSupportedError(refusal(f"Sandbox.exec({option}={value!r})", "exec has no pseudo-terminal",
                                            "run the command without it and use the process's stdin/stdout"))
