"""Clarify config: exact tests for the mutants `make mutate-lambda FN=clarify_config` found alive."""

from __future__ import annotations

import json
from types import ModuleType

import pytest


def test_the_served_models_config_is_sorted_two_space_json(analysis_config: ModuleType) -> None:
    source = json.dumps({"predictor": {"model_name": "old", "instance_type": "ml.m5.large"}, "methods": {}}).encode()

    assert analysis_config.for_served_model(source, "new") == (
        b'{\n  "methods": {},\n  "predictor": {\n    "instance_type": "ml.m5.large",\n    "model_name": "new"\n  }\n}'
    )


def test_an_endpoint_name_is_refused_naming_the_source(analysis_config: ModuleType) -> None:
    source = json.dumps({"predictor": {"endpoint_name": "live"}}).encode()

    with pytest.raises(analysis_config.AnalysisConfigError) as error:
        analysis_config.for_served_model(source, "new")

    assert str(error.value) == (
        "the source: predictor.endpoint_name 'live' makes Clarify call that endpoint, not a shadow endpoint of the "
        "served model; remove it"
    )
