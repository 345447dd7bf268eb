"""Platform names with no meaning outside the hosted platform: its API client, workspaces,
environments, clusters, placement and interactive containers.  Each refuses when used (never at
import) and names what to use on toolkit instead (`toolkit.unsupported`)."""

# mypy: disable-error-code="empty-body"
# (refusals keep the platform's signatures; `toolkit.unsupported.not_supported` replaces their bodies)

from __future__ import annotations

from typing import Any, NoReturn

from toolkit.unsupported import UnsupportedClass, not_supported, refusal

_NO_SERVICE = "toolkit talks to your AWS account and the local machine, not to a hosted control plane"


class Client(UnsupportedClass):
    """The platform's API client."""

    __toolkit_not_supported__ = refusal(
        "toolkit.Client", _NO_SERVICE, "leave client= unset (None); credentials come from your AWS "
        "profile (AWS_PROFILE) when deploying, and local runs need none")

    def __init__(self, server_url: str, client_type: Any, credentials: tuple[str, str] | None,
                 version: str = "", *, oauth_credentials: Any = None) -> None: ...


class Workspace(UnsupportedClass):
    """The platform's workspace (an account on the hosted service)."""

    __toolkit_not_supported__ = refusal(
        "toolkit.Workspace", "a toolkit deployment belongs to your AWS account, not to a workspace",
        "use `toolkit doctor` to see the account and region toolkit deploys to")

    def __init__(self) -> None: ...


class Environment(UnsupportedClass):
    """The platform's environment object (dev/prod partitions of a workspace)."""

    __toolkit_not_supported__ = refusal(
        "toolkit.Environment", "toolkit's environments are deploy stages, not service objects",
        "pass environment_name= (toolkit's stage) or `toolkit deploy --env NAME`")

    def __init__(self) -> None: ...


class Cluster(UnsupportedClass):
    """A group of containers scheduled together (the platform's multi-node clusters)."""

    __toolkit_not_supported__ = refusal(
        "toolkit.Cluster", "toolkit schedules no gang of networked GPU hosts (no RDMA/i6pn fabric)",
        "run one container per call (gpu='H100:8' on one host) or orchestrate nodes with spawn()/Queue")

    def __init__(self, *args: Any, **kwargs: Any) -> None: ...


class SchedulerPlacement(UnsupportedClass):
    """The platform's experimental placement constraints (region, zone, spot, instance type)."""

    __toolkit_not_supported__ = refusal(
        "toolkit.SchedulerPlacement", "placement is decided by the AWS region you deploy to and by "
        "toolkit's backends", "set the region with AWS_REGION at deploy time; GPU functions use spot "
        "with on-demand fallback already")

    def __init__(self, region: str | list[str] | None = None, zone: str | None = None,
                 spot: bool | None = None, instance_type: str | list[str] | None = None) -> None: ...


@not_supported("@toolkit.clustered", "toolkit schedules no gang of networked GPU hosts",
               "use one host (gpu='H100:8') or fan out with Function.map/spawn")
def clustered(*, size: int, rdma: bool = False) -> NoReturn: ...


@not_supported("toolkit.interact()", "toolkit's containers have no interactive terminal attached",
               "debug locally with `toolkit run` (your functions run as local processes) or use a "
               "toolkit.Sandbox and Sandbox.exec")
def interact() -> NoReturn: ...


@not_supported("@toolkit.sessioned()", "toolkit routes no sticky sessions to a server's containers",
               "keep session state in a toolkit.Dict keyed by a session id")
def sessioned() -> NoReturn: ...
