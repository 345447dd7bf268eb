"""Errors of the deploy workflow, and the map from Pulumi/AWS failure text to them.

Every message is one line that says what failed and what to do; the CLI boundary
(`toolkit.cli.ToolkitGroup`) prints it and exits 1.  Pulumi reports provider failures as
free text (``error: ... api error InsufficientInstanceCapacity: ...``), so the few
failures a user can act on are recognised by the AWS error codes they carry.
"""

from __future__ import annotations

import re

from toolkit.exception import Error, NotFoundError

__all__ = [
    "PULUMI_INSTALL_HINT",
    "CapacityError",
    "CredentialsError",
    "DeployError",
    "HostedZoneError",
    "NotDeployedError",
    "PulumiNotInstalledError",
    "RegionError",
    "from_pulumi_failure",
]

PULUMI_INSTALL_HINT = (
    "install it with `curl -fsSL https://get.pulumi.com | sh` (then open a new shell or add "
    "~/.pulumi/bin to PATH); see https://www.pulumi.com/docs/iac/download-install/"
)
CREDENTIALS_HINT = (
    "run `aws configure` (or `aws sso login`), or set AWS_PROFILE / AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY; for LocalStack pass --target localstack"
)


class DeployError(Error):
    """A deploy, preview, destroy or stack lookup failed."""


class PulumiNotInstalledError(DeployError):
    def __init__(self) -> None:
        super().__init__(f"The Pulumi CLI (`pulumi`) is not on PATH; {PULUMI_INSTALL_HINT}.")


class CredentialsError(DeployError):
    def __init__(self, detail: str = "no AWS credentials were found") -> None:
        super().__init__(f"Cannot deploy to AWS: {detail}; {CREDENTIALS_HINT}.")


class RegionError(DeployError):
    def __init__(self) -> None:
        super().__init__(
            "No AWS region is configured; pass --region us-east-1, set AWS_REGION, "
            "or run `aws configure set region us-east-1`."
        )


class CapacityError(DeployError):
    """AWS has no GPU capacity for the instance types asked for, or the account quota is too low."""


class HostedZoneError(DeployError):
    """A base or custom domain has no Route53 hosted zone in the account."""


class NotDeployedError(DeployError, NotFoundError):
    """The app has no stack (in this environment and state store)."""


_CAPACITY = re.compile(
    r"InsufficientInstanceCapacity|insufficient capacity|VcpuLimitExceeded|MaxSpotInstanceCountExceeded"
    r"|Max spot instance count exceeded|InstanceLimitExceeded|SpotMaxPriceTooLow"
    r"|not supported in your requested Availability Zone",
    re.IGNORECASE,
)
_QUOTA = re.compile(r"VcpuLimitExceeded|InstanceLimitExceeded|Max spot instance count exceeded|"
                    r"MaxSpotInstanceCountExceeded", re.IGNORECASE)
_INSTANCE_TYPE = re.compile(r"\b([a-z][a-z0-9]*\d[a-z0-9]*\.(?:\d*x?large|metal|medium|small))\b")
_ZONE = re.compile(
    r"no matching Route ?53 ?(?:Hosted )?Zone found|NoSuchHostedZone|no matching Route53Zone",
    re.IGNORECASE,
)
_ZONE_NAME = re.compile(r"(?:name|zone)[^\w]{0,3}\"?([a-z0-9-]+(?:\.[a-z0-9-]+)+)\"?", re.IGNORECASE)
_CREDENTIALS = re.compile(
    r"NoCredentialProviders|no valid credential sources|InvalidClientTokenId|ExpiredToken|"
    r"UnrecognizedClientException|failed to refresh cached credentials",
    re.IGNORECASE,
)
_REGION = re.compile(r"MissingRegion|missing region|could not find region", re.IGNORECASE)
_ERROR_LINE = re.compile(r"^\s*error:\s*(.+)$", re.MULTILINE)


def _capacity(text: str, region: str | None) -> CapacityError:
    found = _INSTANCE_TYPE.search(text)
    what = f" for {found.group(1)}" if found else ""
    where = f" in {region}" if region else ""
    if _QUOTA.search(text):
        return CapacityError(
            f"AWS refused GPU instances{what}{where}: the account's quota is too low; request more vCPUs "
            "for 'Running On-Demand G and VT instances' / 'All G and VT Spot Instance Requests' in Service "
            "Quotas, or choose another GPU (gpu=\"T4\", \"L4\", \"A10G\") or another region (--region us-west-2)."
        )
    return CapacityError(
        f"AWS has no GPU capacity{what}{where} right now; choose another GPU type (gpu=\"T4\", \"L4\", "
        "\"A10G\" or gpu=\"any\"), or deploy to another region (--region us-west-2, us-east-2), then retry."
    )


def _zone(text: str) -> HostedZoneError:
    found = _ZONE_NAME.search(text)
    zone = f" for {found.group(1)!r}" if found else ""
    return HostedZoneError(
        f"No Route53 hosted zone{zone} in this AWS account; create it (`aws route53 create-hosted-zone "
        "--name example.com --caller-reference $(date +%s)`) and delegate the domain to its name servers, "
        "or set TOOLKIT_HOSTED_ZONE to the zone that holds your domains."
    )


def summarize(text: str) -> str:
    """The first ``error:`` line Pulumi printed, squeezed to one line."""
    found = _ERROR_LINE.findall(text)
    line = next((f for f in found if not f.startswith("update failed")), found[0] if found else "")
    line = line or next((ln for ln in text.splitlines() if ln.strip()), "unknown failure")
    return " ".join(line.split())[:400]


def from_pulumi_failure(text: str, *, operation: str, region: str | None = None) -> DeployError:
    """The domain error for a failed ``pulumi`` command, given all it printed."""
    if _CAPACITY.search(text):
        return _capacity(text, region)
    if _ZONE.search(text):
        return _zone(text)
    if _CREDENTIALS.search(text):
        return CredentialsError(f"AWS rejected the credentials ({summarize(text)})")
    if _REGION.search(text):
        return RegionError()
    return DeployError(f"pulumi {operation} failed: {summarize(text)}. Fix the cause and run it again.")
