"""The model registry: one SageMaker model package group per model, whose packages the serving environments'
promotion roles may describe (and nothing more)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

# What a serving account needs to find and deploy an approved package; nothing that changes the registry.
REGISTRY_READ_ACTIONS = (
    "sagemaker:DescribeModelPackage",
    "sagemaker:DescribeModelPackageGroup",
    "sagemaker:ListModelPackages",
)


class ModelPackageGroup(Construct):
    """A model package group whose packages principals of ``reader_accounts`` may describe (and nothing more).

    ``reader_principal_patterns`` (IAM role ARN patterns, default none = any principal of those accounts that its
    own IAM policy allows) narrows the readers by ``aws:PrincipalArn``: the promotion roles, by derived name, are
    the only ones that read the registry from another account (``mlops_constructs.promotion``).

    The group is retained or destroyed with ``removal_policy``; registered model versions are the audit trail
    of what was approved, so production environments always retain it.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        group_name: str,
        description: str,
        reader_accounts: Sequence[str],
        removal_policy: RemovalPolicy,
        reader_principal_patterns: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.group_name = group_name
        self.group_arn = stack.format_arn(service="sagemaker", resource="model-package-group", resource_name=group_name)
        self.packages_arn = stack.format_arn(
            service="sagemaker",
            resource="model-package",
            resource_name=f"{group_name}/*",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        policy = None
        if reader_accounts:
            policy = iam.PolicyDocument(
                statements=[
                    iam.PolicyStatement(
                        sid="PromotersDescribePackages",
                        principals=[iam.AccountPrincipal(account) for account in reader_accounts],
                        # Promotion describes the one package it copies; nothing else crosses accounts. A model
                        # package group's resource policy grants other accounts access to its versions
                        # ("Cross-account discoverability", PutModelPackageGroupPolicy: at most 20480 characters).
                        actions=["sagemaker:DescribeModelPackage"],
                        resources=[self.packages_arn],
                        conditions=(
                            {"StringLike": {"aws:PrincipalArn": list(reader_principal_patterns)}}
                            if reader_principal_patterns
                            else None
                        ),
                    )
                ]
            ).to_json()
        self.resource = sagemaker.CfnModelPackageGroup(
            self,
            "Resource",
            model_package_group_name=group_name,
            model_package_group_description=description or f"Versions of model {group_name}",
            model_package_group_policy=policy,
        )
        self.resource.apply_removal_policy(removal_policy)

    def grant_register(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` (a training pipeline's role) register new versions in this group."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[*REGISTRY_READ_ACTIONS, "sagemaker:CreateModelPackage", "sagemaker:AddTags"],
            resource_arns=[self.group_arn, self.packages_arn],
        )
