"""E9020/E9021 (serverless exclusions), E9022 (KMS key with instance storage), E9023 (guardrails exclusions)."""

from __future__ import annotations

from typing import Any

import pytest

from cfn_rules._shared import has_instance_storage
from tests.cfn_rules.lint_helpers import fired, template

SERVERLESS = {"MaxConcurrency": 5, "MemorySizeInMB": 2048}
KEY = "arn:aws:kms:eu-west-1:111111111111:alias/data"


def _model(**extra: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::SageMaker::Model",
        "Properties": {
            "ExecutionRoleArn": "arn:aws:iam::111111111111:role/r",
            "PrimaryContainer": {"ModelPackageName": "arn:aws:sagemaker:eu-west-1:111111111111:model-package/g/1"},
            **extra,
        },
    }


def _variant(name: str = "AllTraffic", **extra: Any) -> dict[str, Any]:
    return {
        "VariantName": name,
        "ModelName": {"Fn::GetAtt": ["Model", "ModelName"]},
        "InitialVariantWeight": 1,
        **extra,
    }


def _config(*variants: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"Type": "AWS::SageMaker::EndpointConfig", "Properties": {"ProductionVariants": list(variants), **extra}}


def _endpoint(deployment: dict[str, Any] | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {
        "EndpointConfigName": {"Fn::GetAtt": ["Config", "EndpointConfigName"]},
        "EndpointName": "ep",
    }
    if deployment is not None:
        props["DeploymentConfig"] = deployment
    return {"Type": "AWS::SageMaker::Endpoint", "Properties": props}


CAPTURE = {
    "EnableCapture": True,
    "InitialSamplingPercentage": 10,
    "DestinationS3Uri": "s3://b/capture",
    "CaptureOptions": [{"CaptureMode": "Input"}],
}


def test_serverless_config_with_data_capture_fires() -> None:
    doc = template(Model=_model(), Config=_config(_variant(ServerlessConfig=SERVERLESS), DataCaptureConfig=CAPTURE))
    assert fired(doc) == ["E9020"]


def test_serverless_config_with_two_variants_or_a_shadow_fires() -> None:
    two = template(
        Model=_model(),
        Config=_config(_variant(ServerlessConfig=SERVERLESS), _variant("B", ServerlessConfig=SERVERLESS)),
    )
    shadow = template(
        Model=_model(),
        Config=_config(
            _variant(ServerlessConfig=SERVERLESS),
            ShadowProductionVariants=[_variant("Shadow", ServerlessConfig=SERVERLESS)],
        ),
    )
    assert fired(two) == ["E9020"]
    assert fired(shadow) == ["E9020"]


def test_plain_serverless_config_and_realtime_capture_pass() -> None:
    serverless = template(Model=_model(), Config=_config(_variant(ServerlessConfig=SERVERLESS)))
    realtime = template(
        Model=_model(),
        Config=_config(_variant(InstanceType="ml.m5.large", InitialInstanceCount=1), DataCaptureConfig=CAPTURE),
    )
    assert fired(serverless) == fired(realtime) == []


def test_model_of_a_serverless_variant_with_vpc_or_isolation_fires() -> None:
    vpc = {"SecurityGroupIds": ["sg-12345678"], "Subnets": ["subnet-12345678"]}
    doc = template(
        Model=_model(VpcConfig=vpc, EnableNetworkIsolation=True), Config=_config(_variant(ServerlessConfig=SERVERLESS))
    )
    assert fired(doc) == ["E9021", "E9021"]


def test_model_of_a_serverless_variant_without_them_or_a_realtime_model_with_them_passes() -> None:
    plain = template(Model=_model(EnableNetworkIsolation=False), Config=_config(_variant(ServerlessConfig=SERVERLESS)))
    realtime = template(
        Model=_model(EnableNetworkIsolation=True),
        Config=_config(_variant(InstanceType="ml.m5.large", InitialInstanceCount=1)),
    )
    assert fired(plain) == fired(realtime) == []


@pytest.mark.parametrize(
    "instance_type", ["ml.m5d.large", "ml.g4dn.xlarge", "ml.c6id.large", "ml.g5.xlarge", "ml.inf2.xlarge"]
)
def test_kms_key_with_an_instance_storage_type_fires(instance_type: str) -> None:
    doc = template(
        Model=_model(), Config=_config(_variant(InstanceType=instance_type, InitialInstanceCount=1), KmsKeyId=KEY)
    )
    assert fired(doc) == ["E9022"]


@pytest.mark.parametrize("instance_type", ["ml.m5.large", "ml.c5.xlarge", "ml.t2.medium", "ml.r6i.large"])
def test_kms_key_with_an_ebs_only_type_passes(instance_type: str) -> None:
    doc = template(
        Model=_model(), Config=_config(_variant(InstanceType=instance_type, InitialInstanceCount=1), KmsKeyId=KEY)
    )
    assert fired(doc) == []
    # Without a key, even instance-storage types are fine.
    assert (
        fired(template(Model=_model(), Config=_config(_variant(InstanceType="ml.m5d.large", InitialInstanceCount=1))))
        == []
    )


def test_instance_storage_classification_agrees_with_the_endpoint_construct() -> None:
    from mlops_constructs.endpoint import supports_volume_kms

    families = [
        "m5",
        "m5d",
        "c5",
        "c5d",
        "c6i",
        "c6id",
        "r5",
        "r5d",
        "g4dn",
        "g5",
        "g6",
        "p3",
        "p3dn",
        "p4d",
        "p5",
        "inf1",
        "inf2",
        "trn1",
        "trn1n",
        "t2",
        "m6g",
        "m6gd",
        "r6i",
        "x1",
    ]
    for family in families:
        instance_type = f"ml.{family}.xlarge"
        assert has_instance_storage(instance_type) is not supports_volume_kms(instance_type), instance_type


ROLLBACK = {"Alarms": [{"AlarmName": "errors"}]}


def test_rolling_update_on_a_serverless_or_multi_variant_endpoint_fires() -> None:
    rolling = {
        "RollingUpdatePolicy": {
            "MaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 50},
            "WaitIntervalInSeconds": 300,
        }
    }
    serverless = template(
        Model=_model(), Config=_config(_variant(ServerlessConfig=SERVERLESS)), Endpoint=_endpoint(rolling)
    )
    two = template(
        Model=_model(),
        Config=_config(
            _variant(InstanceType="ml.m5.large", InitialInstanceCount=1),
            _variant("B", InstanceType="ml.m5.large", InitialInstanceCount=1),
        ),
        Endpoint=_endpoint(rolling),
    )
    assert fired(serverless) == ["E9023"]
    assert fired(two) == ["E9023"]


def test_guardrails_on_an_inf1_endpoint_fire() -> None:
    canary = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "CANARY", "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10}}
        },
        "AutoRollbackConfiguration": ROLLBACK,
    }
    doc = template(
        Model=_model(),
        Config=_config(_variant(InstanceType="ml.inf1.xlarge", InitialInstanceCount=1)),
        Endpoint=_endpoint(canary),
    )
    assert fired(doc) == ["E9023"]


def test_all_at_once_blue_green_with_rollback_on_serverless_and_canary_on_m5_pass() -> None:
    all_at_once = {
        "BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE"}},
        "AutoRollbackConfiguration": ROLLBACK,
    }
    canary = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "CANARY", "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10}}
        },
        "AutoRollbackConfiguration": ROLLBACK,
    }
    serverless = template(
        Model=_model(), Config=_config(_variant(ServerlessConfig=SERVERLESS)), Endpoint=_endpoint(all_at_once)
    )
    realtime = template(
        Model=_model(),
        Config=_config(_variant(InstanceType="ml.m5.large", InitialInstanceCount=2)),
        Endpoint=_endpoint(canary),
    )
    assert fired(serverless) == fired(realtime) == []


def _shifting(kind: str, size_key: str, size_type: str, value: int) -> dict[str, Any]:
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": kind,
                size_key: {"Type": size_type, "Value": value},
                "WaitIntervalInSeconds": 300,
            }
        },
        "AutoRollbackConfiguration": ROLLBACK,
    }


def _realtime(deployment: dict[str, Any], instances: int = 4) -> dict[str, Any]:
    return template(
        Model=_model(),
        Config=_config(_variant(InstanceType="ml.m5.large", InitialInstanceCount=instances)),
        Endpoint=_endpoint(deployment),
    )


@pytest.mark.parametrize(
    ("kind", "size_key", "size_type", "value"),
    [
        ("CANARY", "CanarySize", "CAPACITY_PERCENT", 60),
        ("LINEAR", "LinearStepSize", "CAPACITY_PERCENT", 5),
        ("LINEAR", "LinearStepSize", "CAPACITY_PERCENT", 75),
        ("CANARY", "CanarySize", "INSTANCE_COUNT", 3),  # 3 of 4 instances
    ],
)
def test_step_size_outside_the_documented_range_fires(kind: str, size_key: str, size_type: str, value: int) -> None:
    assert fired(_realtime(_shifting(kind, size_key, size_type, value))) == ["E9024"]


@pytest.mark.parametrize(
    ("kind", "size_key", "size_type", "value"),
    [
        ("CANARY", "CanarySize", "CAPACITY_PERCENT", 10),
        ("CANARY", "CanarySize", "CAPACITY_PERCENT", 50),
        ("LINEAR", "LinearStepSize", "CAPACITY_PERCENT", 10),
        ("LINEAR", "LinearStepSize", "CAPACITY_PERCENT", 50),
        ("CANARY", "CanarySize", "INSTANCE_COUNT", 1),  # 1 of 4 instances
    ],
)
def test_step_size_inside_the_documented_range_passes(kind: str, size_key: str, size_type: str, value: int) -> None:
    assert fired(_realtime(_shifting(kind, size_key, size_type, value))) == []
