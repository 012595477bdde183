"""EventBridge: per-bus quotas that grow with the number of models, and rule targets without dead letters."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch
from cfnlint.template import Template

from cfn_rules._shared import (
    bus_name,
    bus_policy_statement,
    has_wildcard_filter,
    policy_characters,
    properties,
    referenced_id,
    resources,
)

POLICY_CHARACTERS_QUOTA = 10_240
WILDCARD_RULES_QUOTA = 30


def bus_policies(template: Mapping[str, Any]) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """bus -> [(logical id, statement)] of every AWS::Events::EventBusPolicy in ``template``."""
    found: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for logical_id, resource in resources(template, "AWS::Events::EventBusPolicy"):
        props = properties(resource)
        found[bus_name(props.get("EventBusName"))].append((logical_id, bus_policy_statement(props)))
    return dict(found)


def wildcard_rules(template: Mapping[str, Any]) -> dict[str, list[str]]:
    """bus -> logical ids of the rules in ``template`` whose event pattern uses a wildcard filter."""
    found: dict[str, list[str]] = defaultdict(list)
    for logical_id, resource in resources(template, "AWS::Events::Rule"):
        props = properties(resource)
        if has_wildcard_filter(props.get("EventPattern")):
            found[bus_name(props.get("EventBusName"))].append(logical_id)
    return dict(found)


class EventBusPolicySize(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type information
    """The statements one template adds to an event bus policy stay within the policy size quota.

    AWS doc: "Amazon EventBridge quotas": "Event bus policy size", 10,240 characters, growing with every account
    granted access. The assembly pass of scripts/synth_report.py adds up every template of an account and
    Region; this rule catches one template alone going over.
    """

    id = "E9030"
    shortdesc = "Event bus policy statements over 10,240 characters"
    description = "The resource policy of one event bus is limited to 10,240 characters"
    source_url = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html"
    tags = ["mlops", "eventbridge", "quotas"]  # noqa: RUF012 -- cfn-lint declares tags as a class-level list

    def match(self, cfn: Template) -> list[RuleMatch]:
        """One finding per bus whose statements in this template exceed the quota."""
        matches = []
        for bus, statements in bus_policies(cfn.template).items():
            size = policy_characters([statement for _, statement in statements])
            if size > POLICY_CHARACTERS_QUOTA:
                matches.append(
                    RuleMatch(
                        ["Resources", statements[0][0]],
                        f"event bus {bus!r}: {len(statements)} policy statements make a {size}-character policy, "
                        f"over the {POLICY_CHARACTERS_QUOTA} quota (Amazon EventBridge quotas, Event bus policy size)",
                    )
                )
        return matches


class WildcardRulesPerBus(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type information
    """At most 30 rules with wildcard filters on one event bus.

    AWS doc: "Amazon EventBridge quotas": "Rules containing wildcards", 30 rules per event bus, not adjustable.
    The assembly pass counts every template of an account and Region together.
    """

    id = "E9031"
    shortdesc = "More than 30 wildcard rules on one event bus"
    description = "An event bus holds at most 30 rules whose patterns use wildcard filters (not adjustable)"
    source_url = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html"
    tags = ["mlops", "eventbridge", "quotas"]  # noqa: RUF012 -- cfn-lint declares tags as a class-level list

    def match(self, cfn: Template) -> list[RuleMatch]:
        """One finding per bus with more than 30 wildcard rules in this template."""
        matches = []
        for bus, rule_ids in wildcard_rules(cfn.template).items():
            if len(rule_ids) > WILDCARD_RULES_QUOTA:
                matches.append(
                    RuleMatch(
                        ["Resources", rule_ids[WILDCARD_RULES_QUOTA]],
                        f"event bus {bus!r}: {len(rule_ids)} rules use wildcard filters, over the quota of "
                        f"{WILDCARD_RULES_QUOTA} (Amazon EventBridge quotas, Rules containing wildcards)",
                    )
                )
        return matches


class RuleTargetDeadLetter(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type information
    """Every EventBridge rule target has a dead-letter queue.

    AWS doc: "Using dead-letter queues to process undelivered events in EventBridge": an event that cannot be
    delivered after the retry policy is exhausted is dropped unless the target has a ``DeadLetterConfig``.
    """

    id = "E9032"
    shortdesc = "EventBridge rule target without a DeadLetterConfig"
    description = "Undeliverable events are dropped unless the target has a dead-letter queue"
    source_url = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html"
    tags = ["mlops", "eventbridge", "reliability"]  # noqa: RUF012 -- cfn-lint declares tags as a class-level list

    def match(self, cfn: Template) -> list[RuleMatch]:
        """Every target of every rule."""
        matches = []
        for logical_id, resource in resources(cfn.template, "AWS::Events::Rule"):
            targets = properties(resource).get("Targets")
            for index, target in enumerate(targets if isinstance(targets, list) else []):
                if isinstance(target, Mapping) and not isinstance(target.get("DeadLetterConfig"), Mapping):
                    matches.append(
                        RuleMatch(
                            ["Resources", logical_id, "Properties", "Targets", index],
                            f"{logical_id} target {target.get('Id')!r} has no DeadLetterConfig: undeliverable "
                            "events are dropped (Using dead-letter queues to process undelivered events in "
                            "EventBridge)",
                        )
                    )
        return matches


def _dead_letter_targets(template: Mapping[str, Any]) -> list[tuple[list[str | int], str, Any]]:
    """(path, owner, DeadLetterConfig Arn) of every Scheduler schedule and EventBridge rule target."""
    found: list[tuple[list[str | int], str, Any]] = []
    for logical_id, resource in resources(template, "AWS::Scheduler::Schedule"):
        target = properties(resource).get("Target")
        dlq = target.get("DeadLetterConfig") if isinstance(target, Mapping) else None
        if isinstance(dlq, Mapping):
            found.append(
                (["Resources", logical_id, "Properties", "Target", "DeadLetterConfig"], logical_id, dlq.get("Arn"))
            )
    for logical_id, resource in resources(template, "AWS::Events::Rule"):
        targets = properties(resource).get("Targets")
        for index, target in enumerate(targets if isinstance(targets, list) else []):
            dlq = target.get("DeadLetterConfig") if isinstance(target, Mapping) else None
            if isinstance(dlq, Mapping):
                path: list[str | int] = ["Resources", logical_id, "Properties", "Targets", index, "DeadLetterConfig"]
                found.append((path, logical_id, dlq.get("Arn")))
    return found


class DeadLetterQueueIsStandard(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type information
    """Dead-letter queues of EventBridge rules and Scheduler schedules are standard queues, not FIFO.

    AWS docs: "Configuring a dead-letter queue for a schedule" (EventBridge Scheduler User Guide): Scheduler does
    not support a FIFO queue as a schedule's DLQ; "Using dead-letter queues to process undelivered events in
    EventBridge": EventBridge DLQs are standard Amazon SQS queues. A FIFO queue is the natural way to serialize
    work behind EventBridge, so it is easy to reuse one as the DLQ by mistake.
    """

    id = "E9034"
    shortdesc = "FIFO queue as an EventBridge or Scheduler dead-letter queue"
    description = "EventBridge and EventBridge Scheduler dead-letter queues must be standard SQS queues"
    source_url = "https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html"
    tags = ["mlops", "eventbridge", "scheduler"]  # noqa: RUF012 -- cfn-lint declares tags as a class-level list

    def match(self, cfn: Template) -> list[RuleMatch]:
        """DLQs that resolve (Ref/GetAtt) to a queue of this template with FifoQueue true."""
        matches = []
        queues = dict(resources(cfn.template, "AWS::SQS::Queue"))
        for path, owner, arn in _dead_letter_targets(cfn.template):
            queue_id = referenced_id(arn)
            queue = queues.get(queue_id or "")
            fifo = properties(queue).get("FifoQueue") if queue else None
            if fifo is True or fifo == "true":
                matches.append(
                    RuleMatch(
                        path,
                        f"{owner}: dead-letter queue {queue_id} is a FIFO queue; EventBridge and Scheduler deliver "
                        "dead letters only to standard queues (Configuring a dead-letter queue for a schedule)",
                    )
                )
        return matches
