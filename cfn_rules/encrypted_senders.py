"""Senders to KMS-encrypted queues must be able to use the queue's key."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch
from cfnlint.template import Template

from cfn_rules._shared import properties, referenced_id, resources

REQUIRED_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
# SQS's own key (alias/aws/sqs) is usable by every principal of the account that may use SQS.
AWS_MANAGED_SQS_KEY = "alias/aws/sqs"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _same_key(a: Any, b: Any) -> bool:
    if a == "*" or b == "*":
        return True
    ref_a, ref_b = referenced_id(a), referenced_id(b)
    if ref_a is not None and ref_a == ref_b:
        return True
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _action_allows(pattern: Any, action: str) -> bool:
    if not isinstance(pattern, str):
        return False
    pattern = pattern.lower()
    action = action.lower()
    return pattern == action or (pattern.endswith("*") and action.startswith(pattern[:-1]))


def role_statements(template: Mapping[str, Any], role_id: str) -> Iterator[Mapping[str, Any]]:
    """The Allow statements of a role's inline policies and of the AWS::IAM::Policy resources attached to it."""
    documents: list[Any] = []
    role = (template.get("Resources") or {}).get(role_id)
    if isinstance(role, Mapping):
        for policy in _as_list(properties(role).get("Policies") or []):
            if isinstance(policy, Mapping):
                documents.append(policy.get("PolicyDocument"))
    for _, policy in resources(template, "AWS::IAM::Policy", "AWS::IAM::RolePolicy"):
        props = properties(policy)
        roles = _as_list(props.get("Roles") or []) + ([props["RoleName"]] if "RoleName" in props else [])
        if any(referenced_id(r) == role_id for r in roles):
            documents.append(props.get("PolicyDocument"))
    for document in documents:
        if isinstance(document, Mapping):
            for statement in _as_list(document.get("Statement") or []):
                if isinstance(statement, Mapping) and statement.get("Effect") == "Allow":
                    yield statement


def missing_key_actions(template: Mapping[str, Any], role_id: str, key: Any) -> list[str]:
    """Which of kms:GenerateDataKey / kms:Decrypt on ``key`` no Allow statement of the role grants."""
    granted = set()
    for statement in role_statements(template, role_id):
        if not any(_same_key(resource, key) for resource in _as_list(statement.get("Resource"))):
            continue
        for action in REQUIRED_KEY_ACTIONS:
            if any(_action_allows(pattern, action) for pattern in _as_list(statement.get("Action"))):
                granted.add(action)
    return [action for action in REQUIRED_KEY_ACTIONS if action not in granted]


class SchedulerDeadLetterKeyAccess(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type information
    """A Scheduler schedule's role can use the KMS key of its encrypted dead-letter queue.

    AWS docs: "Configuring a dead-letter queue for a schedule" (EventBridge Scheduler User Guide): Scheduler sends
    dead-letter events with the schedule's execution role; "Amazon SQS Key management" (SQS Developer Guide):
    a producer sending to a queue encrypted with a customer managed key needs ``kms:GenerateDataKey`` and
    ``kms:Decrypt`` on it. Without them every failed delivery is lost instead of dead-lettered.
    """

    id = "E9033"
    shortdesc = "Schedule role cannot use its dead-letter queue's KMS key"
    description = "The execution role needs kms:GenerateDataKey and kms:Decrypt on the DLQ's customer managed key"
    source_url = "https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html"
    tags = ["mlops", "scheduler", "kms"]  # noqa: RUF012 -- cfn-lint declares tags as a class-level list

    def match(self, cfn: Template) -> list[RuleMatch]:
        """Schedules whose DLQ and role are both in the template."""
        matches = []
        template = cfn.template
        all_resources = template.get("Resources") or {}
        for logical_id, resource in resources(template, "AWS::Scheduler::Schedule"):
            target = properties(resource).get("Target")
            if not isinstance(target, Mapping):
                continue
            dlq = target.get("DeadLetterConfig")
            queue_id = referenced_id(dlq.get("Arn")) if isinstance(dlq, Mapping) else None
            role_id = referenced_id(target.get("RoleArn"))
            queue = all_resources.get(queue_id) if queue_id else None
            if not isinstance(queue, Mapping) or queue.get("Type") != "AWS::SQS::Queue" or role_id is None:
                continue
            key = properties(queue).get("KmsMasterKeyId")
            if key is None or key == AWS_MANAGED_SQS_KEY:
                continue
            missing = missing_key_actions(template, role_id, key)
            if missing:
                matches.append(
                    RuleMatch(
                        ["Resources", logical_id, "Properties", "Target", "DeadLetterConfig"],
                        f"{logical_id}: role {role_id} sends dead letters to {queue_id}, encrypted with a KMS key, "
                        f"but is not granted {', '.join(missing)} on that key (Amazon SQS Key management)",
                    )
                )
        return matches
