"""The monitoring pipeline definition: graph, isolation, encryption, placeholders, API validity."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops_constructs.sagemaker_pipeline import placeholders_in
from pipeline_defs.monitoring_pipeline import ANALYSE_STEP, PUBLISH_STEP
from pipeline_defs.monitoring_settings import MonitoringPipelineSettings, MonitoringPlaceholders
from pipeline_defs.render import build_definition
from tests.pipeline_defs.botocore_shapes import validate_step_arguments

BUILDER = "pipeline_defs.monitoring_pipeline:build_monitoring_pipeline"
P = MonitoringPlaceholders


def make_settings(**overrides: Any) -> MonitoringPipelineSettings:
    """Settings of the sample model's endpoint; tests override what they look at."""
    values: dict[str, Any] = {
        "pipeline_name": "mlops-dev-breast-cancer-monitoring",
        "region": "eu-west-1",
        "model": "breast-cancer",
        "environment": "dev",
        "endpoint_name": "mlops-dev-breast-cancer",
        "capture_prefix": "breast-cancer/",
        "baseline_prefix": "breast-cancer/baselines/",
        "ground_truth_prefix": "breast-cancer/ground-truth/",
        "subnet_ids": ("subnet-0123456789abcdef0",),
        "security_group_ids": ("sg-0123456789abcdef0",),
    }
    values.update(overrides)
    return MonitoringPipelineSettings(**values)


@pytest.fixture(scope="module")
def rendered() -> str:
    """The definition JSON as the construct deploys it (rendered once: the SDK is slow)."""
    return build_definition(BUILDER, make_settings(), P.all() | P.own())


@pytest.fixture(scope="module")
def steps(rendered: str) -> dict[str, dict[str, Any]]:
    """Steps by name."""
    return {step["Name"]: step for step in json.loads(rendered)["Steps"]}


def test_two_processing_steps_analyse_then_publish(steps: dict[str, dict[str, Any]]) -> None:
    assert {name: step["Type"] for name, step in steps.items()} == {
        ANALYSE_STEP: "Processing",
        PUBLISH_STEP: "Processing",
    }
    metrics_input = next(i for i in steps[PUBLISH_STEP]["Arguments"]["ProcessingInputs"] if i["InputName"] == "metrics")
    assert metrics_input["S3Input"]["S3Uri"] == {
        "Get": f"Steps.{ANALYSE_STEP}.ProcessingOutputConfig.Outputs['metrics'].S3Output.S3Uri"
    }


@pytest.mark.parametrize("name", [ANALYSE_STEP, PUBLISH_STEP])
def test_every_step_is_a_valid_create_processing_job_request(steps: dict[str, dict[str, Any]], name: str) -> None:
    validate_step_arguments(steps[name])


def test_the_analysis_is_isolated_and_only_the_publisher_reaches_the_network(
    steps: dict[str, dict[str, Any]],
) -> None:
    analyse = steps[ANALYSE_STEP]["Arguments"]["NetworkConfig"]
    publish = steps[PUBLISH_STEP]["Arguments"]["NetworkConfig"]
    assert analyse["EnableNetworkIsolation"] is True
    assert publish["EnableNetworkIsolation"] is False
    for config in (analyse, publish):
        assert config["EnableInterContainerTrafficEncryption"] is True
        assert config["VpcConfig"] == {
            "Subnets": ["subnet-0123456789abcdef0"],
            "SecurityGroupIds": ["sg-0123456789abcdef0"],
        }


@pytest.mark.parametrize("name", [ANALYSE_STEP, PUBLISH_STEP])
def test_volumes_and_outputs_use_the_environment_key(steps: dict[str, dict[str, Any]], name: str) -> None:
    arguments = steps[name]["Arguments"]
    key = P.ref(P.KMS_KEY_ARN)
    assert arguments["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == key
    if name == ANALYSE_STEP:
        assert arguments["ProcessingOutputConfig"]["KmsKeyId"] == key


def test_analysis_reads_the_model_prefix_and_baseline_and_writes_to_the_monitoring_bucket(
    steps: dict[str, dict[str, Any]], rendered: str
) -> None:
    arguments = steps[ANALYSE_STEP]["Arguments"]
    inputs = {item["InputName"]: item["S3Input"]["S3Uri"] for item in arguments["ProcessingInputs"]}
    assert inputs["data"] == {"Get": "Parameters.CaptureDataUri"}
    assert inputs["baseline"] == {"Get": "Parameters.BaselineUri"}
    parameters = {item["Name"]: item.get("DefaultValue") for item in json.loads(rendered)["Parameters"]}
    assert parameters == {
        "CaptureDataUri": "s3://${CaptureBucket}/breast-cancer/",
        "BaselineUri": "s3://${ArtifactBucket}/breast-cancer/baselines/training/",
        "LookbackHours": "24",
    }
    container = arguments["AppSpecification"]["ContainerArguments"]
    assert container[:1] == ["analyse"]
    assert container[container.index("--capture-dir") + 1] == (
        "/opt/ml/processing/input/data/mlops-dev-breast-cancer/AllTraffic"
    )
    assert container[container.index("--ground-truth-dir") + 1] == "/opt/ml/processing/input/data/ground-truth"
    assert container[container.index("--endpoint") + 1] == "mlops-dev-breast-cancer"
    assert all(value != "" for value in container if isinstance(value, str))
    outputs = arguments["ProcessingOutputConfig"]["Outputs"]
    assert {output["OutputName"] for output in outputs} == {"report", "metrics"}
    assert "${MonitoringBucket}" in json.dumps(outputs)


def test_placeholders_are_exactly_what_the_construct_substitutes(rendered: str) -> None:
    assert placeholders_in(rendered) == {
        P.EXECUTION_ROLE_NAME,
        P.ARTIFACT_BUCKET,
        P.KMS_KEY_ARN,
        *P.own(),
    }
    assert "${!" not in rendered


def test_rendering_is_deterministic() -> None:
    first = build_definition(BUILDER, make_settings())
    assert build_definition(BUILDER, make_settings()) == first


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ground_truth_prefix": "labels/"}, "ground_truth_prefix"),
        ({"ground_truth_prefix": "breast-cancer/"}, "strictly under"),
        ({"p_value_threshold": 1.5}, "p_value_threshold"),
        ({"subnet_ids": ()}, "give both or neither"),
        ({"endpoint_name": "bad_name"}, "endpoint_name"),
        ({"capture_prefix": "/abs/"}, "capture_prefix"),
    ],
)
def test_bad_settings_are_refused_with_the_field_named(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_settings(**overrides)
