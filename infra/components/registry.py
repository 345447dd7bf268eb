"""ECR repository for the app's images: scanned on push, old images expired."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components import child, to_json
from infra.policies import ecr_lambda_pull

__all__ = ["LIFECYCLE_POLICY", "ContainerRegistry", "RegistryArgs"]

# Untagged layers from rebuilt tags go after a day; keep the newest 50 images for rollbacks.
LIFECYCLE_POLICY = {
    "rules": [
        {
            "rulePriority": 1,
            "description": "expire untagged images",
            "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 1},
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 2,
            "description": "keep the newest 50 images",
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 50},
            "action": {"type": "expire"},
        },
    ]
}


@dataclass
class RegistryArgs:
    repository_name: str
    function_prefix: str  # Lambda functions named "<prefix>-*" may pull
    region: str
    account_id: pulumi.Input[str]


class ContainerRegistry(pulumi.ComponentResource):
    repository: aws.ecr.Repository

    def __init__(self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("toolkit:registry:Registry", name, None, opts)  # the type token stays: it is in stacks' URNs
        self.repository = aws.ecr.Repository(
            f"{name}-repo",
            name=args.repository_name,
            image_scanning_configuration={"scan_on_push": True},
            # Tags are image spec hashes; a rebuilt local file may legitimately re-push one.
            image_tag_mutability="MUTABLE",
            encryption_configurations=[{"encryption_type": "AES256"}],
            # `toolkit destroy` must be able to remove a repository that still holds images;
            # they are build outputs, rebuilt from the app's source on the next deploy.
            force_delete=True,
            opts=child(self),
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle", repository=self.repository.name, policy=json.dumps(LIFECYCLE_POLICY), opts=child(self)
        )
        policy = pulumi.Output.from_input(args.account_id).apply(
            lambda account: ecr_lambda_pull(args.region, account, args.function_prefix)
        )
        aws.ecr.RepositoryPolicy(f"{name}-policy", repository=self.repository.name, policy=to_json(policy), opts=child(self))
        self.register_outputs({"repository_url": self.repository.repository_url, "repository_arn": self.repository.arn})
