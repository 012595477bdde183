"""The post-deploy smoke test: moto's runtime with configured answers, and a Stubber for bad responses."""

from __future__ import annotations

import copy
import importlib.util
import io
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
import requests
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws

from mlops_config import PlatformConfig, parse_config
from tests.conftest import REPO, raw_default_config

ENDPOINT = "mlops-staging-breast-cancer-m5-large"
PACKAGE = "arn:aws:sagemaker:eu-west-1:111111111111:model-package/mlops-breast-cancer/4"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("smoke_test", REPO / "scripts" / "smoke_test.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


smoke = _load_script()


def queue_endpoint_results(*bodies: str) -> None:
    """Make moto's sagemaker-runtime answer the next invocations with ``bodies``, in order."""
    results = [
        {"Body": body, "ContentType": "text/csv", "InvokedProductionVariant": "AllTraffic", "CustomAttributes": ""}
        for body in bodies
    ]
    response = requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/sagemaker/endpoint-results",
        json={"account_id": "123456789012", "region": "eu-west-1", "results": results},
        timeout=5,
    )
    assert response.status_code == 201


def approved_file(tmp_path: Path, environment: str = "staging") -> Path:
    path = tmp_path / "approved-models.json"
    path.write_text(json.dumps({environment: {"breast-cancer": PACKAGE}}), encoding="utf-8")
    return path


def cli(tmp_path: Path, *extra: str) -> int:
    return int(
        smoke.main(
            [
                "--config",
                str(REPO / "config" / "platform.yaml"),
                "--environment",
                "staging",
                "--approved-models",
                str(approved_file(tmp_path)),
                *extra,
            ]
        )
    )


def test_sample_rows_have_no_target_and_all_features() -> None:
    lines = smoke.sample_csv(3).strip().splitlines()
    assert len(lines) == 3
    assert all(len(line.split(",")) == 30 for line in lines), "30 features, no target column, no header"


def test_endpoints_come_from_naming_and_need_a_package(default_config: PlatformConfig) -> None:
    assert smoke.endpoints_to_check(default_config, "staging", {}) == []
    checks = smoke.endpoints_to_check(default_config, "staging", {"staging": {"breast-cancer": PACKAGE}})
    assert [c.endpoint_name for c in checks] == [ENDPOINT]


def test_passes_when_each_row_gets_a_probability(tmp_path: Path, capsys: Any) -> None:
    with mock_aws():
        queue_endpoint_results("0.91\n0.02\n0.5\n")
        assert cli(tmp_path, "--rows", "3") == 0
    assert f"ok: {ENDPOINT} answered 3 probabilities" in capsys.readouterr().out


def test_comma_separated_answers_are_accepted() -> None:
    assert smoke.parse_probabilities("0.1,0.9", 2) == [0.1, 0.9]


def test_moto_default_answer_is_not_a_prediction(tmp_path: Path, capsys: Any) -> None:
    with mock_aws():
        assert cli(tmp_path, "--rows", "2") == 1
    err = capsys.readouterr().err
    assert f"FAILED: {ENDPOINT} (breast-cancer)" in err and "expected 2 predictions, got 1" in err


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("0.2\n0.3\n", "expected 3 predictions, got 2"),
        ("0.2\n1.7\n0.1\n", "1.7 is not a probability"),
        ("0.2\nmalignant\n0.1\n", "'malignant' is not a number"),
    ],
)
def test_bad_responses_fail_with_a_clear_message(body: str, message: str) -> None:
    runtime = boto3.client("sagemaker-runtime", region_name="eu-west-1")
    with Stubber(runtime) as stubber:
        stubber.add_response(
            "invoke_endpoint",
            {"Body": StreamingBody(io.BytesIO(body.encode()), len(body)), "ContentType": "text/csv"},
        )
        with pytest.raises(smoke.SmokeTestError, match=message):
            smoke.check_endpoint(runtime, ENDPOINT, 3)


def test_endpoint_errors_are_reported_per_endpoint(default_config: PlatformConfig) -> None:
    runtime = boto3.client("sagemaker-runtime", region_name="eu-west-1")
    with Stubber(runtime) as stubber:
        stubber.add_client_error("invoke_endpoint", "ModelError", "container crashed", http_status_code=424)
        failures = smoke.run(default_config, "staging", {"staging": {"breast-cancer": PACKAGE}}, runtime, 2)
    assert len(failures) == 1 and failures[0].startswith(f"{ENDPOINT} (breast-cancer): invoke_endpoint failed")
    assert "container crashed" in failures[0]


def test_nothing_served_yet_is_not_a_failure(tmp_path: Path, capsys: Any) -> None:
    code = smoke.main(["--environment", "prod", "--approved-models", str(tmp_path / "missing.json")])
    assert code == 0
    assert "nothing to smoke-test" in capsys.readouterr().out


def test_unknown_environment_is_a_usage_error(capsys: Any) -> None:
    assert smoke.main(["--environment", "qa"]) == 2
    assert "--environment qa: not an environment; allowed: dev, staging, prod" in capsys.readouterr().err


# --- Problem types -------------------------------------------------------------------------------------------


def test_a_multiclass_answer_is_one_row_of_class_probabilities_per_row() -> None:
    # XGBoost multi:softprob through the container's CSV encoder: one line of K probabilities per request row.
    body = "0.7,0.2,0.1\n0.05,0.9,0.05\n"
    assert smoke.parse_predictions(body, 2, "multiclass_classification") == [[0.7, 0.2, 0.1], [0.05, 0.9, 0.05]]
    assert smoke.parse_predictions("2\n0\n", 2, "multiclass_classification") == [[2.0], [0.0]]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("0.7,0.2,0.1\n", "expected 2 lines (one per row), got 1"),
        ("0.7,0.2,0.1\n0.5,0.5\n", "rows answer different numbers of classes [2, 3]"),
        ("0.7,0.2,0.3\n0.5,0.5,0\n", "prediction [0.7, 0.2, 0.3] is not class probabilities in [0, 1] summing to 1"),
        ("1.5,-0.5\n0.5,0.5\n", "prediction [1.5, -0.5] is not class probabilities"),
        ("1.5\n2\n", "prediction 1.5 is not a class index (a whole number >= 0)"),
        ("cat,dog\n0.5,0.5\n", "prediction 'cat' is not a number"),
    ],
)
def test_bad_multiclass_answers_fail_with_a_clear_message(body: str, message: str) -> None:
    with pytest.raises(smoke.SmokeTestError, match=re.escape(message)):
        smoke.parse_predictions(body, 2, "multiclass_classification")


def test_a_regression_answer_is_one_finite_number_per_row() -> None:
    assert smoke.parse_predictions("151.2\n-3\n75\n", 3, "regression") == [151.2, -3.0, 75.0]
    for body, message in (("1\n2\n", "expected 3 predictions, got 2"), ("1\nnan\n2\n", "'nan' is not a finite")):
        with pytest.raises(smoke.SmokeTestError, match=re.escape(message)):
            smoke.parse_predictions(body, 3, "regression")


def test_a_binary_answer_outside_zero_one_fails_but_a_regression_one_passes() -> None:
    with pytest.raises(smoke.SmokeTestError, match=r"prediction 151.0 is not a probability in \[0, 1\]"):
        smoke.parse_predictions("151\n", 1, "binary_classification")
    assert smoke.parse_predictions("151\n", 1, "regression") == [151.0]


def test_a_model_of_other_features_gets_rows_of_its_own_width() -> None:
    assert smoke.sample_csv(2, ("age", "bmi", "bp")) == "0,0,0\n0,0,0\n"
    bundled = smoke.sample_csv(1, ())
    assert bundled.count(",") == 29


def test_each_endpoint_is_checked_as_its_model_s_problem_type(tmp_path: Path, capsys: Any) -> None:
    raw = copy.deepcopy(raw_default_config())
    raw["models"][0].update(problem_type="regression", training={"quality_gate": {"metric": "rmse", "threshold": 60}})
    config = parse_config(raw, source=Path("config/platform.yaml"))
    (check,) = smoke.endpoints_to_check(config, "staging", {"staging": {"breast-cancer": PACKAGE}})
    assert check.problem_type == "regression"
    with mock_aws():
        queue_endpoint_results("151.2\n75\n")
        runtime = boto3.client("sagemaker-runtime", region_name="eu-west-1")
        assert smoke.run(config, "staging", {"staging": {"breast-cancer": PACKAGE}}, runtime, 2) == []
    assert f"ok: {ENDPOINT} answered 2 numbers" in capsys.readouterr().out


def test_the_shipped_diabetes_model_is_checked_as_a_regression_on_its_own_ten_features(
    default_config: PlatformConfig,
) -> None:
    approved = {"prod": {"breast-cancer": PACKAGE, "diabetes": PACKAGE.replace("breast-cancer", "diabetes")}}
    checks = {c.model: c for c in smoke.endpoints_to_check(default_config, "prod", approved)}
    assert (checks["breast-cancer"].problem_type, checks["diabetes"].problem_type) == (
        "binary_classification",
        "regression",
    )
    assert smoke.sample_csv(2, checks["diabetes"].features) == "0,0,0,0,0,0,0,0,0,0\n" * 2
    assert smoke.sample_csv(1, checks["breast-cancer"].features).count(",") == 29
