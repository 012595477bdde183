"""What every role SageMaker assumes for a job or a model needs, in one place: logs, images, VPC interfaces,
and the narrow S3 grants jobs get instead of CDK's broader ``grant_read_write`` and ``Asset.grant_read``."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets

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


# What a job writes: objects, in parts. Not grant_read_write's s3:DeleteObject*, s3:PutObjectRetention,
# s3:PutObjectLegalHold or tagging: no job deletes, locks or tags what it wrote. Multipart uploads are authorised
# by s3:PutObject ("Multipart upload API and permissions", Amazon S3 user guide); AbortMultipartUpload cleans up.
OBJECT_WRITE_ACTIONS: Final = ("s3:PutObject", "s3:AbortMultipartUpload")
# An ECR image URI: <account>.dkr.ecr.<region>.<domain>/<repository>[:tag|@digest].
_IMAGE_URI = re.compile(r"(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/([a-z0-9._/-]+?)(?=[:@\"\s]|$)")


def image_repository_arns(stack: Stack, image_uris: Iterable[str]) -> list[str]:
    """The ECR repositories of ``image_uris`` (images in AWS-owned accounts, pinned by account), sorted.

    Pulling needs the repository ARN only ("Private repository policies" / ECR actions take a repository
    resource): a role that pulls the SDK's sklearn image may pull that one repository of that one account,
    not every ``sagemaker-*`` repository of every account.
    """
    arns = set()
    for uri in image_uris:
        for account, region, repository in _IMAGE_URI.findall(uri):
            arns.add(
                stack.format_arn(
                    service="ecr", account=account, region=region, resource="repository", resource_name=repository
                )
            )
    if not arns:
        raise ValueError("image_repository_arns: no ECR image URI found; a job role needs the images it pulls")
    return sorted(arns)


def grant_objects_read_write(bucket: s3.IBucket, grantee: iam.IGrantable, objects_key_pattern: str) -> None:
    """Read ``bucket`` under ``objects_key_pattern`` and write objects there: nothing that deletes or locks.

    The caller grants the bucket's KMS key (the environment key) itself.
    """
    bucket.grant_read(grantee, objects_key_pattern)
    iam.Grant.add_to_principal(
        grantee=grantee,
        actions=list(OBJECT_WRITE_ACTIONS),
        resource_arns=[bucket.arn_for_objects(objects_key_pattern)],
    )


def grant_asset_read(asset: s3_assets.Asset, grantee: iam.IGrantable) -> None:
    """Read one file asset: its object in the bootstrap bucket, not the whole bucket (``Asset.grant_read``).

    SageMaker lists an ``S3Prefix`` input before it downloads it, so the role may list the bucket for that one
    key as prefix (``s3:prefix`` condition, "Actions, resources, and condition keys for Amazon S3").
    """
    iam.Grant.add_to_principal(
        grantee=grantee,
        actions=["s3:GetObject"],
        resource_arns=[asset.bucket.arn_for_objects(asset.s3_object_key)],
    )
    iam.Grant.add_to_principal(
        grantee=grantee,
        actions=["s3:ListBucket"],
        resource_arns=[asset.bucket.bucket_arn],
        conditions={"StringEquals": {"s3:prefix": [asset.s3_object_key]}},
    )


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
