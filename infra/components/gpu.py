"""GPU capacity: EC2 instances from the ECS GPU-optimised AMI, scaled by ECS from zero.

One Auto Scaling group per GPU function (its instance types follow its ``gpu=``), minimum 0,
grown by the capacity provider's managed scaling when tasks wait for GPUs. The mixed
instances policy buys spot across every candidate type and falls back to on-demand for the
share set by ``toolkit:gpuOnDemandPercent`` (and for the base capacity).

The AMI is the Amazon Linux 2023 ECS GPU AMI (AL2's reaches end of support in 2026). Its
instances get a public IP in public subnets: GPU tasks use bridge networking and reach AWS
APIs and the internet through their instance (see infra/components/ecs.py). The instance role
carries AWS's managed ECS container-instance policy. IMDSv2 with a hop limit of 1 keeps the
instance role's credentials out of bridge-mode containers (one hop further away); tasks use
their own task role.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components import child
from infra.gpu import GpuSelection
from infra.naming import CAPACITY_PROVIDER_RESERVED_PREFIXES, ROLE_NAME_MAX, physical_name, unreserved_name
from infra.policies import assume_role, ecs_instance_managed_policy

__all__ = ["GPU_AMI_PARAMETER", "GpuCapacity", "GpuCapacityArgs", "user_data"]

GPU_AMI_PARAMETER = "/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id"


def user_data(cluster_name: str) -> str:
    """Join the cluster; let the agent hand GPUs to tasks."""
    script = (
        "#!/bin/bash\n"
        f"echo ECS_CLUSTER={cluster_name} >> /etc/ecs/ecs.config\n"
        "echo ECS_ENABLE_GPU_SUPPORT=true >> /etc/ecs/ecs.config\n"
        "echo ECS_ENABLE_SPOT_INSTANCE_DRAINING=true >> /etc/ecs/ecs.config\n"
        # bridge-mode tasks get their task role's credentials from the agent (off by default)
        "echo ECS_ENABLE_TASK_IAM_ROLE=true >> /etc/ecs/ecs.config\n"
    )
    return base64.b64encode(script.encode()).decode()


@dataclass
class GpuCapacityArgs:
    function_name: str
    gpu: GpuSelection
    cluster_name: pulumi.Input[str]
    subnet_ids: pulumi.Input[list[str]]
    security_group_id: pulumi.Input[str]
    ami_id: pulumi.Input[str]
    max_instances: int
    region: str
    on_demand_percent: int = 0
    public_ip: bool = True  # False: the subnets egress through the user's NAT gateway


class GpuCapacity(pulumi.ComponentResource):
    capacity_provider: aws.ecs.CapacityProvider

    def __init__(self, name: str, args: GpuCapacityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("toolkit:gpu:GpuCapacity", name, None, opts)
        profile = self._instance_profile(name, args)
        template = aws.ec2.LaunchTemplate(
            f"{name}-template",
            image_id=args.ami_id,
            iam_instance_profile={"arn": profile.arn},
            # the instance's address is how its bridge-mode tasks reach AWS APIs and the internet
            network_interfaces=[{"device_index": 0, "associate_public_ip_address": str(args.public_ip).lower(),
                                 "security_groups": [args.security_group_id], "delete_on_termination": "true"}],
            user_data=pulumi.Output.from_input(args.cluster_name).apply(user_data),
            metadata_options={"http_tokens": "required", "http_endpoint": "enabled", "http_put_response_hop_limit": 1},
            # Model weights and CUDA images are large: a roomy encrypted root volume.
            block_device_mappings=[{"device_name": "/dev/xvda",
                                    "ebs": {"volume_size": 200, "volume_type": "gp3", "encrypted": "true"}}],
            opts=child(self),
        )
        group = aws.autoscaling.Group(
            f"{name}-asg",
            min_size=0,
            max_size=args.max_instances,
            vpc_zone_identifiers=args.subnet_ids,
            capacity_rebalance=True,
            mixed_instances_policy={
                "instances_distribution": {
                    "on_demand_base_capacity": 0,
                    "on_demand_percentage_above_base_capacity": args.on_demand_percent,
                    "spot_allocation_strategy": "price-capacity-optimized",
                },
                "launch_template": {
                    "launch_template_specification": {"launch_template_id": template.id, "version": "$Latest"},
                    "overrides": [{"instance_type": t} for t in args.gpu.instance_types],
                },
            },
            tags=[{"key": "AmazonECSManaged", "value": "true", "propagate_at_launch": True}],
            opts=child(self, ignore_changes=["desiredCapacity"]),  # ECS owns the desired count
        )
        self.capacity_provider = aws.ecs.CapacityProvider(
            f"{name}-capacity",
            name=unreserved_name(args.function_name, "gpu", reserved=CAPACITY_PROVIDER_RESERVED_PREFIXES, max_len=255),
            auto_scaling_group_provider={
                "auto_scaling_group_arn": group.arn,
                "managed_termination_protection": "DISABLED",
                "managed_scaling": {"status": "ENABLED", "target_capacity": 100,
                                    "minimum_scaling_step_size": 1, "maximum_scaling_step_size": 2},
            },
            opts=child(self),
        )
        self.register_outputs({"capacity_provider": self.capacity_provider.name})

    def _instance_profile(self, name: str, args: GpuCapacityArgs) -> aws.iam.InstanceProfile:
        role = aws.iam.Role(
            f"{name}-instance-role",
            name=physical_name(args.function_name, "gpu-instance", max_len=ROLE_NAME_MAX),
            assume_role_policy=json.dumps(assume_role("ec2.amazonaws.com")),
            opts=child(self),
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-instance-policy", role=role.name, policy_arn=ecs_instance_managed_policy(args.region), opts=child(self),
        )
        return aws.iam.InstanceProfile(f"{name}-profile", role=role.name, opts=child(self))
