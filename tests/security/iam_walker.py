"""Walk every IAM statement of a CloudFormation template and name what least privilege forbids.

Statements come from roles (trust and inline policies), policies and managed policies, and the resource policies
of keys, buckets, queues, topics and event buses. Each finding is one line: ``<logical id> <sid>: <problem>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Final

# Actions that take no resource ARN, so "*" is the only Resource IAM accepts for them (Service Authorization
# Reference, "Actions, resources, and condition keys for ...": no resource type in the action's row).
RESOURCELESS_ACTIONS: Final = frozenset(
    {
        "ecr:GetAuthorizationToken",  # Amazon ECR: no resource type
        "cloudwatch:PutMetricData",  # CloudWatch: no resource type (scoped by cloudwatch:namespace instead)
        "cloudformation:DescribeStacks",  # CDK Pipelines self-mutation lists stacks before it knows their ARNs
        "ec2:DescribeNetworkInterfaces",  # EC2 Describe* actions: no resource type
        "ec2:DescribeVpcs",
        "ec2:DescribeDhcpOptions",
        "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups",
        "logs:DescribeLogGroups",  # CloudWatch Logs: no resource type
        "sagemaker:ListModelPackages",  # SageMaker List* actions: no resource type
        "codeconnections:ListConnections",
    }
)
# Key policies name the key itself with "*" ("Key policies in AWS KMS": Resource "*" means this key).
RESOURCE_POLICIES_OF_ONE_RESOURCE: Final = frozenset({"AWS::KMS::Key"})
# Service principals that send aws:SourceAccount/aws:SourceArn with the request, per their guides
# (see mlops_constructs/source_conditions.py for the page of each).
SOURCE_SCOPED_SERVICES: Final = frozenset(
    {
        "events.amazonaws.com",
        "codepipeline.amazonaws.com",
        "codebuild.amazonaws.com",
        "codestar-notifications.amazonaws.com",
        "scheduler.amazonaws.com",
        "logging.s3.amazonaws.com",
    }
)
# Where a source condition is not supported, reviewed one by one.
SOURCE_CONDITION_UNSUPPORTED: Final = {
    # Amazon SNS "Configuring AWS KMS permissions": aws:SourceAccount/aws:SourceArn in a KMS key policy are not
    # supported for EventBridge-to-encrypted-topic (and queue) delivery: a condition there drops every event.
    ("AWS::KMS::Key", "events.amazonaws.com"),
    # CodeStar Notifications publishing to a KMS-encrypted topic: its guide ("Configure Amazon SNS topics for
    # notifications") documents aws:SourceAccount on the topic policy only, none on the key policy; left
    # unconditioned rather than risk dropping notifications (doubtful: to verify on AWS, integ tests).
    ("AWS::KMS::Key", "codestar-notifications.amazonaws.com"),
}
SOURCE_KEYS: Final = ("aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid", "aws:sourceowner")
POLICY_TYPES: Final = {
    "AWS::IAM::Policy": "PolicyDocument",
    "AWS::IAM::ManagedPolicy": "PolicyDocument",
    "AWS::KMS::Key": "KeyPolicy",
    "AWS::S3::BucketPolicy": "PolicyDocument",
    "AWS::SQS::QueuePolicy": "PolicyDocument",
    "AWS::SNS::TopicPolicy": "PolicyDocument",
}


@dataclass(frozen=True)
class Statement:
    """One statement and where it sits."""

    logical_id: str
    resource_type: str
    kind: str  # "identity", "trust" or "resource"
    body: dict[str, Any]

    @property
    def sid(self) -> str:
        return str(self.body.get("Sid", "-"))

    def listed(self, key: str) -> list[Any]:
        value = self.body.get(key, [])
        return value if isinstance(value, list) else [value]


def statements(template: dict[str, Any]) -> Iterator[Statement]:
    """Every IAM statement in ``template``."""
    for logical_id, resource in template.get("Resources", {}).items():
        kind_of = resource["Type"]
        props = resource.get("Properties", {})
        documents: list[tuple[str, Any]] = []
        if kind_of == "AWS::IAM::Role":
            documents.append(("trust", props.get("AssumeRolePolicyDocument")))
            documents += [("identity", policy.get("PolicyDocument")) for policy in props.get("Policies", [])]
        elif kind_of in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents.append(("identity", props.get("PolicyDocument")))
        elif kind_of in POLICY_TYPES:
            documents.append(("resource", props.get(POLICY_TYPES[kind_of])))
        elif kind_of == "AWS::Events::EventBusPolicy" and isinstance(props.get("Statement"), dict):
            documents.append(("resource", {"Statement": [props["Statement"]]}))
        elif kind_of == "AWS::Lambda::Permission":
            # One statement in its own shape: SourceArn/SourceAccount properties are its source conditions.
            condition = {
                "StringEquals": {f"aws:{key}": props[key] for key in ("SourceArn", "SourceAccount") if key in props}
            }
            principal = props.get("Principal", "")
            body = {
                "Effect": "Allow",
                "Action": props.get("Action"),
                "Resource": "function",
                "Principal": {"Service": principal} if str(principal).endswith(".amazonaws.com") else principal,
                **({"Condition": condition} if condition["StringEquals"] else {}),
            }
            documents.append(("resource", {"Statement": [body]}))
        for kind, document in documents:
            if isinstance(document, dict):
                for body in document.get("Statement", []):
                    yield Statement(logical_id, kind_of, kind, body)


def _is_tls_deny(statement: Statement) -> bool:
    """CDK's enforce_ssl (aws:SecureTransport false) and minimum_tls_version (s3:TlsVersion below) denies."""
    condition = statement.body.get("Condition", {})
    return statement.body.get("Effect") == "Deny" and (
        "aws:SecureTransport" in condition.get("Bool", {}) or "s3:TlsVersion" in condition.get("NumericLessThan", {})
    )


def _is_key_root(statement: Statement) -> bool:
    principal = statement.body.get("Principal", {})
    aws = principal.get("AWS") if isinstance(principal, dict) else None
    text = str(aws)
    return statement.resource_type == "AWS::KMS::Key" and statement.listed("Action") == ["kms:*"] and ":root" in text


def _services(statement: Statement) -> list[str]:
    principal = statement.body.get("Principal")
    if not isinstance(principal, dict):
        return []
    value = principal.get("Service", [])
    return [value] if isinstance(value, str) else [item for item in value if isinstance(item, str)]


def _has_source_condition(statement: Statement) -> bool:
    condition = statement.body.get("Condition", {})
    return any(key.lower() in SOURCE_KEYS for operator in condition.values() for key in operator)


def findings(template: dict[str, Any]) -> list[str]:
    """What least privilege forbids in ``template``, one line each (empty: nothing)."""
    found: list[str] = []
    for statement in statements(template):
        where = f"{statement.logical_id} {statement.sid}"
        actions = [action for action in statement.listed("Action") if isinstance(action, str)]
        if statement.body.get("NotAction") or statement.body.get("NotResource"):
            found.append(f"{where}: NotAction/NotResource")
        if "*" in actions:
            found.append(f"{where}: Action '*'")
        service_wide = [action for action in actions if action.endswith(":*")]
        if service_wide and not (_is_tls_deny(statement) or _is_key_root(statement)):
            found.append(f"{where}: service-wide actions {service_wide}")
        allows = statement.body.get("Effect") == "Allow"
        # "Connections rename - Summary of changes": the action's service prefix must match the connection ARN's.
        for action in (a for a in actions if a.endswith(":UseConnection")):
            for resource in (r for r in statement.listed("Resource") if isinstance(r, str)):
                service = resource.split(":")[2] if resource.count(":") > 2 else ""
                if service in ("codeconnections", "codestar-connections") and not action.startswith(f"{service}:"):
                    found.append(f"{where}: {action} on a {service} connection")
        if (
            allows
            and statement.kind != "trust"
            and "*" in statement.listed("Resource")
            and statement.resource_type not in RESOURCE_POLICIES_OF_ONE_RESOURCE
        ):
            targetable = [action for action in actions if not _resourceless(action)]
            if targetable:
                found.append(f"{where}: Resource '*' for {targetable}")
        if allows and not _has_source_condition(statement):
            for service in _services(statement):
                if service in SOURCE_SCOPED_SERVICES and (statement.resource_type, service) not in (
                    SOURCE_CONDITION_UNSUPPORTED
                ):
                    found.append(f"{where}: {service} without aws:SourceAccount/aws:SourceArn")
    return found


def _resourceless(action: str) -> bool:
    return any(fnmatchcase(candidate, action) or candidate == action for candidate in RESOURCELESS_ACTIONS)


def roles_without_boundary(template: dict[str, Any]) -> list[str]:
    """Logical IDs of roles with no ``PermissionsBoundary``."""
    return sorted(
        logical_id
        for logical_id, resource in template.get("Resources", {}).items()
        if resource["Type"] == "AWS::IAM::Role" and not resource.get("Properties", {}).get("PermissionsBoundary")
    )
