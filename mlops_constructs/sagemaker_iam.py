"""What every role SageMaker assumes for a job or a model needs, in one place: logs, images, VPC interfaces."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam

LOG_ACTIONS: Final = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams")
ECR_PULL_ACTIONS: Final = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
# What SageMaker does with the role to attach a job or endpoint to the configured subnets.
VPC_INTERFACE_ACTIONS: Final = (
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeVpcs",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
)


def aws_images_in_region(stack: Stack) -> str:
    """Every ``sagemaker-*`` repository of the region: the AWS-owned image accounts differ by region and image."""
    return f"arn:{stack.partition}:ecr:{stack.region}:*:repository/sagemaker-*"


def vpc_interfaces_statement() -> iam.PolicyStatement:
    """The network-interface calls SageMaker makes with the role in a VPC; EC2 takes no resource for most."""
    return iam.PolicyStatement(sid="VpcNetworkInterfaces", actions=list(VPC_INTERFACE_ACTIONS), resources=["*"])


def grant_job_basics(
    role: iam.IRole,
    *,
    image_repositories: Sequence[str],
    log_group_name: str = "/aws/sagemaker/*",
    in_vpc: bool = False,
) -> None:
    """Let SageMaker write the job's logs under ``log_group_name``, pull ``image_repositories``, and use a VPC."""
    stack = Stack.of(role)
    log_groups = stack.format_arn(
        service="logs", resource="log-group", resource_name=log_group_name, arn_format=ArnFormat.COLON_RESOURCE_NAME
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="JobLogs", actions=list(LOG_ACTIONS), resources=[log_groups, f"{log_groups}:log-stream:*"]
        )
    )
    # GetAuthorizationToken takes no resource: "*" is the only value IAM accepts.
    role.add_to_principal_policy(
        iam.PolicyStatement(sid="EcrAuthToken", actions=["ecr:GetAuthorizationToken"], resources=["*"])
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(sid="EcrPullImages", actions=list(ECR_PULL_ACTIONS), resources=list(image_repositories))
    )
    if in_vpc:
        role.add_to_principal_policy(vpc_interfaces_statement())
