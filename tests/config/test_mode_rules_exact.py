"""The whole message of each refusal in ``mlops_config/mode_rules.py``: file, field path, bad value and what is
allowed, as an operator reads it (mutation testing found only fragments of them asserted)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlops_config import ConfigError, parse_config
from tests.conftest import raw_default_config

PRODUCTION_V2 = "arn:aws:sagemaker:eu-west-1:111111111111:model-package/mlops-breast-cancer/2"
OTHER_GROUP = "arn:aws:sagemaker:eu-west-1:111111111111:model-package/mlops-other/2"
SHARED_CPU = {"inference_components": {"instance_type": "ml.m5.xlarge"}}


def refusal(env: str, serving: dict[str, Any], environment: dict[str, Any] | None = None) -> str:
    raw = raw_default_config()
    raw["models"][0]["environments"].setdefault(env, {})["serving"] = serving
    raw["models"][0]["environments"][env].pop("monitoring", None)
    if environment:
        next(e for e in raw["environments"] if e["name"] == env).update(environment)
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, source=Path("platform.yaml"))
    return str(caught.value)


def test_components_without_a_shared_endpoint_whole_message() -> None:
    assert refusal("staging", {"mode": "components"}) == (
        "invalid configuration\n  platform.yaml: models[0].environments.staging.serving.mode: 'components' needs the "
        "environment's shared endpoint, and environments[1] (staging) sets no inference_components; allowed: an "
        "inference_components block on the environment, or another serving.mode"
    )


def test_accelerators_on_a_cpu_shared_instance_whole_message() -> None:
    serving = {"mode": "components", "inference_component": {"compute": {"accelerator_devices": 2}}}
    assert refusal("staging", serving, SHARED_CPU) == (
        "invalid configuration\n  platform.yaml: models[0].environments.staging.serving.inference_component.compute."
        "accelerator_devices: 2 accelerator(s) per copy, but environments[1].inference_components.instance_type "
        "'ml.m5.xlarge' has none; allowed: no accelerator_devices, or a GPU/Inferentia/Trainium instance type "
        "(ml.g5.*, ml.g6.*, ml.p4d.*, ml.inf2.*, ...)"
    )


def test_shadow_of_a_package_outside_the_models_group_whole_message() -> None:
    serving = {"mode": "realtime", "realtime": {"shadow": {"production_package_arn": OTHER_GROUP}}}
    assert refusal("prod", serving) == (
        "invalid configuration\n  platform.yaml: models[0].environments.prod.serving.realtime.shadow."
        f"production_package_arn: '{OTHER_GROUP}' group 'mlops-other' is not the registry's 'mlops-breast-cancer'; "
        "allowed: a version of the model's package group in the registry"
    )


def test_shadow_of_the_pinned_candidate_whole_message() -> None:
    serving = {
        "mode": "realtime",
        "model_package_arn": PRODUCTION_V2,
        "realtime": {"shadow": {"production_package_arn": PRODUCTION_V2}},
    }
    assert refusal("prod", serving) == (
        "invalid configuration\n  platform.yaml: models[0].environments.prod.serving.realtime.shadow."
        "production_package_arn: the pinned candidate (model_package_arn) is the production package itself; allowed: "
        "another version (a shadow test compares two versions), or no shadow block"
    )
