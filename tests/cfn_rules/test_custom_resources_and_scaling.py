"""E9050 (custom resource ServiceTimeout) and E9025 (scalable targets of SageMaker endpoint variants)."""

from __future__ import annotations

from typing import Any

from tests.cfn_rules.lint_helpers import fired, template


def _promotion(service_timeout: Any, function_timeout: int | None = 900) -> dict[str, Any]:
    function: dict[str, Any] = {"Handler": "index.handler", "Runtime": "python3.12", "Role": "arn:aws:iam::1:role/r"}
    if function_timeout is not None:
        function["Timeout"] = function_timeout
    return template(
        Fn={"Type": "AWS::Lambda::Function", "Properties": function},
        Copy={
            "Type": "Custom::ModelPromotion",
            "Properties": {"ServiceToken": {"Fn::GetAtt": ["Fn", "Arn"]}, "ServiceTimeout": service_timeout},
        },
    )


def test_service_timeout_out_of_range_or_not_an_integer_fires() -> None:
    assert fired(_promotion(3601)) == ["E9050"]
    assert fired(_promotion("0")) == ["E9050"]
    assert fired(_promotion("15m")) == ["E9050"]


def test_service_timeout_not_above_the_functions_timeout_fires() -> None:
    assert fired(_promotion("900")) == ["E9050"]
    assert fired(_promotion(600)) == ["E9050"]
    # The function default timeout is 3 s.
    assert fired(_promotion(3, function_timeout=None)) == ["E9050"]


def test_service_timeout_in_range_and_above_the_functions_timeout_passes() -> None:
    assert fired(_promotion("960")) == []
    assert fired(_promotion(3600)) == []
    assert fired(_promotion(60, function_timeout=None)) == []
    # No ServiceTimeout (CloudFormation waits 3600 s), or a token outside the template: nothing to compare.
    doc = _promotion(1)
    doc["Resources"]["Copy"]["Properties"] = {"ServiceToken": "arn:aws:sns:eu-west-1:1:t", "ServiceTimeout": 30}
    assert fired(doc) == []
    del doc["Resources"]["Copy"]["Properties"]["ServiceTimeout"]
    assert fired(doc) == []


def _scaling(resource_id: Any, *, variant: str = "AllTraffic") -> dict[str, Any]:
    return template(
        Config={
            "Type": "AWS::SageMaker::EndpointConfig",
            "Properties": {
                "ProductionVariants": [
                    {"VariantName": variant, "ModelName": "m", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
                ]
            },
        },
        Endpoint={
            "Type": "AWS::SageMaker::Endpoint",
            "Properties": {
                "EndpointName": "mlops-prod-model-m5-large",
                "EndpointConfigName": {"Fn::GetAtt": ["Config", "EndpointConfigName"]},
            },
        },
        Target={
            "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
            "Properties": {
                "MaxCapacity": 4,
                "MinCapacity": 1,
                "ResourceId": resource_id,
                "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
                "ServiceNamespace": "sagemaker",
            },
        },
    )


def test_variant_scalable_target_with_a_malformed_id_or_an_unknown_variant_fires() -> None:
    assert fired(_scaling("endpoint/mlops-prod-model-m5-large/AllTraffic")) == ["E9025"]
    assert fired(_scaling("mlops-prod-model-m5-large/variant/AllTraffic")) == ["E9025"]
    assert fired(_scaling("endpoint/mlops-prod-model-m5-large/variant/AllTraffic", variant="Blue")) == ["E9025"]


def test_variant_scalable_target_of_an_existing_variant_passes() -> None:
    assert fired(_scaling("endpoint/mlops-prod-model-m5-large/variant/AllTraffic")) == []
    # An endpoint of another template cannot be judged beyond the ID's shape.
    assert fired(_scaling("endpoint/other-endpoint/variant/Blue")) == []
