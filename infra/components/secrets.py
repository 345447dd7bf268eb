"""Secrets Manager entries for the secrets the manifest names. Values are never here: the
deploy workflow writes them (``put-secret-value``) after this program declares the secret."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components import child
from infra.naming import slug

__all__ = ["Secrets", "SecretsArgs"]


@dataclass
class SecretsArgs:
    names: tuple[str, ...]
    path_prefix: str  # "toolkit/<app>-<stack>": keeps apps and stacks apart


class Secrets(pulumi.ComponentResource):
    arns: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: SecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("toolkit:secrets:Secrets", name, None, opts)
        self.arns = {}
        for secret in args.names:
            resource = aws.secretsmanager.Secret(
                f"{name}-{slug(secret)}",
                name=f"{args.path_prefix}/{secret}",
                description=f"toolkit secret {secret!r}; value set by `toolkit deploy`",
                # Deleted at once on destroy: a secret waiting out a recovery window keeps its
                # name, and a redeploy within that window would fail to create it again.
                # Values are set by `toolkit deploy` from the user's source, so nothing is lost.
                recovery_window_in_days=0,
                opts=child(self),
            )
            self.arns[secret] = resource.arn
        self.register_outputs({"arns": self.arns})
