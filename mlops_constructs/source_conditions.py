"""Scope the service principals of trust and topic policies to this account (``aws:SourceAccount``).

A service principal without a source condition lets the service act for *any* account's resource (the
confused-deputy problem, "The confused deputy problem", IAM user guide). CDK adds such statements itself
(EventBridge target roles, CDK Pipelines' CodePipeline/CodeBuild roles, ``grant_publish`` to EventBridge and
CodeStar Notifications on a topic), so an Aspect adds ``aws:SourceAccount`` to every one of them for the services
that send it:

- EventBridge (trust of target roles, SNS topic policy): "Cross-service confused deputy prevention in Amazon
  EventBridge"; the SNS side: "Amazon SNS security best practices" (SourceAccount on topic policies).
- CodePipeline and CodeBuild (service-role trust): "Cross-service confused deputy prevention" pages of both guides.
- CodeStar Notifications (topic policy): "Configure Amazon SNS topics for notifications" (aws:SourceAccount).
- EventBridge Scheduler (trust): "Set up the execution role" (aws:SourceAccount), already set by the constructs.

Not here, on purpose: KMS key-policy statements for EventBridge ("Adding the aws:SourceAccount and aws:SourceArn
to a AWS KMS policy is not supported for EventBridge-to-encrypted topics", Amazon SNS "Configuring AWS KMS
permissions"), and the trust of SageMaker and Lambda execution roles (neither guide documents a source key on
role assumption for every job type / invocation; the IAM walker in tests/security lists them as reviewed).
"""

from __future__ import annotations

from typing import Any, Final

import jsii
from aws_cdk import IAspect, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import IConstruct

SOURCE_ACCOUNT_SERVICES: Final = frozenset(
    {
        "events.amazonaws.com",
        "codepipeline.amazonaws.com",
        "codebuild.amazonaws.com",
        "codestar-notifications.amazonaws.com",
        "scheduler.amazonaws.com",
    }
)


def _services(statement: dict[str, Any]) -> set[str]:
    principal = statement.get("Principal")
    if not isinstance(principal, dict) or "Service" not in principal:
        return set()
    value = principal["Service"]
    return {value} if isinstance(value, str) else {item for item in value if isinstance(item, str)}


def _unscoped(document: Any) -> list[int]:
    """Indexes of Allow statements for a source-scoped service that carry no condition at all."""
    if not isinstance(document, dict):
        return []
    return [
        index
        for index, statement in enumerate(document.get("Statement", []))
        if statement.get("Effect") == "Allow"
        and _services(statement) & SOURCE_ACCOUNT_SERVICES
        and not statement.get("Condition")
    ]


@jsii.implements(IAspect)
class SourceAccountConditions:
    """Adds ``"StringEquals": {"aws:SourceAccount": <this stack's account>}`` where a service principal has none."""

    def visit(self, node: IConstruct) -> None:
        """Patch role trust policies and SNS topic policies."""
        if isinstance(node, iam.CfnRole):
            self._patch(node, node.assume_role_policy_document, "AssumeRolePolicyDocument")
        elif isinstance(node, sns.CfnTopicPolicy):
            self._patch(node, node.policy_document, "PolicyDocument")

    @staticmethod
    def _patch(node: iam.CfnRole | sns.CfnTopicPolicy, document: Any, prop: str) -> None:
        stack = Stack.of(node)
        for index in _unscoped(stack.resolve(document)):
            node.add_property_override(
                f"{prop}.Statement.{index}.Condition",
                {"StringEquals": {"aws:SourceAccount": stack.account}},
            )
