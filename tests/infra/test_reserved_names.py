"""Names AWS refuses by their head: an app whose name starts like a reserved prefix still deploys.

ECS refuses capacity provider names prefixed with "aws", "ecs" or "fargate", and ELBv2 load balancer
names beginning with "internal-" (their API documentation, read here from botocore's models).  A GPU
app named "ecs-jobs" or an ECS web app named "internal-tools" failed at CreateCapacityProvider /
CreateLoadBalancer.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import botocore.session
from infra_support import run_program, settings_for  # sets Pulumi's mocks before infra is imported

import toolkit
from infra.naming import ALB_RESERVED_PREFIXES, CAPACITY_PROVIDER_RESERVED_PREFIXES, unreserved_name
from toolkit.manifest import build_manifest


def _doc(service: str, operation: str, member: str) -> str:
    model = botocore.session.get_session().get_service_model(service)
    return str(model.operation_model(operation).input_shape.members[member].documentation)


def test_the_reserved_prefixes_are_the_ones_aws_documents() -> None:
    capacity = _doc("ecs", "CreateCapacityProvider", "name")
    assert set(re.findall(r'"<code>(\w+)</code>"', capacity)) == set(CAPACITY_PROVIDER_RESERVED_PREFIXES)
    assert re.findall(r'must not begin with "([\w-]+)"', _doc("elbv2", "CreateLoadBalancer", "Name")) == \
        list(ALB_RESERVED_PREFIXES)


def _manifest(app_name: str) -> dict[str, Any]:
    app = toolkit.App(app_name)

    def embed() -> None: ...

    def site() -> None: ...

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        app.function(gpu="T4")(embed)
        app.function()(toolkit.web_server(8000)(site))
    return build_manifest(app)


def test_apps_named_like_reserved_prefixes_get_names_aws_accepts() -> None:
    for app_name in ("ecs-jobs", "fargate", "aws-tools", "internal-tools"):
        mocks = run_program(settings_for(_manifest(app_name))).mocks
        providers = [r.inputs["name"] for r in mocks.of_type("aws:ecs/capacityProvider:CapacityProvider")]
        albs = [r.inputs["name"] for r in mocks.of_type("aws:lb/loadBalancer:LoadBalancer")]
        assert providers and albs, f"{app_name}: planned no capacity provider or load balancer"
        assert not [n for n in providers if n.startswith(CAPACITY_PROVIDER_RESERVED_PREFIXES)], providers
        assert not [n for n in albs if n.startswith(ALB_RESERVED_PREFIXES) or len(n) > 32], albs


def test_names_that_were_fine_keep_their_form() -> None:
    assert unreserved_name("demo-main", "fn", "gpu", reserved=CAPACITY_PROVIDER_RESERVED_PREFIXES, max_len=255) == \
        "demo-main-fn-gpu"
    assert unreserved_name("ecs-main", "fn", reserved=CAPACITY_PROVIDER_RESERVED_PREFIXES, max_len=255) == \
        "tk-ecs-main-fn"
