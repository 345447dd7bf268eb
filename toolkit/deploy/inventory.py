"""``toolkit app list``: toolkit's stacks in a state store, with their endpoints.

Every stack of a ``toolkit-*`` project is an app deployment (names.py); other projects in a
shared state store are left out.  Listing reads state only, so it needs no AWS credentials.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from toolkit.deploy.names import PROJECT_PREFIX, StackName
from toolkit.deploy.outputs import DeployedEndpoint, parse_outputs
from toolkit.deploy.state_store import resolve_state_store
from toolkit.deploy.workspace import list_stacks, stack_outputs

__all__ = ["AppRow", "deployed_apps"]


@dataclass(frozen=True)
class AppRow:
    app: str
    stack: str
    resources: int | None
    last_update: str | None
    endpoints: tuple[DeployedEndpoint, ...]

    def to_json(self) -> dict[str, Any]:
        return {"app": self.app, "stack": self.stack, "resources": self.resources, "last_update": self.last_update,
                "endpoints": [e.to_json() for e in self.endpoints]}


def deployed_apps(state_url: str | None = None) -> list[AppRow]:
    summaries, workspace = list_stacks(resolve_state_store(state_url), {})
    rows: list[AppRow] = []
    for summary in summaries:
        name = StackName.parse(summary.name)
        if not name.project.startswith(PROJECT_PREFIX):
            continue
        deployed = parse_outputs(stack_outputs(workspace, summary.name))
        updated = summary.last_update.isoformat() if summary.last_update else None
        rows.append(AppRow(deployed.app or name.app, name.stack, summary.resource_count, updated, deployed.endpoints))
    return sorted(rows, key=lambda r: (r.app, r.stack))
