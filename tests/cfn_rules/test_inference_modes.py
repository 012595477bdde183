"""E9026 (one production and one shadow variant) and E9027 (scale a variant to zero only on an async endpoint)."""

from __future__ import annotations

from typing import Any

from tests.cfn_rules.lint_helpers import findings, fired, template


def _variant(name: str, model: str = "m") -> dict[str, Any]:
    return {"VariantName": name, "ModelName": model, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}


def _shadow_config(production: list[dict[str, Any]], shadows: list[dict[str, Any]]) -> dict[str, Any]:
    return template(
        Config={
            "Type": "AWS::SageMaker::EndpointConfig",
            "Properties": {"ProductionVariants": production, "ShadowProductionVariants": shadows},
        }
    )


def test_one_production_and_one_shadow_variant_passes() -> None:
    assert (
        fired(_shadow_config([_variant("AllTraffic")], [{**_variant("Shadow", "c"), "InitialVariantWeight": 0.25}]))
        == []
    )


def test_two_shadow_variants_fire() -> None:
    doc = _shadow_config([_variant("AllTraffic")], [_variant("ShadowA", "a"), _variant("ShadowB", "b")])
    assert findings(doc) == [
        ("E9026", "Config: 2 shadow variants; allowed: exactly one (CreateEndpointConfig, ShadowProductionVariants)")
    ]


def test_two_production_variants_next_to_a_shadow_fire() -> None:
    doc = _shadow_config([_variant("A"), _variant("B", "b")], [_variant("Shadow", "c")])
    assert fired(doc) == ["E9026"]
    assert "2 production variants next to shadow variants" in findings(doc)[0][1]


def test_shadow_named_like_production_fires() -> None:
    doc = _shadow_config([_variant("AllTraffic")], [_variant("AllTraffic", "c")])
    assert findings(doc) == [
        (
            "E9026",
            "Config: the shadow variant has the production variant's name 'AllTraffic'; variant names of an endpoint "
            "are distinct (CreateEndpointConfig)",
        )
    ]


def _zero_scaling(*, asynchronous: bool, min_capacity: int = 0) -> dict[str, Any]:
    config: dict[str, Any] = {"ProductionVariants": [_variant("AllTraffic")]}
    if asynchronous:
        config["AsyncInferenceConfig"] = {"OutputConfig": {"S3OutputPath": "s3://b/out"}}
    return template(
        Config={"Type": "AWS::SageMaker::EndpointConfig", "Properties": config},
        Endpoint={
            "Type": "AWS::SageMaker::Endpoint",
            "Properties": {
                "EndpointName": "ep",
                "EndpointConfigName": {"Fn::GetAtt": ["Config", "EndpointConfigName"]},
            },
        },
        Target={
            "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
            "Properties": {
                "ServiceNamespace": "sagemaker",
                "ResourceId": "endpoint/ep/variant/AllTraffic",
                "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
                "MinCapacity": min_capacity,
                "MaxCapacity": 2,
            },
        },
    )


def test_real_time_variant_scaled_to_zero_fires() -> None:
    result = findings(_zero_scaling(asynchronous=False))
    assert [rule for rule, _ in result] == ["E9027"]
    assert "MinCapacity 0 on endpoint 'ep', whose config Config is not asynchronous" in result[0][1]


def test_async_variant_scaled_to_zero_passes() -> None:
    assert fired(_zero_scaling(asynchronous=True)) == []


def test_real_time_variant_with_a_minimum_of_one_passes() -> None:
    assert fired(_zero_scaling(asynchronous=False, min_capacity=1)) == []
