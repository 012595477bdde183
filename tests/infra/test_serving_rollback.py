"""Auto-rollback: operators hear about it, and the endpoint keeps scaling on the configuration it runs."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from mlops_config import PlatformConfig
from mlops_constructs.endpoint_events import DEPLOYMENT_STATE_CHANGE
from stacks.serving_stack import ModelServing
from tests.infra.serving_app import build_serving, package_arn, stack_template
from tests.infra.stack_parts import part_template

ALL = ("dev", "staging", "prod")


@pytest.fixture(scope="module")
def serving(approved_app: tuple[Any, dict[str, Any]]) -> dict[str, ModelServing]:
    """Version 3 served everywhere: the session's ``approved_app`` (synthesized once; cdk-nag: no unacknowledged
    finding), each environment's serving half of its model stack."""
    _, stages = approved_app
    assert all(stage.serving["breast-cancer"].package_arn == package_arn(3) for stage in stages.values())
    return {name: stage.serving["breast-cancer"] for name, stage in stages.items()}


def data_template(stack: ModelServing) -> Template:
    data = cdk.Stage.of(stack).node.find_child("Data")  # type: ignore[union-attr]
    assert isinstance(data, cdk.Stack)
    return stack_template(data)


def only(template: Template, kind: str) -> tuple[str, dict[str, Any]]:
    found = template.find_resources(kind)
    assert len(found) == 1, sorted(found)
    logical_id, resource = next(iter(found.items()))
    return logical_id, dict(resource)


@pytest.mark.parametrize("env", ALL)
def test_deployment_state_changes_of_the_endpoint_reach_the_notification_topic(
    serving: dict[str, ModelServing], env: str
) -> None:
    stack = serving[env]
    template = part_template(stack)
    assert stack.endpoint is not None
    rules = {
        lid: r
        for lid, r in template.find_resources("AWS::Events::Rule").items()
        if r["Properties"]["EventPattern"].get("detail-type") == [DEPLOYMENT_STATE_CHANGE]
    }
    assert len(rules) == 1
    rule_id, rule = next(iter(rules.items()))
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Endpoint Deployment State Change"],
        "detail": {"EndpointName": [stack.endpoint.endpoint_name]},
    }
    (target,) = rule["Properties"]["Targets"]
    # The environment's notification topic (in the data stack), with a dead-letter queue and retries.
    assert "Notifications" in json.dumps(target["Arn"])
    dlq_id = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    assert "DeploymentEventsDeadLetters" in dlq_id
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 21600, "MaximumRetryAttempts": 10}
    dlq = template.to_json()["Resources"][dlq_id]["Properties"]
    assert "DataKey" in json.dumps(dlq["KmsMasterKeyId"])
    # Only this rule may dead-letter into the queue.
    (policy,) = template.find_resources("AWS::SQS::QueuePolicy", {"Properties": {"Queues": [{"Ref": dlq_id}]}}).values()
    sends = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert [s["Condition"]["ArnEquals"]["aws:SourceArn"] for s in sends] == [{"Fn::GetAtt": [rule_id, "Arn"]}]


def test_eventbridge_may_publish_to_the_encrypted_topic_and_use_its_key(serving: dict[str, ModelServing]) -> None:
    template = data_template(serving["prod"])
    (topic_policy,) = template.find_resources("AWS::SNS::TopicPolicy").values()
    publishers = [
        s
        for s in topic_policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Allow" and s["Principal"] == {"Service": "events.amazonaws.com"}
    ]
    assert publishers and all(s["Action"] == "sns:Publish" for s in publishers)
    _, key = only(template, "AWS::KMS::Key")
    users = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if "events.amazonaws.com" in json.dumps(s.get("Principal", {})) and s["Effect"] == "Allow"
    ]
    actions = {a for s in users for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    # An SNS topic / SQS queue with a customer managed key: the publisher needs these two on the key.
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= actions


def test_scaling_follows_the_variant_that_serves_through_updates_and_rollbacks(
    default_config: PlatformConfig,
) -> None:
    def realtime_parts(version: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        _, stacks = build_serving(
            default_config, {"prod": {"breast-cancer": package_arn(version)}}, environments=("prod",)
        )
        stack = stacks["prod"]
        assert stack is not None
        template = stack_template(stack)
        return (
            only(template, "AWS::SageMaker::Endpoint")[1]["Properties"],
            only(template, "AWS::SageMaker::EndpointConfig")[1]["Properties"],
            only(template, "AWS::ApplicationAutoScaling::ScalableTarget")[1]["Properties"],
        )

    old_endpoint, old_config, old_target = realtime_parts(3)
    new_endpoint, new_config, new_target = realtime_parts(4)
    for endpoint, config, target in ((old_endpoint, old_config, old_target), (new_endpoint, new_config, new_target)):
        (variant,) = config["ProductionVariants"]
        # The scalable target names the endpoint and the variant, never the configuration: whichever configuration
        # the endpoint runs after an update or a rollback, the same variant is scaled.
        assert target["ResourceId"] == f"endpoint/{endpoint['EndpointName']}/variant/{variant['VariantName']}"
        assert "EndpointConfig" not in json.dumps(target)
        # The instance count auto scaling chose survives an update (and so the rollback to the old fleet);
        # only capture settings come from the new configuration.
        assert endpoint["RetainAllVariantProperties"] is True
        assert endpoint["ExcludeRetainedVariantProperties"] == [{"VariantPropertyType": "DataCaptureConfig"}]
    # A new model version leaves the scaling resources untouched: nothing for CloudFormation to roll back there.
    assert old_target == new_target
    assert old_config["ProductionVariants"][0]["VariantName"] == new_config["ProductionVariants"][0]["VariantName"]
