"""A new approved version updates the same endpoint in place; no approved version means no endpoint at all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlops_config import PlatformConfig, parse_config
from tests.conftest import raw_default_config
from tests.infra.serving_app import build_serving, package_arn, stack_template

SAGEMAKER_TYPES = ("AWS::SageMaker::Model", "AWS::SageMaker::EndpointConfig", "AWS::SageMaker::Endpoint")


def resources_by_type(config: PlatformConfig, version: int) -> dict[str, dict[str, Any]]:
    _, stacks = build_serving(config, {"prod": {"breast-cancer": package_arn(version)}}, environments=("prod",))
    stack = stacks["prod"]
    assert stack is not None
    template = stack_template(stack)
    kinds = (*SAGEMAKER_TYPES, "AWS::SageMaker::Pipeline", "Custom::ModelPromotion")
    return {kind: dict(template.find_resources(kind)) for kind in kinds}


@pytest.fixture(scope="module")
def versions(default_config: PlatformConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    return resources_by_type(default_config, 3), resources_by_type(default_config, 4)


def test_new_version_replaces_model_and_config_and_updates_the_same_endpoint(
    versions: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    old, new = versions
    for kind in (*SAGEMAKER_TYPES, "AWS::SageMaker::Pipeline"):
        assert set(old[kind]) == set(new[kind]), f"{kind}: logical IDs must stay the same"

    (model_id,) = old["AWS::SageMaker::Model"]
    old_model = old["AWS::SageMaker::Model"][model_id]["Properties"]
    new_model = new["AWS::SageMaker::Model"][model_id]["Properties"]
    # The model reads the promotion's attributes; the promotion's properties name the new version, so its copy (a
    # new physical ID) changes ModelDataUrl: PrimaryContainer changes require replacement, and without a ModelName
    # CloudFormation generates a fresh one.
    (promotion_id,) = new["Custom::ModelPromotion"]
    assert set(old["Custom::ModelPromotion"]) == {promotion_id}
    old_copy = old["Custom::ModelPromotion"][promotion_id]["Properties"]
    new_copy = new["Custom::ModelPromotion"][promotion_id]["Properties"]
    assert (old_copy["PackageArn"], new_copy["PackageArn"]) == (package_arn(3), package_arn(4))
    assert (old_copy["ArtifactKey"], new_copy["ArtifactKey"]) == (
        "promoted/breast-cancer/v3/model.tar.gz",
        "promoted/breast-cancer/v4/model.tar.gz",
    )
    assert new_model["PrimaryContainer"]["ModelDataUrl"] == {"Fn::GetAtt": [promotion_id, "ModelDataUrl"]}
    assert "ModelName" not in old_model and "ModelName" not in new_model

    (config_id,) = new["AWS::SageMaker::EndpointConfig"]
    config = new["AWS::SageMaker::EndpointConfig"][config_id]["Properties"]
    # The config follows the model's generated name, so it is replaced too, again under a generated name.
    assert config["ProductionVariants"][0]["ModelName"] == {"Fn::GetAtt": [model_id, "ModelName"]}
    assert "EndpointConfigName" not in config

    (endpoint_id,) = new["AWS::SageMaker::Endpoint"]
    old_endpoint = old["AWS::SageMaker::Endpoint"][endpoint_id]["Properties"]
    new_endpoint = new["AWS::SageMaker::Endpoint"][endpoint_id]["Properties"]
    # Only EndpointConfigName and the lineage tags change on the endpoint: an update without interruption, same name.
    old_tags, new_tags = old_endpoint.pop("Tags"), new_endpoint.pop("Tags")
    assert old_endpoint == new_endpoint
    changed = {t["Key"] for t in new_tags if t not in old_tags}
    assert changed == {"mlops:model-package-arn"}, "the hash and copy location follow the promotion's attributes"
    assert new_endpoint["EndpointName"] == "mlops-prod-breast-cancer-m5-large"
    assert new_endpoint["EndpointConfigName"] == {"Fn::GetAtt": [config_id, "EndpointConfigName"]}
    assert "BlueGreenUpdatePolicy" in new_endpoint["DeploymentConfig"]

    (pipeline_id,) = new["AWS::SageMaker::Pipeline"]
    old_pipeline = old["AWS::SageMaker::Pipeline"][pipeline_id]["Properties"]
    new_pipeline = new["AWS::SageMaker::Pipeline"][pipeline_id]["Properties"]
    assert old_pipeline["PipelineName"] == new_pipeline["PipelineName"]
    assert package_arn(4) in str(new_pipeline) and package_arn(3) not in str(new_pipeline)
    assert "Promotion" in str(new_pipeline["PipelineDefinition"]), "the batch model is the promoted copy"


def test_no_approved_model_means_no_serving_stack(default_config: PlatformConfig) -> None:
    _, stacks = build_serving(default_config, {})
    assert stacks == {"dev": None, "staging": None, "prod": None}


def test_pinned_package_is_served_without_an_approval() -> None:
    raw = raw_default_config()
    raw["models"][0]["environments"]["staging"]["serving"]["model_package_arn"] = package_arn(7)
    config = parse_config(raw, source=Path("test.yaml"))
    _, stacks = build_serving(config, {}, environments=("staging", "prod"))
    assert stacks["prod"] is None
    staging = stacks["staging"]
    assert staging is not None and staging.endpoint is not None
    (model,) = stack_template(staging).find_resources("AWS::SageMaker::Model").values()
    (promotion,) = stack_template(staging).find_resources("Custom::ModelPromotion").values()
    assert promotion["Properties"]["PackageArn"] == package_arn(7)
    assert model["Properties"]["PrimaryContainer"]["ModelDataUrl"]["Fn::GetAtt"][1] == "ModelDataUrl"


def test_mode_none_with_batch_has_a_pipeline_but_no_endpoint() -> None:
    raw = raw_default_config()
    raw["models"][0]["environments"]["prod"]["serving"]["mode"] = "none"
    config = parse_config(raw, source=Path("test.yaml"))
    app, stacks = build_serving(config, {"prod": {"breast-cancer": package_arn(3)}}, environments=("prod",))
    prod = stacks["prod"]
    assert prod is not None and prod.endpoint is None and prod.batch_pipeline is not None
    template = stack_template(prod)
    for kind in SAGEMAKER_TYPES:
        template.resource_count_is(kind, 0)
    template.resource_count_is("AWS::SageMaker::Pipeline", 1)
    app.synth()  # cdk-nag passes without the endpoint's acknowledgements too


def test_default_synth_has_no_endpoint(default_app: tuple[Any, dict[str, Any]]) -> None:
    _, stages = default_app
    for stage in stages.values():
        assert stage.serving == {}
        for stack in stage.node.children:
            if hasattr(stack, "template_options"):
                stack_template(stack).resource_count_is("AWS::SageMaker::Endpoint", 0)
