"""One stack per served model and environment (stacks/model_stack.py), and why a monitoring change is safe there.

The serving half keeps the logical IDs, construct ID and CloudFormation name the serving stack had; the monitoring
half has its own construct ID. A change of monitoring settings only (backend, schedule, thresholds, alarms,
monitoring off) must leave every endpoint-side resource byte for byte as it was: the Model, EndpointConfig,
Endpoint, the scaling target and policy, the promotion custom resource, the roles, the batch pipeline and the
outputs. Each variant below is a separate synth of prod alone with only the monitoring section changed, diffed
against prod of the shipped configuration.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Stack

from mlops_constructs import naming
from mlops_constructs.promotion import required_baselines
from stacks.model_stack import ModelStack, model_stack_id
from stacks.monitoring_stack import monitor_kinds
from tests.conftest import APPROVED_PACKAGE, MODEL_MONITOR, build_app, config_with_monitoring
from tests.infra.stack_parts import logical_ids, part_json

MODEL = "breast-cancer"
# Every kind of endpoint-side resource the diff must cover (the test fails if one is missing from the diff).
ENDPOINT_SIDE = (
    "AWS::SageMaker::Model",
    "AWS::SageMaker::EndpointConfig",
    "AWS::SageMaker::Endpoint",
    "AWS::ApplicationAutoScaling::ScalableTarget",
    "AWS::ApplicationAutoScaling::ScalingPolicy",
    "Custom::ModelPromotion",
    "AWS::IAM::Role",
    "AWS::SageMaker::Pipeline",
    "AWS::SSM::Parameter",
)
# Monitoring-only changes of prod (shipped: backend open with the defaults).
TUNED_OPEN = {
    "backend": "open",
    "schedule": "cron(30 */6 ? * * *)",
    "instance_type": "ml.m5.xlarge",
    "instance_count": 2,
    "psi_threshold": 0.3,
    "p_value_threshold": 0.01,
    "alarms": {"latency_p99_ms": 250, "error_5xx_threshold": 1, "evaluation_periods": 5, "datapoints_to_alarm": 4},
}
OFF = {"backend": "open", "enabled": False}


def _prod_model_stack(monitoring: dict[str, Any]) -> ModelStack:
    _, stages = build_app(
        config_with_monitoring({"prod": monitoring}),
        approved={"prod": {MODEL: APPROVED_PACKAGE}},
        environments=["prod"],
    )
    stack = stages["prod"].models[MODEL]
    assert isinstance(stack, ModelStack)
    return stack


@pytest.fixture(scope="module")
def shipped(approved_app: tuple[Any, dict[str, Any]]) -> ModelStack:
    stack = approved_app[1]["prod"].models[MODEL]
    assert isinstance(stack, ModelStack)
    return stack


@pytest.fixture(scope="module")
def variants(model_monitor_stage: Any) -> dict[str, ModelStack]:
    """prod with only its monitoring changed: tuned open backend, Model Monitor (shared session app), off."""
    return {
        "tuned-open": _prod_model_stack(TUNED_OPEN),
        "model-monitor": model_monitor_stage.models[MODEL],
        "off": _prod_model_stack(OFF),
    }


def _endpoint_side(stack: ModelStack) -> dict[str, Any]:
    """The stack's template without its monitoring's resources: resources, outputs and parameters."""
    template = part_json(stack.serving)
    return {key: template.get(key, {}) for key in ("Resources", "Outputs", "Parameters", "Conditions")}


def _canonical(value: Any) -> str:
    return json.dumps(value, indent=1, sort_keys=True)


def test_a_model_is_at_most_four_stacks_across_the_three_environments(approved_app: tuple[Any, Any]) -> None:
    _, stages = approved_app
    per_stage = {
        env: sorted(child.node.id for child in stage.node.children if isinstance(child, Stack))
        for env, stage in stages.items()
    }
    # The approved app serves the sample model; the shipped diabetes sample trains in dev but is not served there.
    assert per_stage == {
        "dev": ["Data", f"Serving-{MODEL}", f"Training-{MODEL}", "Training-diabetes"],
        "staging": ["Data", f"Serving-{MODEL}"],
        "prod": ["Data", f"Serving-{MODEL}"],
    }
    model_stacks = [name for names in per_stage.values() for name in names if name.endswith(f"-{MODEL}")]
    assert len(model_stacks) == 4
    # Each served model is one stack holding both halves; monitoring only where there is an endpoint to watch.
    for stage in stages.values():
        stack = stage.models[MODEL]
        assert stack.serving is stage.serving[MODEL] and stack.monitoring is stage.monitoring[MODEL]


def test_the_model_stack_keeps_the_serving_stacks_names_and_logical_ids(shipped: ModelStack) -> None:
    assert shipped.node.id == model_stack_id(MODEL) == f"Serving-{MODEL}"
    assert shipped.stack_name == naming.stack_name("mlops", "prod", f"{MODEL}-serving")
    endpoint = shipped.get_logical_id(shipped.serving.endpoint.resource)  # type: ignore[union-attr]
    promotion = shipped.get_logical_id(shipped.serving.promotion.resource.node.default_child)  # type: ignore[arg-type]
    # "Default" is left out of logical IDs: the serving stack's own IDs, not "Default..." or "Serving...".
    assert shipped.resolve(endpoint).startswith("Endpoint") and shipped.resolve(promotion).startswith("PromotionCopy")
    assert shipped.monitoring is not None
    assert all(logical_id.startswith("Monitoring") for logical_id in logical_ids(shipped.monitoring))
    outputs = part_json(shipped)["Outputs"]
    assert {"ServedModelPackageArn", "ModelArtifactSha256", "PromotedModelDataUrl", "SourceModelDataUrl"} <= set(
        outputs
    )


def test_the_endpoint_side_covers_every_endpoint_resource(shipped: ModelStack) -> None:
    types = {resource["Type"] for resource in _endpoint_side(shipped)["Resources"].values()}
    assert set(ENDPOINT_SIDE) <= types
    monitoring_types = {resource["Type"] for resource in part_json(shipped.monitoring)["Resources"].values()}  # type: ignore[arg-type]
    assert not {"AWS::SageMaker::Model", "AWS::SageMaker::Endpoint", "Custom::ModelPromotion"} & monitoring_types


@pytest.mark.parametrize("variant", ["tuned-open", "off"])
def test_a_monitoring_change_leaves_the_endpoint_side_byte_identical(
    shipped: ModelStack, variants: dict[str, ModelStack], variant: str
) -> None:
    changed = variants[variant]
    assert _canonical(_endpoint_side(changed)) == _canonical(_endpoint_side(shipped))
    # ... and the change is real: the monitoring half differs (or is gone).
    if variant == "off":
        assert changed.monitoring is None
    else:
        assert changed.monitoring is not None
        assert _canonical(part_json(changed.monitoring)["Resources"]) != _canonical(
            part_json(shipped.monitoring)["Resources"]  # type: ignore[arg-type]
        )


def test_switching_to_model_monitor_changes_only_the_promotions_required_baselines(
    shipped: ModelStack, variants: dict[str, ModelStack]
) -> None:
    """Model Monitor reads baselines the open backend does not need; promotion refuses, at deploy, a package that lacks
    one (``RequiredBaselines``). That one property of the promotion is the whole endpoint-side difference: an
    in-place update of the custom resource, whose handler answers an update of the same version with the same
    physical ID and attributes (lambda/promote_model/handler.py), so nothing that reads them (the Model) changes."""
    before, after = _endpoint_side(shipped), _endpoint_side(variants["model-monitor"])
    promotion = next(k for k, v in before["Resources"].items() if v["Type"] == "Custom::ModelPromotion")
    assert before["Resources"][promotion]["Properties"]["RequiredBaselines"] == []
    settings = config_with_monitoring({"prod": MODEL_MONITOR}).models[0].in_environment("prod").monitoring
    expected = required_baselines(monitor_kinds(settings))
    assert expected  # data and model quality, bias and explainability all read baselines
    assert after["Resources"][promotion]["Properties"]["RequiredBaselines"] == expected
    after["Resources"][promotion]["Properties"]["RequiredBaselines"] = []
    assert _canonical(after) == _canonical(before)
