"""A model's kind: problem type, registration gate and images, each mistake refused naming file and field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from mlops_config import ConfigError, parse_config
from mlops_config.model_kind import ImageSettings, QualityGate, framework_repository
from tests.conftest import raw_default_config

SOURCE = Path("config/platform.yaml")
DIGEST = "sha256:" + "ab" * 32


def _model(**fields: Any) -> dict[str, Any]:
    raw = copy.deepcopy(raw_default_config())
    raw["models"][0].update(fields)
    return raw


def _refused(raw: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, source=SOURCE)
    return str(caught.value)


def test_binary_models_default_to_the_auc_gate_and_report_auc_accuracy_f1() -> None:
    raw = _model()
    raw["models"][0]["training"].pop("quality_gate")
    model = parse_config(raw, source=SOURCE).models[0]
    assert model.problem_type == "binary_classification"
    assert model.quality_gate == QualityGate(metric="auc", threshold=0.9)
    assert model.quality_metrics == ("auc", "accuracy", "f1")


def test_a_regression_model_gates_on_an_error_metric_at_or_below_its_threshold() -> None:
    model = parse_config(
        _model(problem_type="regression", training={"quality_gate": {"metric": "rmse", "threshold": 60}}),
        source=SOURCE,
    ).models[0]
    assert model.quality_gate.lower_is_better
    assert model.quality_metrics == ("rmse", "mae", "r2")
    assert not QualityGate(metric="r2", threshold=0.3).lower_is_better


def test_a_regression_model_must_say_its_gate() -> None:
    message = _refused(_model(problem_type="regression", training={}))
    assert "models[0]" in message
    assert "training.quality_gate: required for a regression model (no default); allowed metrics: rmse, mae, r2" in (
        message
    )


@pytest.mark.parametrize(
    ("problem_type", "metric", "allowed"),
    [
        ("regression", "auc", "rmse, mae, r2"),
        ("multiclass_classification", "auc", "accuracy, f1"),
        ("binary_classification", "rmse", "auc, accuracy, f1"),
    ],
)
def test_a_gate_metric_of_another_problem_type_is_refused(problem_type: str, metric: str, allowed: str) -> None:
    message = _refused(
        _model(problem_type=problem_type, training={"quality_gate": {"metric": metric, "threshold": 0.5}})
    )
    assert f"training.quality_gate.metric: {metric!r} is not a {problem_type} metric; allowed: {allowed}" in message


@pytest.mark.parametrize(
    ("metric", "threshold", "words"),
    [
        ("auc", 0, "outside auc's range; allowed: 0 < threshold <= 1"),
        ("f1", 1.01, "outside f1's range; allowed: 0 < threshold <= 1"),
        ("r2", 1.5, "can never be met by r2; allowed: at most 1"),
        ("rmse", 0, "can never be met by rmse; allowed: greater than 0"),
        ("mae", -1, "can never be met by mae; allowed: greater than 0"),
    ],
)
def test_a_threshold_no_model_can_meet_is_refused(metric: str, threshold: float, words: str) -> None:
    problem_type = "regression" if metric in ("r2", "rmse", "mae") else "binary_classification"
    message = _refused(
        _model(problem_type=problem_type, training={"quality_gate": {"metric": metric, "threshold": threshold}})
    )
    assert f"{SOURCE}: models[0].training.quality_gate" in message
    assert words in message


def test_an_unknown_problem_type_lists_the_allowed_ones() -> None:
    message = _refused(_model(problem_type="ranking"))
    assert "models[0].problem_type" in message
    assert "'binary_classification', 'multiclass_classification' or 'regression'" in message


def test_a_user_image_resolves_to_exactly_its_repository() -> None:
    image = ImageSettings(uri=f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/churn-serving@{DIGEST}")
    repository = image.repository("inference", "eu-west-1")
    assert (repository.account, repository.region, repository.repository, repository.reference) == (
        "123456789012",
        "eu-west-1",
        "team/churn-serving",
        DIGEST,
    )
    assert repository.uri == image.uri


def test_a_framework_image_resolves_offline_from_the_sdk_registry() -> None:
    sklearn = framework_repository("sklearn", "1.2-1", "inference", "eu-west-1")
    assert (sklearn.account, sklearn.repository, sklearn.reference) == ("141502667606", "sagemaker-scikit-learn", None)
    xgboost = ImageSettings(framework="xgboost", version="1.7-1").repository("training", "eu-west-1")
    assert (xgboost.account, xgboost.repository) == ("141502667606", "sagemaker-xgboost")


@pytest.mark.parametrize(
    ("image", "words"),
    [
        ({"uri": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/Team:latest"}, "is not an ECR image URI"),
        ({"uri": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team"}, "is not an ECR image URI"),
        ({"uri": "docker.io/library/python:3.12"}, "is not an ECR image URI"),
        ({"uri": f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/team@{DIGEST}\n"}, "is not an ECR image URI"),
        ({"uri": "١23456789012.dkr.ecr.eu-west-1.amazonaws.com/team:v1"}, "is not an ECR image URI"),
        (
            {"uri": f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/team@{DIGEST}", "framework": "xgboost"},
            "give either uri or framework and version, not both",
        ),
        ({"framework": "xgboost"}, "an image needs framework and version"),
        ({"framework": "lightgbm", "version": "4"}, "'xgboost', 'sklearn', 'pytorch' or 'tensorflow'"),
    ],
)
def test_a_bad_image_is_refused_naming_the_field(image: dict[str, Any], words: str) -> None:
    message = _refused(_model(images={"serving": image}))
    assert "models[0].images.serving" in message
    assert words in message


def test_a_framework_version_the_registry_lacks_lists_the_versions() -> None:
    message = _refused(_model(images={"training": {"framework": "sklearn", "version": "9.9-9"}}))
    assert "models[0].images.training (environment 'dev'): sklearn has no training image version '9.9-9'" in message
    assert "1.2-1" in message


def test_a_serving_image_is_checked_in_every_environment_region() -> None:
    # The SDK's registry has no XGBoost 1.7-1 image in mx-central-1, a Region SageMaker runs in: without the
    # check, prod's endpoint would fail to pull at deploy.
    raw = _model()
    raw["environments"][2]["region"] = "mx-central-1"
    message = _refused(raw)
    assert (
        "models[0].images.serving (environment 'prod'): xgboost 1.7-1 has no inference image in region mx-central-1"
        in message
    )
