"""Whole messages and both sides of each bound in ``mlops_config/inference_modes.py``.

Mutation testing reached only its undecorated functions (mutmut leaves pydantic validators alone); the URI refusal
was asserted in fragments. The validators' rules are pinned here too: each refusal's whole text, and the value at
each bound passing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.config.test_inference_modes_config import PRODUCTION_V2
from tests.config.test_inference_modes_config import parse_with as _parse
from tests.config.test_inference_modes_config import refused as _refusal

PREFIX = "invalid configuration\n  platform.yaml: "


def _async(async_inference: dict[str, Any]) -> str:
    return _refusal("prod", {"mode": "async", "async_inference": async_inference})


def _component(component: dict[str, Any]) -> str:
    shared = {"inference_components": {"instance_type": "ml.m5.xlarge"}}
    return _refusal("staging", {"mode": "components", "inference_component": component}, shared)


def _shared(shared: dict[str, Any]) -> str:
    return _refusal(
        "staging", {"mode": "components"}, {"inference_components": {"instance_type": "ml.m5.xlarge", **shared}}
    )


def test_an_async_prefix_given_as_a_uri_whole_message() -> None:
    assert _async({"output_prefix": "s3://other/out/"}) == (
        f"{PREFIX}models[0].environments.prod.serving.async_inference.output_prefix: 's3://other/out/' is a URI; "
        "allowed: a prefix of this environment's data bucket like 'my-model/async/output/' (async outputs and "
        "failures are written only to the environment's own buckets, encrypted with its key)"
    )


def test_async_overlapping_prefixes_whole_message_in_field_order() -> None:
    assert _async({"failure_prefix": "out/fail/", "output_prefix": "out/"}) == (
        f"{PREFIX}models[0].environments.prod.serving.async_inference: output_prefix 'out/' and failure_prefix "
        "'out/fail/' overlap; allowed: disjoint prefixes (results must never be read back as requests)"
    )


def test_async_initial_count_below_min_capacity_whole_message() -> None:
    assert _async({"initial_instance_count": 1, "autoscaling": {"min_capacity": 2, "max_capacity": 3}}) == (
        f"{PREFIX}models[0].environments.prod.serving.async_inference: initial_instance_count (1) is outside "
        "autoscaling [2, 3]; allowed: max(min_capacity, 1) <= initial_instance_count <= max_capacity"
    )


def test_async_max_capacity_below_min_capacity_whole_message() -> None:
    assert _async({"autoscaling": {"min_capacity": 3, "max_capacity": 2}}) == (
        f"{PREFIX}models[0].environments.prod.serving.async_inference.autoscaling: max_capacity (2) is below "
        "min_capacity (3); allowed: max_capacity >= min_capacity"
    )


@pytest.mark.parametrize(
    ("initial", "scaling"),
    [(2, {"min_capacity": 2, "max_capacity": 2}), (3, {"min_capacity": 2, "max_capacity": 3}), (1, {})],
)
def test_async_counts_at_their_bounds_pass(initial: int, scaling: dict[str, int]) -> None:
    config = _parse(
        "prod", {"mode": "async", "async_inference": {"initial_instance_count": initial, "autoscaling": scaling}}
    )
    assert config.models[0].in_environment("prod").serving.async_inference.initial_instance_count == initial


def test_a_shadow_below_one_percent_whole_message() -> None:
    shadow = {"production_package_arn": PRODUCTION_V2, "traffic_percent": 0.99}
    assert _refusal("prod", {"mode": "realtime", "realtime": {"shadow": shadow}}) == (
        f"{PREFIX}models[0].environments.prod.serving.realtime.shadow.traffic_percent: 0.99 copies less than one "
        "request in a hundred; allowed: 1-100 (the shadow's weight is a share of production's; below 1% the "
        "comparison alarms see too few requests to compare)"
    )


def test_a_shadow_of_an_unversioned_package_whole_message() -> None:
    arn = "arn:aws:sagemaker:eu-west-1:111111111111:model-package/mlops-breast-cancer"
    assert _refusal("prod", {"mode": "realtime", "realtime": {"shadow": {"production_package_arn": arn}}}) == (
        f"{PREFIX}models[0].environments.prod.serving.realtime.shadow.production_package_arn: '{arn}' is not a "
        "versioned model package ARN; allowed: arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>"
    )


def test_component_initial_copies_below_min_copies_whole_message() -> None:
    assert _component({"initial_copies": 1, "autoscaling": {"min_copies": 2, "max_copies": 3}}) == (
        f"{PREFIX}models[0].environments.staging.serving.inference_component: initial_copies (1) is outside "
        "autoscaling [2, 3]; allowed: max(min_copies, 1) <= initial_copies <= max_copies"
    )


def test_component_max_copies_below_min_copies_whole_message() -> None:
    assert _component({"autoscaling": {"min_copies": 3, "max_copies": 2}}) == (
        f"{PREFIX}models[0].environments.staging.serving.inference_component.autoscaling: max_copies (2) is below "
        "min_copies (3); allowed: max_copies >= min_copies"
    )


def test_shared_endpoint_bounds_whole_messages() -> None:
    assert _shared({"min_instances": 2, "max_instances": 1}) == (
        f"{PREFIX}environments[1].inference_components: max_instances (1) is below min_instances (2); allowed: "
        "max_instances >= min_instances"
    )
    assert _shared({"initial_instance_count": 1, "min_instances": 2, "max_instances": 3}) == (
        f"{PREFIX}environments[1].inference_components: initial_instance_count (1) is outside [2, 3]; allowed: "
        "max(min_instances, 1) <= initial_instance_count <= max_instances"
    )
    assert _shared({"instance_type": "ml.t2.medium"}) == (
        f"{PREFIX}environments[1].inference_components.instance_type: 'ml.t2.medium' is a burstable instance, which "
        "cannot reserve fixed CPU and memory per model copy; allowed: a real-time hosting instance with fixed "
        "resources (ml.m5.xlarge, ml.c5.2xlarge, ml.g5.xlarge, ...)"
    )


@pytest.mark.parametrize(
    ("component", "shared"),
    [
        (
            {"initial_copies": 2, "autoscaling": {"min_copies": 2, "max_copies": 2}},
            {"min_instances": 2, "max_instances": 2, "initial_instance_count": 2},
        ),
        (
            {"initial_copies": 3, "autoscaling": {"min_copies": 0, "max_copies": 3}},
            {"min_instances": 0, "max_instances": 3, "initial_instance_count": 3},
        ),
    ],
)
def test_component_and_shared_counts_at_their_bounds_pass(component: dict[str, Any], shared: dict[str, int]) -> None:
    config = _parse(
        "staging",
        {"mode": "components", "inference_component": component},
        {"inference_components": {"instance_type": "ml.m5.xlarge", **shared}},
    )
    assert (
        config.models[0].in_environment("staging").serving.inference_component.initial_copies
        == component["initial_copies"]
    )
    endpoint = config.environment("staging").inference_components
    assert endpoint is not None and endpoint.initial_instance_count == shared["initial_instance_count"]
