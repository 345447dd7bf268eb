"""Physical names for AWS resources.

AWS caps name lengths per service (ALB and target groups at 32 characters, Lambda and IAM
roles at 64) and several services only accept ``[A-Za-z0-9-]``. Names built here are stable
across deploys (no random suffix) because other names are derived from them before the
resources exist: the Lambda log group, the state machine ARN a function starts.
"""

from __future__ import annotations

import hashlib
import re

__all__ = ["ALB_NAME_MAX", "ALB_RESERVED_PREFIXES", "CAPACITY_PROVIDER_RESERVED_PREFIXES", "LAMBDA_NAME_MAX",
           "ROLE_NAME_MAX", "partition", "physical_name", "slug", "unreserved_name"]

ALB_NAME_MAX = 32
LAMBDA_NAME_MAX = 64
ROLE_NAME_MAX = 64

# Heads AWS refuses (the APIs' own documentation, botocore's models): an app named "ecs-jobs" or
# "internal-tools" must still deploy.
CAPACITY_PROVIDER_RESERVED_PREFIXES = ("aws", "ecs", "fargate")  # ECS CreateCapacityProvider
ALB_RESERVED_PREFIXES = ("internal-",)  # ELBv2 CreateLoadBalancer
RESERVED_ESCAPE = "tk"

_NOT_ALLOWED = re.compile(r"[^a-z0-9-]+")


def slug(text: str) -> str:
    """Lower-case ``text`` to ``[a-z0-9-]``: ``Model.generate`` -> ``model-generate``."""
    cleaned = _NOT_ALLOWED.sub("-", text.lower()).strip("-")
    return re.sub("-{2,}", "-", cleaned) or "x"


def physical_name(*parts: str, max_len: int = LAMBDA_NAME_MAX) -> str:
    """Join ``parts`` into a valid name of at most ``max_len`` characters.

    A name too long keeps its head and gets a short hash of the whole, so two long names
    that share a prefix still differ.
    """
    name = "-".join(slug(p) for p in parts if p)
    if len(name) <= max_len:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    return f"{name[: max_len - 7].rstrip('-')}-{digest}"


def unreserved_name(*parts: str, reserved: tuple[str, ...], max_len: int) -> str:
    """`physical_name`, headed by ``tk-`` when it would start with a prefix the service reserves (names
    that are fine keep their form, so deployed resources are not renamed)."""
    name = physical_name(*parts, max_len=max_len)
    return physical_name(RESERVED_ESCAPE, *parts, max_len=max_len) if name.startswith(reserved) else name


def partition(region: str) -> str:
    """The ARN partition of ``region``: China and GovCloud ARNs do not start with ``arn:aws:``."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"
