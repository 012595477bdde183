"""What serving and monitoring need of a model's kind: a user image they can pull, a quality alarm of its type."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mlops_config import parse_config
from mlops_config.model_kind import ProblemType, QualityGate
from pipeline_defs.monitoring_settings import PROBLEM_TYPES as PIPELINE_PROBLEM_TYPES
from pipeline_defs.steps.drift import PROBLEM_TYPES as SCRIPT_PROBLEM_TYPES
from tests.config.test_model_kind import DIGEST, SOURCE, _model, _refused

REPOSITORY = "555555555555.dkr.ecr.eu-west-1.amazonaws.com/team/model"


def test_a_digest_pinned_user_image_in_the_environments_region_is_accepted() -> None:
    model = parse_config(_model(images={"serving": {"uri": f"{REPOSITORY}@{DIGEST}"}}), source=SOURCE).models[0]
    assert model.images.serving.repository("inference", "eu-west-1").reference == DIGEST


def test_a_user_serving_image_in_another_region_is_refused() -> None:
    uri = f"555555555555.dkr.ecr.us-east-1.amazonaws.com/team/model@{DIGEST}"
    message = _refused(_model(images={"serving": {"uri": uri}}))
    assert (
        f"models[0].images.serving.uri (environment 'dev'): '{uri}' is in region us-east-1, the environment in "
        "eu-west-1; SageMaker pulls a model's image from its own Region only; allowed: an image in eu-west-1" in message
    )


def test_a_tag_pinned_user_image_is_refused_where_production_serves_it() -> None:
    uri = f"{REPOSITORY}:v3"
    message = _refused(_model(images={"serving": {"uri": uri}}))
    assert f"models[0].images.serving.uri (environment 'prod'): '{uri}' is pinned by tag" in message
    assert "allowed in a production environment: <repository>@sha256:<64 hex digits>" in message


def test_a_tag_pinned_user_image_is_accepted_without_production() -> None:
    raw = _model(images={"serving": {"uri": f"{REPOSITORY}:v3"}})
    raw["environments"] = raw["environments"][:2]
    for model in raw["models"]:
        model["environments"].pop("prod", None)
    assert parse_config(raw, source=SOURCE).models[0].images.serving.uri == f"{REPOSITORY}:v3"


REGRESSION = {"problem_type": "regression", "training": {"quality_gate": {"metric": "rmse", "threshold": 60}}}
MULTICLASS = {
    "problem_type": "multiclass_classification",
    "training": {"quality_gate": {"metric": "f1", "threshold": 0.8}},
}


@pytest.mark.parametrize(
    ("fields", "alarm", "expected"),
    [
        ({}, None, QualityGate(metric="auc", threshold=0.85)),
        (MULTICLASS, None, QualityGate(metric="f1", threshold=0.85)),
        (REGRESSION, None, QualityGate(metric="rmse", threshold=60)),
        (REGRESSION, {"metric": "mae", "threshold": 40}, QualityGate(metric="mae", threshold=40)),
        (MULTICLASS, {"metric": "accuracy", "threshold": 0.75}, QualityGate(metric="accuracy", threshold=0.75)),
    ],
)
def test_the_quality_alarm_defaults_per_problem_type(
    fields: dict[str, Any], alarm: dict[str, Any] | None, expected: QualityGate
) -> None:
    raw = _model(**copy.deepcopy(fields))
    if alarm is not None:
        raw["models"][0]["environments"]["prod"]["monitoring"]["alarms"] = {"model_quality_alarm": alarm}
    assert parse_config(raw, source=SOURCE).models[0].quality_alarm("prod") == expected


def test_a_quality_alarm_metric_of_another_problem_type_is_refused() -> None:
    raw = _model(**copy.deepcopy(REGRESSION))
    raw["models"][0]["environments"]["prod"]["monitoring"]["alarms"] = {
        "model_quality_alarm": {"metric": "auc", "threshold": 0.8}
    }
    assert (
        "environments.prod.monitoring.alarms.model_quality_alarm.metric: 'auc' is not a regression metric; "
        "allowed: rmse, mae, r2" in _refused(raw)
    )


def test_model_monitor_model_quality_of_a_multiclass_model_is_refused() -> None:
    raw = _model(**copy.deepcopy(MULTICLASS))
    raw["models"][0]["environments"]["prod"]["monitoring"] = {"backend": "model_monitor"}
    message = _refused(raw)
    assert "environments.prod.monitoring.model_quality: Model Monitor's multiclass model quality needs a predicted" in (
        message
    )
    raw["models"][0]["environments"]["prod"]["monitoring"]["model_quality"] = False
    assert parse_config(raw, source=SOURCE).models[0].problem_type == "multiclass_classification"


def test_the_drift_script_and_its_pipeline_know_every_problem_type() -> None:
    from typing import get_args

    assert PIPELINE_PROBLEM_TYPES == SCRIPT_PROBLEM_TYPES == get_args(ProblemType)
