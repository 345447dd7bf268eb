"""What a stack's *state* (``pulumi stack export``) says is deployed, as opposed to its outputs.

Decisions that could destroy resources are taken from the state, never from outputs alone:
a Pulumi CLI may leave a stack without outputs after a failed update while every resource
still exists.  Deciding "no ``repository_url`` output, so this is a first deploy" from the
outputs would run the registry-only phase, whose program declares one repository: an
untargeted ``up`` of it deletes everything else.  The state lists the resources themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ECR_REPOSITORY", "REGISTRY_COMPONENT", "StackState", "StateResource", "registry_targets"]

ECR_REPOSITORY = "aws:ecr/repository:Repository"
_BOOKKEEPING = ("pulumi:pulumi:Stack", "pulumi:providers:")


@dataclass(frozen=True)
class StateResource:
    urn: str
    type: str
    outputs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_bookkeeping(self) -> bool:
        """The stack resource and providers: present in a stack that owns no AWS resource."""
        return self.type.startswith(_BOOKKEEPING)


@dataclass(frozen=True)
class StackState:
    resources: tuple[StateResource, ...] = ()

    @staticmethod
    def from_deployment(deployment: Mapping[str, Any] | None) -> StackState:
        """``deployment`` is the ``deployment`` object of ``pulumi stack export`` (None: never deployed)."""
        rows = (deployment or {}).get("resources") or ()
        return StackState(tuple(StateResource(str(r.get("urn", "")), str(r.get("type", "")),
                                              dict(r.get("outputs") or {})) for r in rows))

    @property
    def owns_resources(self) -> bool:
        return any(not r.is_bookkeeping for r in self.resources)

    @property
    def repository_url(self) -> str | None:
        """The app's ECR repository URL, read from the repository resource itself."""
        for resource in self.resources:
            if resource.type == ECR_REPOSITORY and resource.outputs.get("repositoryUrl"):
                return str(resource.outputs["repositoryUrl"])
        return None


REGISTRY_COMPONENT = "toolkit:registry:Registry"  # infra/components/registry.py


def registry_targets(stack: str, project: str) -> list[str]:
    """``--target`` URN globs that restrict an update to the image repository, its parent
    component and the AWS providers it is created with (Pulumi's globs: ``**`` any characters,
    ``*`` any but ``:``).

    A targeted update creates, updates or deletes nothing outside its targets, so the
    registry-only program can run on a stack that already holds other resources.  The parent
    and the providers are targeted too: an untargeted parent or provider that does not exist
    yet would leave the repository nothing to be created under.
    """
    head = f"urn:pulumi:{stack}::{project}::"
    return [f"{head}**{ECR_REPOSITORY}::*", f"{head}{REGISTRY_COMPONENT}::*", f"{head}**pulumi:providers:aws::*"]
