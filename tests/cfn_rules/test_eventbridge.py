"""E9030/E9031 (per-bus quotas in one template), E9032 (rule targets with a DLQ), E9033 (scheduler DLQ key)."""

from __future__ import annotations

from typing import Any

from cfn_rules._shared import bus_policy_statement, policy_characters
from tests.cfn_rules.lint_helpers import fired, template

FUNCTION_ARN = "arn:aws:lambda:eu-west-1:111111111111:function:f"


def _bus_policy(index: int, bus: str = "default") -> dict[str, Any]:
    return {
        "Type": "AWS::Events::EventBusPolicy",
        "Properties": {
            "EventBusName": bus,
            "StatementId": f"retrain-model-{index:03d}-dev-alarms-from-222222222222",
            "Statement": {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
                "Action": "events:PutEvents",
                "Resource": "arn:aws:events:eu-west-1:111111111111:event-bus/default",
                "Condition": {
                    "StringEquals": {
                        "events:source": "aws.cloudwatch",
                        "events:detail-type": "CloudWatch Alarm State Change",
                    }
                },
            },
        },
    }


def _rule(pattern: dict[str, Any], *, dlq: bool = True, bus: str | None = None) -> dict[str, Any]:
    target: dict[str, Any] = {"Arn": FUNCTION_ARN, "Id": "Target0"}
    if dlq:
        target["DeadLetterConfig"] = {"Arn": "arn:aws:sqs:eu-west-1:111111111111:dlq"}
    props: dict[str, Any] = {"EventPattern": pattern, "State": "ENABLED", "Targets": [target]}
    if bus:
        props["EventBusName"] = bus
    return {"Type": "AWS::Events::Rule", "Properties": props}


WILDCARD = {"source": ["aws.s3"], "detail": {"object": {"key": [{"wildcard": "model-*/report.json"}]}}}
PREFIX = {"source": ["aws.s3"], "detail": {"object": {"key": [{"prefix": "model/"}]}}}


def test_one_statement_is_about_the_size_the_issue_measured() -> None:
    size = policy_characters([bus_policy_statement(_bus_policy(1)["Properties"])])
    assert 300 < size < 400


def test_bus_policy_over_10240_characters_in_one_template_fires() -> None:
    doc = template(**{f"Allow{i}": _bus_policy(i) for i in range(40)})
    assert fired(doc) == ["E9030"]


def test_bus_policy_statements_under_the_quota_or_split_over_buses_pass() -> None:
    assert fired(template(**{f"Allow{i}": _bus_policy(i) for i in range(20)})) == []
    split = {f"Allow{i}": _bus_policy(i, bus="default" if i % 2 else "custom") for i in range(40)}
    assert fired(template(**split)) == []


def test_31_wildcard_rules_on_one_bus_fire() -> None:
    assert fired(template(**{f"Rule{i}": _rule(WILDCARD) for i in range(31)})) == ["E9031"]


def test_30_wildcard_rules_or_prefix_rules_pass() -> None:
    assert fired(template(**{f"Rule{i}": _rule(WILDCARD) for i in range(30)})) == []
    assert fired(template(**{f"Rule{i}": _rule(PREFIX) for i in range(40)})) == []
    other_bus = {f"Rule{i}": _rule(WILDCARD, bus="custom" if i % 2 else None) for i in range(40)}
    assert fired(template(**other_bus)) == []


def test_rule_target_without_a_dead_letter_queue_fires_and_with_one_passes() -> None:
    assert fired(template(Rule=_rule(PREFIX, dlq=False))) == ["E9032"]
    assert fired(template(Rule=_rule(PREFIX))) == []


KEY_OUTPUT = {"Fn::GetStackOutput": {"StackName": "data", "Region": "eu-west-1", "OutputName": "KeyArn"}}


def _scheduler_stack(
    key_actions: list[str] | None, *, key: Any = KEY_OUTPUT, key_resource: Any = None
) -> dict[str, Any]:
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": {"Fn::GetAtt": ["Dlq", "Arn"]}},
        {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": FUNCTION_ARN},
    ]
    if key_actions:
        statements.append({"Effect": "Allow", "Action": key_actions, "Resource": key_resource or key})
    return template(
        Dlq={"Type": "AWS::SQS::Queue", "Properties": {"KmsMasterKeyId": key}},
        Role={
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "scheduler.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            },
        },
        Policy={
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "PolicyName": "p",
                "Roles": [{"Ref": "Role"}],
                "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
            },
        },
        Schedule={
            "Type": "AWS::Scheduler::Schedule",
            "Properties": {
                "FlexibleTimeWindow": {"Mode": "OFF"},
                "ScheduleExpression": "cron(0 3 ? * MON *)",
                "Target": {
                    "Arn": FUNCTION_ARN,
                    "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
                    "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["Dlq", "Arn"]}},
                },
            },
        },
    )


def test_schedule_role_without_the_dlq_key_fires() -> None:
    assert fired(_scheduler_stack(None)) == ["E9033"]
    assert fired(_scheduler_stack(["kms:Decrypt"])) == ["E9033"]
    other_key = "arn:aws:kms:eu-west-1:111111111111:key/other"
    assert fired(_scheduler_stack(["kms:GenerateDataKey", "kms:Decrypt"], key_resource=other_key)) == ["E9033"]


def test_schedule_role_with_the_dlq_key_passes() -> None:
    assert fired(_scheduler_stack(["kms:GenerateDataKey", "kms:Decrypt"])) == []
    assert fired(_scheduler_stack(["kms:GenerateDataKey*", "kms:Decrypt"])) == []
    same_key_by_ref = _scheduler_stack(
        ["kms:GenerateDataKey", "kms:Decrypt"], key={"Ref": "Key"}, key_resource={"Fn::GetAtt": ["Key", "Arn"]}
    )
    assert fired(same_key_by_ref) == []
    # SQS's own AWS managed key needs no grant.
    assert fired(_scheduler_stack(None, key="alias/aws/sqs")) == []


def _with_dlq_queue(doc: dict[str, Any], fifo: bool) -> dict[str, Any]:
    props: dict[str, Any] = {"FifoQueue": True, "QueueName": "dlq.fifo"} if fifo else {}
    doc["Resources"]["Dlq"] = {"Type": "AWS::SQS::Queue", "Properties": props}
    return doc


def test_fifo_queue_as_a_schedule_or_rule_dead_letter_queue_fires() -> None:
    schedule = _with_dlq_queue(_scheduler_stack(["kms:GenerateDataKey", "kms:Decrypt"]), fifo=True)
    rule = _rule(PREFIX)
    rule["Properties"]["Targets"][0]["DeadLetterConfig"] = {"Arn": {"Fn::GetAtt": ["Dlq", "Arn"]}}
    on_rule = _with_dlq_queue(template(Rule=rule), fifo=True)
    assert fired(schedule) == ["E9034"]
    assert fired(on_rule) == ["E9034"]


def test_standard_queue_as_a_dead_letter_queue_passes() -> None:
    rule = _rule(PREFIX)
    rule["Properties"]["Targets"][0]["DeadLetterConfig"] = {"Arn": {"Fn::GetAtt": ["Dlq", "Arn"]}}
    assert fired(_with_dlq_queue(template(Rule=rule), fifo=False)) == []
    # A FIFO queue as the rule's target (serializing work) is fine; only dead letters need a standard queue.
    target_fifo = _rule(PREFIX)
    target_fifo["Properties"]["Targets"][0]["Arn"] = {"Fn::GetAtt": ["Dlq", "Arn"]}
    target_fifo["Properties"]["Targets"][0]["SqsParameters"] = {"MessageGroupId": "model"}
    assert fired(_with_dlq_queue(template(Rule=target_fifo), fifo=True)) == []
