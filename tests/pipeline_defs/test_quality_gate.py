"""The registration gate and evaluation per problem type, as the XGBoost builder renders them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pipeline_defs.model_pipeline import (
    EVALUATE_STEP,
    MODEL_QUALITY_STEP,
    PREPROCESS_STEP,
    REGISTER_STEP,
    TRAIN_STEP,
    condition_step_name,
    fail_step_name,
    threshold_parameter,
)
from pipeline_defs.render import build_definition
from pipeline_defs.settings import SKLEARN_1_2, ImageRef, TrainingPipelineSettings, report_json_path
from pipeline_defs.steps.hyperparameters import resolved_hyperparameters
from tests.pipeline_defs.botocore_shapes import validate_step_arguments
from tests.pipeline_defs.test_training_pipeline import BUILDER, all_steps, make_settings

CASES = {
    # id: (settings overrides, condition type, fail step, JSON path)
    "binary-auc": (
        {},
        "GreaterThanOrEqualTo",
        "AucBelowThreshold",
        "binary_classification_metrics.auc.value",
    ),
    "multiclass-f1": (
        {
            "problem_type": "multiclass_classification",
            "quality_metric": "f1",
            "quality_threshold": 0.8,
            "hyperparameters": {"num_class": "3"},
        },
        "GreaterThanOrEqualTo",
        "F1BelowThreshold",
        "multiclass_classification_metrics.macro_f1.value",
    ),
    "multiclass-accuracy": (
        {
            "problem_type": "multiclass_classification",
            "quality_metric": "accuracy",
            "quality_threshold": 0.85,
            "hyperparameters": {"num_class": "4"},
        },
        "GreaterThanOrEqualTo",
        "AccuracyBelowThreshold",
        "multiclass_classification_metrics.accuracy.value",
    ),
    "regression-rmse": (
        {"problem_type": "regression", "quality_metric": "rmse", "quality_threshold": 12.5},
        "LessThanOrEqualTo",
        "RmseAboveThreshold",
        "regression_metrics.rmse.value",
    ),
    "regression-r2": (
        {"problem_type": "regression", "quality_metric": "r2", "quality_threshold": 0.4},
        "GreaterThanOrEqualTo",
        "R2BelowThreshold",
        "regression_metrics.r2.value",
    ),
}


@pytest.fixture(scope="module")
def definitions() -> dict[str, dict[str, Any]]:
    """Each case rendered once."""
    return {case: json.loads(build_definition(BUILDER, make_settings(**CASES[case][0]))) for case in CASES}


@pytest.mark.parametrize("case", list(CASES))
def test_the_gate_compares_the_configured_metric(definitions: dict[str, dict[str, Any]], case: str) -> None:
    overrides, condition_type, fail_name, json_path = CASES[case]
    metric = overrides.get("quality_metric", "auc")
    definition = definitions[case]
    steps = all_steps(definition)
    condition_step = steps[condition_step_name(metric)]
    (condition,) = condition_step["Arguments"]["Conditions"]
    value = {
        "Std:JsonGet": {"Path": json_path, "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"}}
    }

    assert condition == {
        "LeftValue": value,
        "RightValue": {"Get": f"Parameters.{threshold_parameter(metric)}"},
        "Type": condition_type,
    }
    assert [s["Name"] for s in condition_step["Arguments"]["IfSteps"]] == [REGISTER_STEP]
    assert [s["Name"] for s in condition_step["Arguments"]["ElseSteps"]] == [fail_name]
    parameters = {p["Name"]: p["DefaultValue"] for p in definition["Parameters"]}
    assert parameters[threshold_parameter(metric)] == overrides.get("quality_threshold", 0.75)
    assert [name for name in parameters if name.endswith("Threshold")] == [threshold_parameter(metric)]
    message = steps[fail_name]["Arguments"]["ErrorMessage"]["Std:Join"]["Values"]
    assert message[1] == value
    assert message[2] == (
        "is above the threshold" if condition_type == "LessThanOrEqualTo" else "is below the threshold"
    )


def test_the_binary_sample_keeps_its_step_and_parameter_names() -> None:
    # Renamed steps would break step caching and anything that looks them up by name.
    assert condition_step_name("auc") == "CheckAucThreshold"
    assert fail_step_name("auc", lower_is_better=False) == "AucBelowThreshold"
    assert threshold_parameter("auc") == "AucThreshold"
    assert report_json_path("binary_classification", "auc") == "binary_classification_metrics.auc.value"


@pytest.mark.parametrize(
    ("case", "problem_type", "probability"),
    [
        ("binary-auc", "BinaryClassification", "probability"),
        ("multiclass-f1", "MulticlassClassification", None),
        ("regression-rmse", "Regression", None),
    ],
)
def test_the_model_quality_baseline_has_the_problem_type(
    definitions: dict[str, dict[str, Any]], case: str, problem_type: str, probability: str | None
) -> None:
    environment = all_steps(definitions[case])[MODEL_QUALITY_STEP]["Arguments"]["Environment"]

    assert environment["problem_type"] == problem_type
    assert environment["inference_attribute"] == "prediction"
    assert environment["ground_truth_attribute"] == "label"
    assert environment.get("probability_attribute") == probability


@pytest.mark.parametrize(
    ("case", "arguments"),
    [
        ("binary-auc", ["--base-dir", "/opt/ml/processing"]),
        ("multiclass-f1", ["--base-dir", "/opt/ml/processing", "--problem-type", "multiclass_classification"]),
        ("regression-rmse", ["--base-dir", "/opt/ml/processing", "--problem-type", "regression"]),
    ],
)
def test_the_scripts_are_told_the_problem_type(
    definitions: dict[str, dict[str, Any]], case: str, arguments: list[str]
) -> None:
    steps = all_steps(definitions[case])
    for name in (PREPROCESS_STEP, EVALUATE_STEP):
        assert steps[name]["Arguments"]["AppSpecification"]["ContainerArguments"] == arguments, name


@pytest.mark.parametrize(
    ("case", "objective", "num_class"),
    [
        ("binary-auc", "binary:logistic", None),
        ("multiclass-f1", "multi:softprob", "3"),
        ("regression-r2", "reg:squarederror", None),
    ],
)
def test_the_objective_follows_the_problem_type(
    definitions: dict[str, dict[str, Any]], case: str, objective: str, num_class: str | None
) -> None:
    hyperparameters = all_steps(definitions[case])[TRAIN_STEP]["Arguments"]["HyperParameters"]

    assert hyperparameters["objective"] == objective
    assert hyperparameters.get("num_class") == num_class
    assert hyperparameters["num_round"] == "50"


@pytest.mark.parametrize("case", list(CASES))
def test_every_step_of_every_problem_type_is_a_valid_request(definitions: dict[str, dict[str, Any]], case: str) -> None:
    validated = 0
    for step in all_steps(definitions[case]).values():
        if step["Type"] in ("Condition", "Fail"):
            continue
        validate_step_arguments(step)
        validated += 1
    assert validated == 6


@pytest.mark.parametrize(
    ("problem_type", "overrides", "message"),
    [
        ("multiclass_classification", {}, r"num_class=''.*training.hyperparameters"),
        ("multiclass_classification", {"num_class": "1"}, r"num_class='1'"),
        (
            "multiclass_classification",
            {"num_class": "3", "objective": "multi:softmax"},
            r"'multi:softmax'.*probabilities",
        ),
        ("regression", {"objective": "binary:logistic"}, r"does not train a regression model"),
        ("binary_classification", {"objective": "reg:squarederror"}, r"does not train a binary_classification model"),
    ],
)
def test_hyperparameters_that_cannot_train_the_problem_type_are_refused(
    problem_type: str, overrides: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        resolved_hyperparameters(problem_type, overrides)


def test_a_multiclass_model_without_num_class_fails_to_render() -> None:
    settings = make_settings(problem_type="multiclass_classification", quality_metric="accuracy", quality_threshold=0.8)

    with pytest.raises(ValueError, match="num_class"):
        build_definition(BUILDER, settings)


def test_configured_images_train_process_and_serve(definitions: dict[str, dict[str, Any]]) -> None:
    own = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/serving@sha256:" + "a" * 64
    settings = make_settings(processing_image=SKLEARN_1_2, serving_image=ImageRef(uri=own))
    steps = all_steps(json.loads(build_definition(BUILDER, settings)))
    sklearn = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    xgboost = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"

    assert steps[PREPROCESS_STEP]["Arguments"]["AppSpecification"]["ImageUri"] == sklearn
    # A model's processing image replaces every processing step's, Evaluate's (otherwise the training image) too.
    assert steps[EVALUATE_STEP]["Arguments"]["AppSpecification"]["ImageUri"] == sklearn
    assert steps[TRAIN_STEP]["Arguments"]["AlgorithmSpecification"]["TrainingImage"] == xgboost
    (container,) = steps[REGISTER_STEP]["Arguments"]["InferenceSpecification"]["Containers"]
    assert container["Image"] == own
    default = all_steps(definitions["binary-auc"])
    assert default[EVALUATE_STEP]["Arguments"]["AppSpecification"]["ImageUri"] == xgboost


def test_settings_refuse_a_metric_of_another_problem_type() -> None:
    with pytest.raises(ValueError, match=r"quality_metric='auc': allowed for regression \['rmse', 'mae', 'r2'\]"):
        TrainingPipelineSettings(
            pipeline_name="p", region="eu-west-1", model_package_group_name="g", problem_type="regression"
        )
