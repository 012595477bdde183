"""Retraining building blocks without the whole app: alarm sources from config, the forwarder, prop validation."""

from __future__ import annotations

import copy
import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from mlops_config import RetrainingSettings, parse_config
from mlops_config.base import LOG_RETENTION_DAYS
from mlops_constructs import alarms
from mlops_constructs.dead_letters import EventDeadLetters
from mlops_constructs.retraining import (
    FEATURE_DRIFT,
    MODEL_QUALITY,
    AlarmForwarder,
    RetrainOnDrift,
    drift_alarm_kinds,
    log_retention,
    retrain_alarm_sources,
)
from tests.conftest import DEFAULT_CONFIG, cdk_feature_flags, raw_default_config


def _config(edit: Any = None) -> Any:
    raw = copy.deepcopy(raw_default_config())
    if edit:
        edit(raw)
    return parse_config(raw, source=DEFAULT_CONFIG)


def test_alarm_kinds_are_the_ones_the_monitoring_alarms_are_named_with() -> None:
    assert (FEATURE_DRIFT, MODEL_QUALITY) == (alarms.FEATURE_DRIFT_ALARM, alarms.MODEL_QUALITY_ALARM)


def test_registry_environment_hears_every_serving_environment() -> None:
    config = _config()
    sources = retrain_alarm_sources(config, config.models[0], "dev")
    # dev serves serverless, without data capture: endpoint-only monitoring publishes no drift to retrain on.
    assert [(s.environment, s.account, s.region) for s in sources] == [
        ("staging", "222222222222", "eu-west-1"),
        ("prod", "333333333333", "eu-west-1"),
    ]
    assert sources[0].alarm_names == (
        "mlops-staging-breast-cancer-feature-drift",
        "mlops-staging-breast-cancer-model-quality",
    )


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"serving": {"mode": "none"}}, ()),
        ({"monitoring": {"enabled": False}}, ()),
        ({"retraining": {"on_drift": False}}, ()),
        ({"serving": {"mode": "realtime"}, "monitoring": {"backend": "endpoint_only"}}, ()),
        ({}, ()),  # the defaults: serverless, so endpoint-only monitoring
        ({"serving": {"mode": "realtime"}}, (FEATURE_DRIFT, MODEL_QUALITY)),
    ],
)
def test_only_a_served_monitored_environment_with_on_drift_retrains(settings: dict[str, Any], expected: Any) -> None:
    def edit(raw: dict[str, Any]) -> None:
        raw["models"][0]["environments"]["staging"] = settings

    config = _config(edit)
    assert drift_alarm_kinds(config, config.models[0], "staging") == expected
    staging_sources = [s for s in retrain_alarm_sources(config, config.models[0], "dev") if s.environment == "staging"]
    assert bool(staging_sources) == bool(expected)


def test_unknown_environment_is_an_error() -> None:
    config = _config()
    with pytest.raises(KeyError):
        drift_alarm_kinds(config, config.models[0], "qa")


def test_every_allowed_log_retention_maps_and_others_fail() -> None:
    assert len({log_retention(days) for days in LOG_RETENTION_DAYS}) == len(LOG_RETENTION_DAYS)
    with pytest.raises(ValueError, match="2 days is not a CloudWatch Logs retention period"):
        log_retention(2)


def _stack() -> cdk.Stack:
    app = cdk.App(context=cdk_feature_flags())
    return cdk.Stack(app, "Test", env=cdk.Environment(account="222222222222", region="eu-west-1"))


def test_forwarder_sends_only_this_accounts_alarm_state_changes_to_the_training_bus() -> None:
    stack = _stack()
    names = ["mlops-staging-breast-cancer-feature-drift", "mlops-staging-breast-cancer-model-quality"]
    AlarmForwarder(
        stack,
        "Forward",
        alarm_names=names,
        target_account="111111111111",
        target_region="eu-west-1",
        dead_letter_queue=EventDeadLetters(
            stack,
            "DeadLetters",
            key=kms.Key(stack, "Key"),
            purpose="forwarded alarms",
            alarm_topic=sns.Topic(stack, "Topic"),
        ).queue,
    )
    template = Template.from_stack(stack)

    (rule,) = template.find_resources("AWS::Events::Rule").values()
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "account": ["222222222222"],
        "detail": {"alarmName": names, "state": {"value": ["ALARM"]}},
    }
    (target,) = rule["Properties"]["Targets"]
    bus_arn = "arn:aws:events:eu-west-1:111111111111:event-bus/default"
    assert target["Arn"] == bus_arn
    role_id = target["RoleArn"]["Fn::GetAtt"][0]
    (policy,) = template.find_resources("AWS::IAM::Policy").values()
    assert policy["Properties"]["Roles"] == [{"Ref": role_id}]
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {"Action": "events:PutEvents", "Effect": "Allow", "Resource": bus_arn}
    ]
    # Undeliverable forwards go to an encrypted standard queue in this account, with an alarm (issue 13).
    ((queue_id, queue),) = template.find_resources("AWS::SQS::Queue").items()
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    assert "FifoQueue" not in queue["Properties"] and "KmsMasterKeyId" in queue["Properties"]
    assert queue["DeletionPolicy"] == "Retain"
    (alarm,) = template.find_resources("AWS::CloudWatch::Alarm").values()
    assert alarm["Properties"]["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}
    ]
    assert len(alarm["Properties"]["AlarmActions"]) == 1


def test_forwarder_needs_alarm_names() -> None:
    with pytest.raises(ValueError, match="at least one alarm name"):
        stack = _stack()
        AlarmForwarder(
            stack,
            "Forward",
            alarm_names=[],
            target_account="111111111111",
            target_region="eu-west-1",
            dead_letter_queue=EventDeadLetters(stack, "DeadLetters", key=kms.Key(stack, "Key"), purpose="tests").queue,
        )


def _retrain(stack: cdk.Stack, **overrides: Any) -> RetrainOnDrift:
    props: dict[str, Any] = {
        "model_name": "churn",
        "environment_name": "dev",
        "pipeline_name": "mlops-dev-churn-training",
        "pipeline_arn": "arn:aws:sagemaker:eu-west-1:222222222222:pipeline/mlops-dev-churn-training",
        "data_bucket": s3.Bucket.from_bucket_name(stack, "Data", "data-bucket"),
        "data_prefix": "churn/training/",
        "key": kms.Key(stack, "Key"),
        "alarm_topic": sns.Topic(stack, "Topic"),
        "settings": RetrainingSettings(),
        "schedule_name": "mlops-dev-churn-retrain",
        **overrides,
    }
    return RetrainOnDrift(stack, "Retrain", **props)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"data_prefix": "churn/training"}, "expected a relative prefix ending with '/'"),
        ({"data_prefix": "/churn/"}, "expected a relative prefix ending with '/'"),
        ({"retry_attempts": 3}, "expected 0-2 retries of a delivery"),
        ({"max_event_age": cdk.Duration.hours(7)}, "expected 1 minute to 6 hours"),
        ({"batch_size": 11}, "a FIFO event source takes 1-10 messages per batch"),
        ({"batch_size": 0}, "a FIFO event source takes 1-10 messages per batch"),
        ({"max_receive_count": 0}, "SQS allows 1-1000"),
    ],
)
def test_bad_props_fail_at_synth_with_a_clear_error(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _retrain(_stack(), **overrides)


def test_defaults_retain_the_log_group_and_dlq_and_keep_the_new_data_rule_only() -> None:
    stack = _stack()
    retrain = _retrain(stack)
    template = Template.from_stack(stack)

    assert set(retrain.rules) == {"new_data"}  # no alarm sources, no schedule by default
    assert retrain.schedule is None
    (log_group,) = template.find_resources("AWS::Logs::LogGroup").values()
    queues = template.find_resources("AWS::SQS::Queue").values()
    assert len(queues) == 3  # trigger queue, its FIFO dead-letter queue, the delivery dead-letter queue
    for resource in (log_group, *queues):
        assert resource["DeletionPolicy"] == "Retain"
    (log_group,) = template.find_resources("AWS::Logs::LogGroup").values()
    assert log_group["Properties"]["RetentionInDays"] == 90


def _function(template: Template) -> dict[str, Any]:
    (function,) = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": "handler.lambda_handler"}}
    ).values()
    return dict(function)


def test_reserved_concurrency_is_off_by_default() -> None:
    stack = _stack()
    _retrain(stack)

    function = _function(Template.from_stack(stack))

    assert "ReservedConcurrentExecutions" not in function["Properties"]
    assert "mlops" not in function.get("Metadata", {})


def test_reserved_concurrency_is_an_opt_in_marked_in_the_template_metadata() -> None:
    stack = _stack()
    _retrain(stack, settings=RetrainingSettings(reserved_concurrency=2))

    function = _function(Template.from_stack(stack))

    assert function["Properties"]["ReservedConcurrentExecutions"] == 2
    assert function["Metadata"]["mlops"] == {"opt_in": ["reserved-concurrency"]}


def test_reserved_concurrency_config_names_the_field_and_range() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="reserved_concurrency"):
        RetrainingSettings(reserved_concurrency=0)
    assert RetrainingSettings().reserved_concurrency is None


def test_the_triggers_share_one_message_group_per_pipeline() -> None:
    stack = _stack()
    retrain = _retrain(
        stack,
        settings=RetrainingSettings(schedule="rate(7 days)"),
        alarm_sources=[_source()],
    )
    template = Template.from_stack(stack)

    groups = [
        t["SqsParameters"]["MessageGroupId"]
        for r in template.find_resources("AWS::Events::Rule").values()
        for t in r["Properties"]["Targets"]
    ]
    (schedule,) = template.find_resources("AWS::Scheduler::Schedule").values()
    groups.append(schedule["Properties"]["Target"]["SqsParameters"]["MessageGroupId"])
    assert groups == ["mlops-dev-churn-training"] * 3
    assert retrain.message_group_id == "mlops-dev-churn-training"


def _source() -> Any:
    from mlops_constructs.drift_alarm_routing import AlarmSource

    return AlarmSource(
        environment="dev", account="222222222222", region="eu-west-1", alarm_names=("mlops-dev-churn-feature-drift",)
    )


def test_fifo_queues_have_derived_names_within_the_sqs_limit_even_for_long_paths() -> None:
    # CloudFormation's own name for a FIFO queue can pass 80 characters: the construct names them itself.
    app = cdk.App(context=cdk_feature_flags())
    stack = cdk.Stack(
        app, "A-very-long-stack-name-for-a-model-with-a-long-name-training", env=cdk.Environment(region="eu-west-1")
    )
    _retrain(stack, model_name="m" * 64)
    queues = Template.from_stack(stack).find_resources("AWS::SQS::Queue", {"Properties": {"FifoQueue": True}})

    names = sorted(q["Properties"]["QueueName"] for q in queues.values())
    assert len(names) == 2
    for name in names:
        assert len(name) <= 80 and name.endswith(".fifo")
        assert re.fullmatch(r"[A-Za-z0-9_-]+\.fifo", name), name
    assert names[0].endswith("-dlq.fifo") and names[1].endswith("-trigger.fifo")
    assert names[0].removesuffix("-dlq.fifo") == names[1].removesuffix("-trigger.fifo")
