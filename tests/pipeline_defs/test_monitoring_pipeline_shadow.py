"""The monitoring pipeline of a shadow-tested endpoint: the analysis also reads the shadow variant's capture."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pipeline_defs.monitoring_pipeline import ANALYSE_STEP
from pipeline_defs.monitoring_settings import MonitoringPlaceholders
from pipeline_defs.render import build_definition
from tests.pipeline_defs.botocore_shapes import validate_step_arguments
from tests.pipeline_defs.test_monitoring_pipeline import BUILDER, make_settings

P = MonitoringPlaceholders
DATA_DIR = "/opt/ml/processing/input/data"


def _steps(**overrides: Any) -> dict[str, dict[str, Any]]:
    rendered = build_definition(BUILDER, make_settings(**overrides), P.all() | P.own())
    return {step["Name"]: step for step in json.loads(rendered)["Steps"]}


@pytest.fixture(scope="module")
def plain() -> dict[str, dict[str, Any]]:
    return _steps()


@pytest.fixture(scope="module")
def shadowed() -> dict[str, dict[str, Any]]:
    return _steps(shadow_variant_name="Shadow")


def test_the_shadow_capture_dir_is_the_only_difference(
    plain: dict[str, dict[str, Any]], shadowed: dict[str, dict[str, Any]]
) -> None:
    arguments = shadowed[ANALYSE_STEP]["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert arguments[-2:] == ["--shadow-capture-dir", f"{DATA_DIR}/mlops-dev-breast-cancer/Shadow"]
    # Production's capture stays under its own variant: the shadow's copies are not analysed as traffic.
    assert arguments[arguments.index("--capture-dir") + 1] == f"{DATA_DIR}/mlops-dev-breast-cancer/AllTraffic"
    # The same job input (the model's whole capture prefix) already holds the shadow's files.
    shadowed[ANALYSE_STEP]["Arguments"]["AppSpecification"]["ContainerArguments"] = arguments[:-2]
    assert shadowed == plain


def test_the_shadow_analysis_is_a_valid_create_processing_job_request(shadowed: dict[str, dict[str, Any]]) -> None:
    validate_step_arguments(shadowed[ANALYSE_STEP])


def test_an_endpoint_without_a_shadow_gets_no_shadow_argument(plain: dict[str, dict[str, Any]]) -> None:
    assert "--shadow-capture-dir" not in plain[ANALYSE_STEP]["Arguments"]["AppSpecification"]["ContainerArguments"]


@pytest.mark.parametrize("bad", ["AllTraffic", "bad_name", ""])
def test_a_bad_shadow_variant_name_is_refused_with_the_field_named(bad: str) -> None:
    with pytest.raises(ValueError, match=f"shadow_variant_name={bad!r}: a variant name other than 'AllTraffic'"):
        make_settings(shadow_variant_name=bad)
