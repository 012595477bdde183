"""Narrow what CDK generates for the release pipeline and its sources.

Grants CDK writes wider (or differently) than the job needs:

- CDK Pipelines' shared asset-publishing role may ``codebuild:StartBuild``/``BatchGetBuilds``/``StopBuild`` on
  every project of the account (``Resource: "*"``, the role exists before its projects). CodePipeline uses it as
  the action role of the asset-publishing actions only, so it is scoped to those projects' ARNs
  ("Actions, resources, and condition keys for AWS CodeBuild": the three actions take a ``project`` resource).
- CDK Pipelines' self-mutation role may ``s3:ListBucket`` every bucket (``Resource: "*"``); it is scoped to the CDK
  bootstrap asset buckets of the tooling and environment accounts.
- ``CodeStarConnectionsSourceAction`` grants ``codestar-connections:UseConnection`` whatever the connection ARN.
  Connections created since the rename have ``codeconnections`` ARNs, and "When specifying a resource in the IAM
  policy, the service prefix needs to match that of the resource" ("Connections rename - Summary of changes",
  Developer Tools console guide): the action's prefix is set from the ARN's service.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

import jsii
from aws_cdk import ArnFormat, DefaultStackSynthesizer, IAspect, RemovalPolicy, Stack, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

BUILD_ACTIONS: Final = frozenset({"codebuild:BatchGetBuilds", "codebuild:StartBuild", "codebuild:StopBuild"})
CONNECTION_SERVICES: Final = ("codeconnections", "codestar-connections")


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def scope_asset_publishing_builds(pipeline: pipelines.CodePipeline) -> list[str]:
    """Scope the asset-publishing role's build actions to the asset projects; returns the patched policy paths.

    Call after ``build_pipeline()``. Raises ``ValueError`` if the assets exist but no statement could be scoped
    (a CDK change moved what this relies on: fail synth rather than silently keep ``"*"``).
    """
    assets = pipeline.node.try_find_child("Assets")
    if assets is None:
        return []
    projects = [node for node in assets.node.find_all() if isinstance(node, codebuild.CfnProject)]
    patched: list[str] = []
    for policy in (node for node in assets.node.find_all() if isinstance(node, iam.CfnPolicy)):
        document = Stack.of(policy).resolve(policy.policy_document)
        for index, statement in enumerate(document.get("Statement", [])):
            actions = set(_listed(statement.get("Action")))
            if actions & BUILD_ACTIONS and _listed(statement.get("Resource")) == ["*"]:
                policy.add_property_override(
                    f"PolicyDocument.Statement.{index}.Resource", [project.attr_arn for project in projects]
                )
                patched.append(policy.node.path)
    if projects and not patched:
        raise ValueError("scope_asset_publishing_builds: no codebuild:StartBuild on '*' found under the assets")
    return patched


def bootstrap_bucket_arns(stack: Stack, targets: Iterable[tuple[str, str]]) -> list[str]:
    """ARNs of the default CDK bootstrap asset buckets (``cdk-<qualifier>-assets-<account>-<region>``) of ``targets``
    (account, region pairs), sorted and without repeats; the names follow ``DefaultStackSynthesizer``'s defaults."""
    template = DefaultStackSynthesizer.DEFAULT_FILE_ASSETS_BUCKET_NAME.replace(
        "${Qualifier}", DefaultStackSynthesizer.DEFAULT_QUALIFIER
    )
    names = {
        template.replace("${AWS::AccountId}", account).replace("${AWS::Region}", region) for account, region in targets
    }
    return [stack.format_arn(service="s3", region="", account="", resource=name) for name in sorted(names)]


def scope_self_mutation_listing(pipeline: pipelines.CodePipeline, bucket_arns: Sequence[str]) -> str | None:
    """Scope the self-mutation role's ``s3:ListBucket`` from ``"*"`` to ``bucket_arns``; returns the patched policy's
    path (None without self-mutation).

    CDK Pipelines grants the UpdatePipeline project ``cloudformation:DescribeStacks`` and ``s3:ListBucket`` on ``"*"``
    in one statement: the CLI run there (``cdk deploy`` of the pipeline stack) checks its assets in the bootstrap
    bucket. ListBucket takes a ``bucket`` resource ("Actions, resources, and condition keys for Amazon S3"), so it is
    split off onto the bootstrap buckets; DescribeStacks stays as CDK wrote it. Call after ``build_pipeline()``, as
    the last change to the role's policy (statements are patched by index). Raises ``ValueError`` if self-mutation
    exists and no such statement is found (a CDK change moved what this relies on).
    """
    if not bucket_arns:
        raise ValueError("scope_self_mutation_listing: no bucket ARNs; name the bootstrap buckets to list")
    update = pipeline.node.try_find_child("UpdatePipeline")
    if update is None:
        return None
    for policy in (node for node in update.node.find_all() if isinstance(node, iam.CfnPolicy)):
        statements = Stack.of(policy).resolve(policy.policy_document).get("Statement", [])
        for index, statement in enumerate(statements):
            actions = _listed(statement.get("Action"))
            if "s3:ListBucket" not in actions or _listed(statement.get("Resource")) != ["*"]:
                continue
            rest = [action for action in actions if action != "s3:ListBucket"]
            if rest:
                policy.add_property_override(
                    f"PolicyDocument.Statement.{index}.Action", rest if len(rest) > 1 else rest[0]
                )
                policy.add_property_override(
                    f"PolicyDocument.Statement.{len(statements)}",
                    {
                        "Sid": "ListBootstrapBuckets",
                        "Effect": "Allow",
                        "Action": "s3:ListBucket",
                        "Resource": list(bucket_arns),
                    },
                )
            else:
                policy.add_property_override(f"PolicyDocument.Statement.{index}.Resource", list(bucket_arns))
            return policy.node.path
    raise ValueError("scope_self_mutation_listing: no s3:ListBucket on '*' found under UpdatePipeline")


def connection_service(arn: str) -> str | None:
    """``codeconnections`` or ``codestar-connections`` from a literal connection ARN, else None."""
    parts = arn.split(":")
    return parts[2] if len(parts) > 2 and parts[2] in CONNECTION_SERVICES else None


@jsii.implements(IAspect)
class ConnectionActionPrefix:
    """Rewrite ``<service>:UseConnection`` so its prefix is the service of the connection ARN it is granted on."""

    def visit(self, node: IConstruct) -> None:
        """Patch identity policies."""
        if not isinstance(node, iam.CfnPolicy):
            return
        document = Stack.of(node).resolve(node.policy_document)
        for index, statement in enumerate(document.get("Statement", [])):
            actions = _listed(statement.get("Action"))
            resources = [r for r in _listed(statement.get("Resource")) if isinstance(r, str)]
            services = {connection_service(r) for r in resources} - {None}
            if len(services) != 1 or not any(str(a).endswith(":UseConnection") for a in actions):
                continue
            (service,) = services
            fixed = [f"{service}:UseConnection" if str(a).endswith(":UseConnection") else a for a in actions]
            if fixed != actions:
                node.add_property_override(
                    f"PolicyDocument.Statement.{index}.Action", fixed[0] if len(fixed) == 1 else fixed
                )


# How long build logs are kept when the caller does not say (tooling has no retention setting yet).
BUILD_LOG_RETENTION_DAYS: Final = 365


def own_build_log_groups(
    scope: Construct,
    *,
    key: kms.IKey | None,
    retention_days: int = BUILD_LOG_RETENTION_DAYS,
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
) -> dict[str, logs.LogGroup]:
    """Give every CodeBuild project under ``scope`` (the pipeline's and the release gates' projects: pass the stack) a
    log group of its own, kept ``retention_days`` and encrypted with ``key``; returns them by project path. Call after
    ``build_pipeline()`` and after every other project exists.

    CodeBuild otherwise creates ``/aws/codebuild/<project>`` itself, with no retention and no key. A project may
    name its group (``LogsConfig.CloudWatchLogs.GroupName``, "AWS::CodeBuild::Project CloudWatchLogsConfig"); the
    project's role gets write access to that group only. ``key`` must let CloudWatch Logs use it
    (:func:`allow_log_encryption`).
    """
    stack = Stack.of(scope)
    groups: dict[str, logs.LogGroup] = {}
    projects = [node for node in scope.node.find_all() if isinstance(node, codebuild.Project)]
    for project in projects:
        # The ID follows the project's path: adding a project never renames another's group.
        relative = project.node.path.split("/", 1)[-1].replace("/", "-")
        group = logs.LogGroup(
            stack,
            f"BuildLogs-{relative}",
            encryption_key=key,
            removal_policy=removal_policy,
        )
        resource = group.node.default_child
        assert isinstance(resource, logs.CfnLogGroup)
        resource.retention_in_days = retention_days
        cfn = project.node.default_child
        assert isinstance(cfn, codebuild.CfnProject)
        cfn.add_property_override("LogsConfig.CloudWatchLogs", {"Status": "ENABLED", "GroupName": group.log_group_name})
        if project.role is not None:
            group.grant_write(project.role)
        groups[project.node.path] = group
    return groups


def allow_log_encryption(key: kms.Key) -> None:
    """Let CloudWatch Logs of this account and region use ``key`` for log groups
    ("Encrypt log data in CloudWatch Logs using AWS KMS": logs.<region>.amazonaws.com, scoped by the
    ``kms:EncryptionContext:aws:logs:arn`` condition)."""
    stack = Stack.of(key)
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudWatchLogsEncryptLogGroups",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name="*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                }
            },
        )
    )
