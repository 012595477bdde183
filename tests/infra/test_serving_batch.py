"""Batch new-data windows in the template: S3 events -> encrypted queue -> one run per window (and the schedule)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from mlops_config import PlatformConfig, parse_config
from mlops_constructs.batch_window import MAX_RECEIVE_COUNT, VISIBILITY_TIMEOUT
from tests.conftest import raw_default_config
from tests.infra.serving_app import build_serving, package_arn, stack_template

PROD_DATA = "mlops-prod-data-333333333333-eu-west-1"


def prod_template(config: PlatformConfig) -> Template:
    app, stacks = build_serving(config, {"prod": {"breast-cancer": package_arn(3)}}, environments=("prod",))
    app.synth()  # cdk-nag runs here: no unacknowledged finding
    stack = stacks["prod"]
    assert stack is not None
    return stack_template(stack)


def config_with_batch(**batch: Any) -> PlatformConfig:
    raw = raw_default_config()
    raw["models"][0]["environments"]["prod"]["serving"]["batch"].update(batch)
    return parse_config(raw, source=Path("platform.yaml"))


@pytest.fixture(scope="module")
def template() -> Template:
    return prod_template(parse_config(raw_default_config(), source=Path("platform.yaml")))


def by_logical_id(template: Template, kind: str, fragment: str) -> tuple[str, dict[str, Any]]:
    found = [(lid, r) for lid, r in template.find_resources(kind).items() if fragment in lid]
    assert len(found) == 1, f"expected one {kind} with {fragment!r}, found {[lid for lid, _ in found]}"
    logical_id, resource = found[0]
    return logical_id, dict(resource)


def test_new_files_are_queued_not_started_one_by_one(template: Template) -> None:
    rule_id, rule = by_logical_id(template, "AWS::Events::Rule", "NewDataWindowOnNewData")
    pattern = rule["Properties"]["EventPattern"]
    assert pattern == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [PROD_DATA]}, "object": {"key": [{"prefix": "breast-cancer/batch/input/"}]}},
    }
    (target,) = rule["Properties"]["Targets"]
    queue_id, queue = by_logical_id(template, "AWS::SQS::Queue", "NewDataWindowNewData")
    assert target["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert "SageMakerPipelineParameters" not in target  # no rule starts the pipeline directly any more
    dlq_id, _ = by_logical_id(template, "AWS::SQS::Queue", "TriggerDeadLetters")
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq_id, "Arn"]}}
    # The queue: environment key, a dead-letter queue, and a visibility timeout longer than one invocation.
    props = queue["Properties"]
    assert "DataKey" in json.dumps(props["KmsMasterKeyId"])
    assert props["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": MAX_RECEIVE_COUNT,
    }
    assert props["VisibilityTimeout"] == VISIBILITY_TIMEOUT.to_seconds()
    # Only the rule may send to the queue.
    policies = template.find_resources("AWS::SQS::QueuePolicy", {"Properties": {"Queues": [{"Ref": queue_id}]}})
    (policy,) = policies.values()
    sends = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert [(s["Principal"], s["Action"], s["Condition"]) for s in sends] == [
        (
            {"Service": "events.amazonaws.com"},
            "sqs:SendMessage",
            {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}},
        )
    ]
    # ... and dead-letter what it cannot deliver.
    (dlq_policy,) = template.find_resources(
        "AWS::SQS::QueuePolicy", {"Properties": {"Queues": [{"Ref": dlq_id}]}}
    ).values()
    dead_letters = [
        s for s in dlq_policy["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid") == "NewDataRuleDeadLetters"
    ]
    assert [s["Condition"] for s in dead_letters] == [
        {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}}
    ]


def test_one_window_function_on_a_schedule_of_the_arrival_window(template: Template) -> None:
    function_id, function = by_logical_id(template, "AWS::Lambda::Function", "NewDataWindowFunction")
    props = function["Properties"]
    env = props["Environment"]["Variables"]
    assert env["INPUT_PREFIX"] == "breast-cancer/batch/input/"
    assert env["MANIFEST_PREFIX"] == "breast-cancer/batch/manifests/"
    assert env["DATA_BUCKET"] == PROD_DATA
    assert env["PIPELINE_NAME"] == "mlops-prod-breast-cancer-batch"
    assert int(env["VISIBILITY_TIMEOUT_SECONDS"]) > props["Timeout"]
    _, schedule = by_logical_id(template, "AWS::Scheduler::Schedule", "NewDataWindowSchedule")
    assert schedule["Properties"]["ScheduleExpression"] == "rate(15 minutes)"
    target = schedule["Properties"]["Target"]
    assert target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert "DeadLetterConfig" in target


def test_window_function_may_only_consume_write_manifests_and_start_this_pipeline(template: Template) -> None:
    _, role = by_logical_id(template, "AWS::IAM::Role", "NewDataWindowRole")
    role_ids = [lid for lid, r in template.find_resources("AWS::IAM::Role").items() if r == role]
    policies = template.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": role_ids[0]}]}})
    statements = [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]
    actions = {a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert "sagemaker:StartPipelineExecution" in actions
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "s3:PutObject"} <= actions
    assert not any(a.endswith("*") and not a.startswith("kms:") for a in actions)
    (manifests,) = [s for s in statements if s.get("Sid") == "WriteManifests"]
    assert manifests["Resource"] == f"arn:aws:s3:::{PROD_DATA}/breast-cancer/batch/manifests/*"
    starts = [s for s in statements if "sagemaker:StartPipelineExecution" in json.dumps(s["Action"])]
    assert all("mlops-prod-breast-cancer-batch" in json.dumps(s["Resource"]) for s in starts)


def test_the_scheduled_run_scores_the_whole_prefix(template: Template) -> None:
    schedules = template.find_resources(
        "AWS::Scheduler::Schedule", {"Properties": {"ScheduleExpression": "cron(0 2 * * ? *)"}}
    )
    (schedule,) = schedules.values()
    # No InputDataUri/InputDataType: the pipeline's defaults, the input prefix as S3Prefix.
    assert schedule["Properties"]["Target"]["SageMakerPipelineParameters"] == {
        "PipelineParameterList": [{"Name": "TriggerReason", "Value": "schedule"}]
    }


def test_the_batch_role_reads_window_manifests(template: Template) -> None:
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Sid": "ReadBatchInput",
                                "Resource": [
                                    f"arn:aws:s3:::{PROD_DATA}/breast-cancer/batch/input/*",
                                    f"arn:aws:s3:::{PROD_DATA}/breast-cancer/batch/manifests/*",
                                ],
                            }
                        )
                    ]
                )
            }
        },
    )


def test_arrival_window_and_opt_out_from_config() -> None:
    hourly = prod_template(config_with_batch(arrival_window_minutes=60))
    _, schedule = by_logical_id(hourly, "AWS::Scheduler::Schedule", "NewDataWindowSchedule")
    assert schedule["Properties"]["ScheduleExpression"] == "rate(1 hour)"

    off = prod_template(config_with_batch(run_on_new_data=False))
    # No window function: the functions left are the promotion copier and the endpoint log group's custom resource.
    functions = sorted(off.find_resources("AWS::Lambda::Function"))
    assert len(functions) == 2
    assert functions[0].startswith("AWS679f53fac002430cb0da5b7982bd2287")
    assert functions[1].startswith("Promotion")
    off.resource_count_is("AWS::SQS::Queue", 2)  # the batch and the deployment-event dead-letter queues
    rules = off.find_resources("AWS::Events::Rule").values()
    assert not [r for r in rules if r["Properties"]["EventPattern"]["source"] == ["aws.s3"]]


def test_a_default_manifest_prefix_inside_the_input_prefix_is_refused() -> None:
    config = config_with_batch(input_prefix="breast-cancer/batch/")
    with pytest.raises(ValueError, match="overlap; allowed: disjoint input, output and manifest prefixes"):
        prod_template(config)


def test_dead_letters_and_window_errors_page_the_notification_topic(template: Template) -> None:
    alarms = {
        lid: r["Properties"]
        for lid, r in template.find_resources("AWS::CloudWatch::Alarm").items()
        if lid.startswith("Batch")
    }
    by_metric = {props["MetricName"]: props for props in alarms.values()}
    assert set(by_metric) == {"ApproximateNumberOfMessagesVisible", "Errors"}
    dlq_id, _ = by_logical_id(template, "AWS::SQS::Queue", "TriggerDeadLetters")
    function_id, _ = by_logical_id(template, "AWS::Lambda::Function", "NewDataWindowFunction")
    assert by_metric["ApproximateNumberOfMessagesVisible"]["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}
    ]
    assert by_metric["Errors"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function_id}}]
    for props in alarms.values():
        assert (props["Threshold"], props["ComparisonOperator"]) == (0, "GreaterThanThreshold")
        assert "Notifications" in json.dumps(props["AlarmActions"])
