"""Clarify config: exact tests for the mutants `make mutate-lambda FN=clarify_config` found alive."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest

from tests.lambda_.conftest import REPO_ROOT

CLARIFY_DIR = REPO_ROOT / "lambda" / "clarify_config"


def _import(folder: str, name: str) -> Iterator[ModuleType]:
    # As the Lambda runtime imports them (the folder is the asset root), under the names mutmut gives the mutants.
    sys.path.insert(0, str(REPO_ROOT / "lambda" / folder))
    try:
        yield __import__(name)
    finally:
        sys.path.remove(str(REPO_ROOT / "lambda" / folder))


@pytest.fixture
def analysis_config() -> Iterator[ModuleType]:
    yield from _import("clarify_config", "analysis_config")


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
