"""A proxied Lambda and the grant Lambda uses to attach it to the VPC, in the order AWS needs them.

Lambda creates and deletes a VPC function's network interfaces with the function's own role
(Lambda developer guide, "Giving Lambda functions access to resources in an Amazon VPC"; the
managed policy AWSLambdaVPCAccessExecutionRole).  CreateFunction refuses a VPC config whose role
lacks ec2:CreateNetworkInterface, and a function deleted after its role lost the grant leaves its
ENIs behind, which keep the proxy's subnets and security group from being deleted.  Pulumi orders
creation (and reverses it on delete) only along dependencies: the function must depend on the grant.
"""

from __future__ import annotations

import warnings
from typing import Any

from infra_support import run_program, settings_for  # sets Pulumi's mocks before infra is imported

import toolkit
from toolkit.manifest import build_manifest


def _manifest() -> dict[str, Any]:
    app = toolkit.App("proxyorder")

    def egress() -> None: ...

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        app.function(proxy=toolkit.Proxy.from_name("partner"))(egress)
    return build_manifest(app)


def test_a_proxied_lambda_is_created_after_and_deleted_before_its_vpc_grant() -> None:
    mocks = run_program(settings_for(_manifest())).mocks
    [grant] = [r for r in mocks.of_type("aws:iam/rolePolicy:RolePolicy") if r.name.endswith("-vpc-access")]
    [function] = mocks.of_type("aws:lambda/function:Function")
    assert function.inputs["vpcConfig"]["subnetIds"], "the function is not in the proxy's subnets"
    depends = function.options["dependencies"]
    assert any(urn.endswith(f"::{grant.name}") for urn in depends), (
        f"the Lambda does not depend on its VPC grant {grant.name!r} ({depends}): CreateFunction may run "
        "before the role may create ENIs, and a destroy may revoke it before Lambda deleted them")
