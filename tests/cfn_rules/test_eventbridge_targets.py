"""E9035 (FIFO queue targets name a message group) and E9036 (encrypted targets' keys let EventBridge use them)."""

from __future__ import annotations

from typing import Any

from tests.cfn_rules.lint_helpers import fired, template

PATTERN = {"source": ["aws.cloudwatch"]}
QUEUE_ARN = {"Fn::GetAtt": ["Queue", "Arn"]}


def _fifo_queue(dedup: bool = True) -> dict[str, Any]:
    props: dict[str, Any] = {"FifoQueue": True, "QueueName": "trigger.fifo"}
    if dedup:
        props["ContentBasedDeduplication"] = True
    return {"Type": "AWS::SQS::Queue", "Properties": props}


def _rule_to(arn: Any, group: str | None = None) -> dict[str, Any]:
    target: dict[str, Any] = {"Arn": arn, "Id": "Queue", "DeadLetterConfig": {"Arn": "arn:aws:sqs:eu-west-1:1:dlq"}}
    if group:
        target["SqsParameters"] = {"MessageGroupId": group}
    return {"Type": "AWS::Events::Rule", "Properties": {"EventPattern": PATTERN, "Targets": [target]}}


def _schedule_to(arn: Any, group: str | None = None) -> dict[str, Any]:
    target: dict[str, Any] = {"Arn": arn, "RoleArn": "arn:aws:iam::1:role/r"}
    if group:
        target["SqsParameters"] = {"MessageGroupId": group}
    return {
        "Type": "AWS::Scheduler::Schedule",
        "Properties": {"FlexibleTimeWindow": {"Mode": "OFF"}, "ScheduleExpression": "rate(1 day)", "Target": target},
    }


def test_fifo_queue_target_without_a_message_group_fires() -> None:
    assert fired(template(Queue=_fifo_queue(), Rule=_rule_to(QUEUE_ARN))) == ["E9035"]
    assert fired(template(Queue=_fifo_queue(), Schedule=_schedule_to(QUEUE_ARN))) == ["E9035"]
    assert fired(template(Rule=_rule_to("arn:aws:sqs:eu-west-1:111111111111:other.fifo"))) == ["E9035"]


def test_fifo_queue_target_of_a_schedule_without_content_based_deduplication_fires() -> None:
    assert fired(template(Queue=_fifo_queue(dedup=False), Schedule=_schedule_to(QUEUE_ARN, "model"))) == ["E9035"]


def test_fifo_queue_target_with_a_message_group_or_a_standard_queue_target_passes() -> None:
    assert fired(template(Queue=_fifo_queue(), Rule=_rule_to(QUEUE_ARN, "model"))) == []
    assert fired(template(Queue=_fifo_queue(), Schedule=_schedule_to(QUEUE_ARN, "model"))) == []
    standard = {"Type": "AWS::SQS::Queue", "Properties": {}}
    assert fired(template(Queue=standard, Rule=_rule_to(QUEUE_ARN))) == []
    assert fired(template(Rule=_rule_to("arn:aws:sqs:eu-west-1:111111111111:standard"))) == []


def _key(events_actions: list[str] | None) -> dict[str, Any]:
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"}, "Action": "kms:*", "Resource": "*"}
    ]
    if events_actions is not None:
        statements.append(
            {
                "Effect": "Allow",
                "Principal": {"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"]},
                "Action": events_actions,
                "Resource": "*",
            }
        )
    return {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Version": "2012-10-17", "Statement": statements}}}


KEY_ARN = {"Fn::GetAtt": ["Key", "Arn"]}


def _encrypted(kind: str, events_actions: list[str] | None) -> dict[str, Any]:
    target = {"Type": f"AWS::{kind}", "Properties": {"KmsMasterKeyId": KEY_ARN}}
    arn = QUEUE_ARN if kind == "SQS::Queue" else {"Ref": "Queue"}
    return template(Key=_key(events_actions), Queue=target, Rule=_rule_to(arn))


def test_encrypted_queue_or_topic_target_whose_key_does_not_allow_eventbridge_fires() -> None:
    assert fired(_encrypted("SQS::Queue", None)) == ["E9036"]
    assert fired(_encrypted("SQS::Queue", ["kms:Decrypt"])) == ["E9036"]
    assert fired(_encrypted("SNS::Topic", ["kms:Encrypt"])) == ["E9036"]


def test_encrypted_target_whose_key_allows_eventbridge_or_a_key_elsewhere_passes() -> None:
    assert fired(_encrypted("SQS::Queue", ["kms:Decrypt", "kms:GenerateDataKey*"])) == []
    assert fired(_encrypted("SNS::Topic", ["kms:Decrypt", "kms:GenerateDataKey"])) == []
    # A key of another stack is the assembly check's (E9105); an AWS managed key is not a key resource.
    elsewhere = {"Fn::GetStackOutput": {"StackName": "data", "Region": "eu-west-1", "OutputName": "KeyArn"}}
    queue = {"Type": "AWS::SQS::Queue", "Properties": {"KmsMasterKeyId": elsewhere}}
    assert fired(template(Queue=queue, Rule=_rule_to(QUEUE_ARN))) == []
