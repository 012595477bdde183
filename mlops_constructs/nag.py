"""Acknowledging cdk-nag findings: every acknowledgement names the rule, what it applies to and why."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_s3 as s3
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule: str, reason: str, *, applies_to: Sequence[str] = ()) -> None:
    """Acknowledge AwsSolutions ``rule`` (e.g. ``AwsSolutions-IAM5``) on ``scope`` and its children.

    ``applies_to`` narrows a granular rule to the findings it names (e.g. ``Action::s3:List*``), so that a new,
    unreviewed wildcard on the same resource still fails synth.
    """
    if len(reason) < 20:
        raise ValueError(f"acknowledgement of {rule} needs a real reason, got {reason!r}")
    ids = [f"AwsSolutions::{rule}[{finding}]" for finding in applies_to] or [f"AwsSolutions::{rule}"]
    Validations.of(scope).acknowledge(*(Acknowledgment(id=rule_id, reason=reason) for rule_id in ids))


def resource_finding(scope: IConstruct, arn: str) -> str:
    """The granular ID (``Resource::<arn>``) under which cdk-nag reports a wildcard in ``arn``.

    ``arn`` must resolve to a literal in ``scope``'s stack (pseudo parameters resolve to literals for stacks
    with an explicit environment and the partition-literal feature flag).
    """
    resolved = Stack.of(scope).resolve(arn)
    if not isinstance(resolved, str):
        raise ValueError(f"cannot acknowledge a finding on an unresolved resource: {resolved!r}")
    return f"Resource::{resolved}"


def objects_finding(bucket: s3.IBucket) -> str:
    """The finding a grant on ``bucket``'s objects produces (``Resource::arn:...:s3:::name/*``).

    Works for buckets with a literal ARN (the environment's named buckets, the CDK asset bucket), which is why
    the data stack shares its buckets by name.
    """
    return resource_finding(bucket, bucket.arn_for_objects("*"))


def nag_text(scope: IConstruct, value: str) -> str:
    """``value`` as cdk-nag prints it in a finding: a reference as ``<LogicalId>``, an attribute as ``<Id.Attr>``."""
    resolved = Stack.of(scope).resolve(value)
    return _render(resolved)


def _render(node: Any) -> str:
    if isinstance(node, str):
        return node
    if "Ref" in node:
        return f"<{node['Ref']}>"
    if "Fn::GetAtt" in node:
        return f"<{'.'.join(node['Fn::GetAtt'])}>"
    if "Fn::Join" in node:
        separator, parts = node["Fn::Join"]
        return str(separator).join(_render(part) for part in parts)
    raise ValueError(f"no cdk-nag rendering for {node!r}")
