"""Negative controls for the botocore-shape validator the pipeline tests rely on: a bad step must fail it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.pipeline_defs.botocore_shapes import validate_step_arguments

GOOD: dict[str, Any] = {
    "Name": "Analyse",
    "Type": "Processing",
    "Arguments": {
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30}
        },
        "AppSpecification": {"ImageUri": "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1"},
        "RoleArn": {"Get": "Parameters.RoleArn"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    },
}


def _step(change: Any) -> dict[str, Any]:
    step = copy.deepcopy(GOOD)
    change(step["Arguments"])
    return step


def test_the_positive_control_passes() -> None:
    validate_step_arguments(copy.deepcopy(GOOD))


def test_an_expression_stands_in_for_a_number() -> None:
    step = _step(lambda a: a["ProcessingResources"]["ClusterConfig"].update(InstanceCount={"Get": "Parameters.Count"}))
    validate_step_arguments(step)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda a: a.pop("RoleArn"), ["Missing required parameter", "RoleArn"]),
        (lambda a: a.pop("AppSpecification"), ["Missing required parameter", "AppSpecification"]),
        (
            lambda a: a["ProcessingResources"]["ClusterConfig"].update(InstanceCount="1"),
            ["Invalid type for parameter ProcessingResources.ClusterConfig.InstanceCount", "type: <class 'str'>"],
        ),
        (
            lambda a: a["ProcessingResources"]["ClusterConfig"].update(VolumeSizeInGB=0),
            ["Invalid value for parameter ProcessingResources.ClusterConfig.VolumeSizeInGB", "valid min value: 1"],
        ),
        (lambda a: a.update(Unknown=1), ['Unknown parameter in input: "Unknown"']),
    ],
    ids=["no role", "no app specification", "count as string", "volume 0 GB", "unknown key"],
)
def test_a_bad_step_fails_naming_the_parameter(change: Any, words: list[str]) -> None:
    with pytest.raises(AssertionError) as caught:
        validate_step_arguments(_step(change))
    message = str(caught.value)
    assert message.startswith("step 'Analyse' (CreateProcessingJob) is invalid:\n"), message
    for word in words:
        assert word in message, message


def test_a_step_type_without_a_known_operation_fails() -> None:
    step = copy.deepcopy(GOOD)
    step["Type"] = "Lambda"
    with pytest.raises(AssertionError, match=r"^step 'Analyse': no API operation known for 'Lambda'$"):
        validate_step_arguments(step)


def test_an_expression_where_a_structure_belongs_fails() -> None:
    step = _step(lambda a: a.update(ProcessingResources={"Get": "Parameters.Resources"}))
    with pytest.raises(AssertionError, match="no sample value for an expression in place of a structure"):
        validate_step_arguments(step)
