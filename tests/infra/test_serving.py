"""Serving stacks per mode: endpoint, autoscaling, capture, rollback, serverless, batch, IAM, nag, updates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from mlops_config import parse_config
from mlops_constructs.endpoint import VARIANT_NAME, RealtimeEndpoint, ServerlessEndpoint, supports_volume_kms
from stacks.serving_stack import ModelServing
from tests.conftest import raw_default_config
from tests.infra.serving_app import build_serving, package_arn, stack_template
from tests.infra.stack_parts import part_template

ALL = ("dev", "staging", "prod")
PROD_DATA = "mlops-prod-data-333333333333-eu-west-1"
PROD_CAPTURE = "mlops-prod-capture-333333333333-eu-west-1"


@pytest.fixture(scope="module")
def serving(approved_app: tuple[Any, dict[str, Any]]) -> dict[str, ModelServing]:
    """The shipped config with version 3 approved everywhere (the session's ``approved_app``, synthesized once with
    cdk-nag, which must pass): each environment's serving half of its model stack."""
    _, stages = approved_app
    assert {name: stage.serving["breast-cancer"].package_arn for name, stage in stages.items()} == {
        env: package_arn(3) for env in ALL
    }
    return {name: stage.serving["breast-cancer"] for name, stage in stages.items()}


@pytest.fixture(scope="module")
def templates(serving: dict[str, ModelServing]) -> dict[str, Template]:
    """The serving half of each model stack: its template without the monitoring's resources."""
    return {name: part_template(stack) for name, stack in serving.items()}


def only(template: Template, kind: str) -> tuple[str, dict[str, Any]]:
    resources = template.find_resources(kind)
    assert len(resources) == 1, f"expected one {kind}, found {sorted(resources)}"
    logical_id, resource = next(iter(resources.items()))
    return logical_id, dict(resource)


def statements(template: Template) -> list[dict[str, Any]]:
    found = []
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for resource in template.find_resources(kind).values():
            found.extend(resource["Properties"]["PolicyDocument"]["Statement"])
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- real-time (prod: canary, staging: all at once) ---


def test_realtime_variant_capacity_and_volume_key(templates: dict[str, Template]) -> None:
    template = templates["prod"]
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "ProductionVariants": [
                {
                    "VariantName": VARIANT_NAME,
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 2,
                    "InitialVariantWeight": 1,
                    "ModelName": {"Fn::GetAtt": [Match.string_like_regexp("^Model"), "ModelName"]},
                }
            ],
            "KmsKeyId": Match.object_like({"Fn::GetStackOutput": Match.any_value()}),
        },
    )
    _, config = only(template, "AWS::SageMaker::EndpointConfig")
    assert "EndpointConfigName" not in config["Properties"], "CloudFormation must name the config (no collisions)"


def test_realtime_data_capture_to_the_capture_bucket_under_the_key(templates: dict[str, Template]) -> None:
    _, config = only(templates["prod"], "AWS::SageMaker::EndpointConfig")
    capture = config["Properties"]["DataCaptureConfig"]
    assert capture["EnableCapture"] is True
    assert capture["InitialSamplingPercentage"] == 20
    assert [o["CaptureMode"] for o in capture["CaptureOptions"]] == ["Input", "Output"]
    assert capture["CaptureContentTypeHeader"] == {"CsvContentTypes": ["text/csv"]}
    assert capture["DestinationS3Uri"] == f"s3://{PROD_CAPTURE}/breast-cancer"
    assert "DataKey" in json.dumps(capture["KmsKeyId"])


def promotion_attribute(template: Template, name: str) -> dict[str, Any]:
    """``Fn::GetAtt`` of the stack's one promotion custom resource."""
    logical_id, _ = only(template, "Custom::ModelPromotion")
    return {"Fn::GetAtt": [logical_id, name]}


def test_model_from_the_promoted_copy_is_network_isolated_and_named_by_cloudformation(
    templates: dict[str, Template],
) -> None:
    template = templates["prod"]
    _, model = only(template, "AWS::SageMaker::Model")
    props = model["Properties"]
    # The copy in prod's own bucket, never the registry's package; no container environment (algorithm mode).
    assert props["PrimaryContainer"] == {
        "Image": promotion_attribute(template, "Image"),
        "ModelDataUrl": promotion_attribute(template, "ModelDataUrl"),
    }
    assert props["EnableNetworkIsolation"] is True
    assert "ModelName" not in props
    assert "VpcConfig" not in props, "the shipped environments have no VPC"


def test_endpoint_name_variant_and_canary_rollout_with_rollback_alarms(templates: dict[str, Template]) -> None:
    template = templates["prod"]
    _, endpoint = only(template, "AWS::SageMaker::Endpoint")
    props = endpoint["Properties"]
    assert props["EndpointName"] == "mlops-prod-breast-cancer-m5-large"
    policy = props["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"] == {
        "Type": "CANARY",
        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
        "WaitIntervalInSeconds": 300,
    }
    assert policy["TerminationWaitInSeconds"] == 120
    assert policy["MaximumExecutionTimeoutInSeconds"] == 1800
    alarm_refs = {a["AlarmName"]["Ref"] for a in props["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]}
    alarms = {
        lid: alarm
        for lid, alarm in template.find_resources("AWS::CloudWatch::Alarm").items()
        if alarm["Properties"].get("Namespace") == "AWS/SageMaker"
    }
    assert alarm_refs == set(alarms)
    by_metric = {a["Properties"]["MetricName"]: a["Properties"] for a in alarms.values()}
    assert set(by_metric) == {"Invocation5XXErrors", "ModelLatency"}
    for alarm in by_metric.values():
        assert alarm["Namespace"] == "AWS/SageMaker"
        assert alarm["Dimensions"] == [
            {"Name": "EndpointName", "Value": "mlops-prod-breast-cancer-m5-large"},
            {"Name": "VariantName", "Value": VARIANT_NAME},
        ]
    assert by_metric["ModelLatency"]["ExtendedStatistic"] == "p99"
    assert by_metric["ModelLatency"]["Threshold"] == 1_000_000, "1000 ms in microseconds"
    assert by_metric["Invocation5XXErrors"]["Statistic"] == "Sum"


def test_config_changes_keep_autoscaled_capacity(templates: dict[str, Template]) -> None:
    _, endpoint = only(templates["prod"], "AWS::SageMaker::Endpoint")
    props = endpoint["Properties"]
    assert props["RetainAllVariantProperties"] is True
    assert props["ExcludeRetainedVariantProperties"] == [{"VariantPropertyType": "DataCaptureConfig"}]


def test_staging_rolls_out_all_at_once(templates: dict[str, Template]) -> None:
    _, endpoint = only(templates["staging"], "AWS::SageMaker::Endpoint")
    routing = endpoint["Properties"]["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing == {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 300}


def test_target_tracking_autoscaling(templates: dict[str, Template]) -> None:
    template = templates["prod"]
    endpoint_id, _ = only(template, "AWS::SageMaker::Endpoint")
    target_id, target = only(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert target["Properties"]["ResourceId"] == f"endpoint/mlops-prod-breast-cancer-m5-large/variant/{VARIANT_NAME}"
    assert target["Properties"]["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert (target["Properties"]["MinCapacity"], target["Properties"]["MaxCapacity"]) == (2, 6)
    assert endpoint_id in as_list(target["DependsOn"])
    assert target["Properties"]["RoleARN"] == (
        "arn:aws:iam::333333333333:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
        "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
    )
    # model, batch pipeline, batch schedule, window function, window schedule, promotion, endpoint log group
    template.resource_count_is("AWS::IAM::Role", 7)
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "ScalingTargetId": {"Ref": target_id},
            "TargetTrackingScalingPolicyConfiguration": {
                "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
                "TargetValue": 200,
                "ScaleInCooldown": 300,
                "ScaleOutCooldown": 60,
            },
        },
    )


# --- serverless (dev) ---


def test_serverless_memory_concurrency_and_what_it_does_not_support(templates: dict[str, Template]) -> None:
    template = templates["dev"]
    _, config = only(template, "AWS::SageMaker::EndpointConfig")
    props = config["Properties"]
    assert props["ProductionVariants"][0]["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    assert "InstanceType" not in props["ProductionVariants"][0]
    assert "KmsKeyId" not in props and "DataCaptureConfig" not in props
    _, model = only(template, "AWS::SageMaker::Model")
    assert model["Properties"]["EnableNetworkIsolation"] is False, "serverless endpoints reject network isolation"
    template.resource_count_is("AWS::ApplicationAutoScaling::ScalableTarget", 0)


def test_serverless_rolls_out_all_at_once_with_baking_and_rollback(templates: dict[str, Template]) -> None:
    template = templates["dev"]
    _, endpoint = only(template, "AWS::SageMaker::Endpoint")
    deployment = endpoint["Properties"]["DeploymentConfig"]
    assert deployment["BlueGreenUpdatePolicy"] == {
        "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 300}
    }
    assert len(deployment["AutoRollbackConfiguration"]["Alarms"]) == 2
    # The two rollback alarms, and the alarm on the deployment-event rule's dead letters.
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == 3
    (dead_letters,) = (props for key, props in alarms.items() if key.startswith("DeploymentEventsDeadLetters"))
    assert dead_letters["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"


def test_provisioned_concurrency_from_config() -> None:
    raw = raw_default_config()
    raw["models"][0]["environments"]["dev"]["serving"]["serverless"]["provisioned_concurrency"] = 2
    config = parse_config(raw, source=Path("test.yaml"))
    _, stacks = build_serving(config, {"dev": {"breast-cancer": package_arn(3)}}, environments=("dev",))
    stack = stacks["dev"]
    assert stack is not None
    _, endpoint_config = only(stack_template(stack), "AWS::SageMaker::EndpointConfig")
    assert endpoint_config["Properties"]["ProductionVariants"][0]["ServerlessConfig"]["ProvisionedConcurrency"] == 2


# --- endpoint attributes the monitoring stack reads ---


def test_endpoint_contract_for_monitoring(serving: dict[str, ModelServing]) -> None:
    prod, dev = serving["prod"].endpoint, serving["dev"].endpoint
    assert isinstance(prod, RealtimeEndpoint) and isinstance(dev, ServerlessEndpoint)
    assert (prod.mode, prod.endpoint_name, prod.variant_name) == (
        "realtime",
        "mlops-prod-breast-cancer-m5-large",
        "AllTraffic",
    )
    assert (dev.mode, dev.endpoint_name) == ("serverless", "mlops-dev-breast-cancer-serverless")
    metric = prod.metric_5xx_errors()
    assert (metric.namespace, metric.metric_name) == ("AWS/SageMaker", "Invocation5XXErrors")
    assert metric.dimensions == {"EndpointName": "mlops-prod-breast-cancer-m5-large", "VariantName": "AllTraffic"}
    assert prod.metric_model_latency_p99().statistic == "p99"
    assert prod.metric_invocations().metric_name == "Invocations"
    assert dev.metric_model_setup_time().metric_name == "ModelSetupTime"
    assert len(prod.rollback_alarms) == 2


# --- IAM ---


def test_no_wildcard_actions_anywhere(templates: dict[str, Template]) -> None:
    for name, template in templates.items():
        for statement in statements(template):
            for action in as_list(statement["Action"]):
                assert action != "*" and not action.endswith(":*"), f"{name}: wildcard action {action}"


def test_model_role_reads_only_the_promoted_copy_in_its_own_account(templates: dict[str, Template]) -> None:
    for name, account in (("staging", "222222222222"), ("prod", "333333333333")):
        found = {s.get("Sid"): s for s in statements(templates[name]) if s.get("Sid")}
        assert found["ReadPromotedModel"]["Action"] == "s3:GetObject"
        assert found["ReadPromotedModel"]["Resource"] == (
            f"arn:aws:s3:::mlops-{name}-models-{account}-eu-west-1/promoted/breast-cancer/v3/model.tar.gz"
        )
        assert "DescribeServedPackage" not in found, "serving never reads the registry"
        assert found["EcrPullImages"]["Resource"] == ("arn:aws:ecr:eu-west-1:141502667606:repository/sagemaker-xgboost")


def test_registry_environment_serves_its_own_promoted_copy_too(templates: dict[str, Template]) -> None:
    found = {s.get("Sid"): s for s in statements(templates["dev"]) if s.get("Sid")}
    assert found["ReadPromotedModel"]["Resource"] == (
        "arn:aws:s3:::mlops-dev-models-111111111111-eu-west-1/promoted/breast-cancer/v3/model.tar.gz"
    )
    assert "DecryptRegistryArtifactsViaS3" not in found, "no alias-scoped key wildcard in the registry's own account"
    decrypts = [s for s in statements(templates["dev"]) if s["Action"] == "kms:Decrypt"]
    assert decrypts and all("DataKey" in json.dumps(s["Resource"]) for s in decrypts)


def test_capture_write_is_scoped_to_the_model_prefix(templates: dict[str, Template]) -> None:
    found = {s.get("Sid"): s for s in statements(templates["prod"]) if s.get("Sid")}
    capture = found["WriteDataCapture"]
    assert capture["Action"] == "s3:PutObject"
    assert capture["Resource"] == f"arn:aws:s3:::{PROD_CAPTURE}/breast-cancer/*"


# --- batch (prod) ---


def test_batch_pipeline_serves_the_same_package(templates: dict[str, Template]) -> None:
    template = templates["prod"]
    _, pipeline = only(template, "AWS::SageMaker::Pipeline")
    assert pipeline["Properties"]["PipelineName"] == "mlops-prod-breast-cancer-batch"
    body, variables = pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    definition = json.loads(body)
    model_step, transform_step = definition["Steps"]
    assert model_step["Arguments"]["PrimaryContainer"] == {"Image": "${ModelImage}", "ModelDataUrl": "${ModelDataUrl}"}
    assert model_step["Arguments"]["EnableNetworkIsolation"] is True
    assert transform_step["Arguments"]["DataCaptureConfig"]["DestinationS3Uri"] == (
        "s3://${CaptureBucket}/breast-cancer/batch"
    )
    assert set(variables) == {
        "ExecutionRoleName",
        "DataBucket",
        "KmsKeyArn",
        "CaptureBucket",
        "ModelImage",
        "ModelDataUrl",
    }
    # The batch model is the same promoted copy the endpoint serves.
    assert variables["ModelImage"] == promotion_attribute(template, "Image")
    assert variables["ModelDataUrl"] == promotion_attribute(template, "ModelDataUrl")
    assert variables["CaptureBucket"] == PROD_CAPTURE
    assert variables["DataBucket"] == PROD_DATA


def test_batch_schedule_starts_only_this_pipeline(templates: dict[str, Template]) -> None:
    template = templates["prod"]
    (schedule,) = template.find_resources(
        "AWS::Scheduler::Schedule", {"Properties": {"ScheduleExpression": "cron(0 2 * * ? *)"}}
    ).values()
    props = schedule["Properties"]
    assert props["ScheduleExpression"] == "cron(0 2 * * ? *)"
    assert props["FlexibleTimeWindow"] == {"Mode": "OFF"}
    target = props["Target"]
    assert "pipeline/mlops-prod-breast-cancer-batch" in json.dumps(target["Arn"])
    assert target["SageMakerPipelineParameters"] == {
        "PipelineParameterList": [{"Name": "TriggerReason", "Value": "schedule"}]
    }
    assert "DeadLetterConfig" in target
    role_id = target["RoleArn"]["Fn::GetAtt"][0]
    policies = [
        p for p in template.find_resources("AWS::IAM::Policy").values() if {"Ref": role_id} in p["Properties"]["Roles"]
    ]
    starts = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"] if "sagemaker" in str(s)]
    assert starts and all("mlops-prod-breast-cancer-batch" in json.dumps(s["Resource"]) for s in starts)


def test_batch_role_is_scoped_to_its_prefixes(templates: dict[str, Template]) -> None:
    found = {s.get("Sid"): s for s in statements(templates["prod"]) if s.get("Sid")}
    assert found["ReadBatchInput"]["Resource"] == [
        f"arn:aws:s3:::{PROD_DATA}/breast-cancer/batch/input/*",
        f"arn:aws:s3:::{PROD_DATA}/breast-cancer/batch/manifests/*",
    ]
    assert set(found["WriteBatchOutputAndCapture"]["Resource"]) == {
        f"arn:aws:s3:::{PROD_DATA}/breast-cancer/batch/output/*",
        f"arn:aws:s3:::{PROD_CAPTURE}/breast-cancer/batch/*",
    }
    assert found["ListBatchInput"]["Condition"] == {"StringLike": {"s3:prefix": ["breast-cancer/batch/input/*"]}}


def test_environments_without_batch_have_no_pipeline(templates: dict[str, Template]) -> None:
    for name in ("dev", "staging"):
        templates[name].resource_count_is("AWS::SageMaker::Pipeline", 0)
        templates[name].resource_count_is("AWS::Scheduler::Schedule", 0)


# --- rules in one place ---


@pytest.mark.parametrize(
    ("instance_type", "supported"),
    [
        ("ml.m5.large", True),
        ("ml.c5.xlarge", True),
        ("ml.t2.medium", True),
        ("ml.g4dn.xlarge", False),
        ("ml.m5d.large", False),
        ("ml.c6id.large", False),
        ("ml.g5.2xlarge", False),
        ("ml.p3dn.24xlarge", False),
        ("ml.p4d.24xlarge", False),
        ("ml.inf1.xlarge", False),
        ("ml.inf2.xlarge", False),
        ("ml.p3.2xlarge", True),
    ],
)
def test_volume_kms_only_without_instance_storage(instance_type: str, supported: bool) -> None:
    assert supports_volume_kms(instance_type) is supported


def test_volume_kms_rejects_a_non_instance_type() -> None:
    with pytest.raises(ValueError, match="not a SageMaker instance type"):
        supports_volume_kms("m5.large")


def test_instance_storage_types_get_no_volume_key() -> None:
    raw = raw_default_config()
    raw["models"][0]["environments"]["staging"]["serving"]["realtime"]["instance_type"] = "ml.g4dn.xlarge"
    config = parse_config(raw, source=Path("test.yaml"))
    _, stacks = build_serving(config, {"staging": {"breast-cancer": package_arn(3)}}, environments=("staging",))
    assert stacks["staging"] is not None
    _, endpoint_config = only(stack_template(stacks["staging"]), "AWS::SageMaker::EndpointConfig")
    assert "KmsKeyId" not in endpoint_config["Properties"]
    assert "KmsKeyId" in endpoint_config["Properties"]["DataCaptureConfig"], "captured data is still encrypted"
