"""The diabetes sample: its rendered pipeline, its step scripts and its local run."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pipeline_defs import local_run
from pipeline_defs.builder_code import BuilderCode, StepScript, builder_code
from pipeline_defs.diabetes_pipeline import BUILDER_CODE, REGISTERED_ENVIRONMENT, training_hyperparameters
from pipeline_defs.model_pipeline import EVALUATE_STEP, MODEL_QUALITY_STEP, PREPROCESS_STEP, REGISTER_STEP, TRAIN_STEP
from pipeline_defs.render import BuilderPathError, build_definition, render_definition
from pipeline_defs.settings import SKLEARN_1_2, Placeholders, TrainingPipelineSettings
from pipeline_defs.steps.diabetes import evaluate as diabetes_evaluate
from pipeline_defs.steps.diabetes import preprocess as diabetes_preprocess
from pipeline_defs.steps.diabetes import sample_data
from tests.pipeline_defs.botocore_shapes import validate_step_arguments
from tests.pipeline_defs.test_training_pipeline import all_steps

BUILDER = "pipeline_defs.diabetes_pipeline:build_diabetes_pipeline"
SKLEARN = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def make_settings(**overrides: Any) -> TrainingPipelineSettings:
    """The diabetes model's settings as the training stack maps config/platform.yaml."""
    values: dict[str, Any] = {
        "pipeline_name": "diabetes-training",
        "region": "eu-west-1",
        "model_package_group_name": "diabetes",
        "problem_type": "regression",
        "quality_metric": "rmse",
        "quality_threshold": 65.0,
        "training_image": SKLEARN_1_2,
        "serving_image": SKLEARN_1_2,
        "output_prefix": "diabetes",
    }
    values.update(overrides)
    return TrainingPipelineSettings(**values)


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    """The rendered diabetes definition (rendered once)."""
    return dict(json.loads(build_definition(BUILDER, make_settings(), BUILDER_CODE.placeholders())))


def test_every_step_is_a_valid_request(definition: dict[str, Any]) -> None:
    steps = all_steps(definition)
    assert {name: step["Type"] for name, step in steps.items()} == {
        "Preprocess": "Processing",
        "DataQualityBaseline": "QualityCheck",
        "Train": "Training",
        "Evaluate": "Processing",
        "ModelQualityBaseline": "QualityCheck",
        "CheckRmseThreshold": "Condition",
        "RegisterModel": "RegisterModel",
        "RmseAboveThreshold": "Fail",
    }
    for step in steps.values():
        if step["Type"] not in ("Condition", "Fail"):
            validate_step_arguments(step)


def test_it_uses_exactly_its_own_script_placeholders(definition: dict[str, Any]) -> None:
    text = json.dumps(definition)
    for script in ("preprocess", "train", "inference", "evaluate"):
        assert Placeholders.ref(Placeholders.script_key(script)) in text, script
    assert BUILDER_CODE.placeholders() == Placeholders.base() | {
        f"{name}Script{part}" for name in ("Preprocess", "Train", "Inference", "Evaluate") for part in ("Bucket", "Key")
    }


def test_train_runs_train_py_in_the_sklearn_image_script_mode(definition: dict[str, Any]) -> None:
    arguments = all_steps(definition)[TRAIN_STEP]["Arguments"]

    assert arguments["AlgorithmSpecification"] == {"TrainingImage": SKLEARN, "TrainingInputMode": "File"}
    assert arguments["HyperParameters"] == {
        "n-estimators": "200",
        "max-depth": "3",
        "learning-rate": "0.05",
        "subsample": "0.8",
        "sagemaker_program": "${TrainScriptKey}",
        "sagemaker_submit_directory": "/opt/ml/input/data/code",
    }
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in arguments["InputDataConfig"]}
    assert channels["code"] == "s3://${TrainScriptBucket}/${TrainScriptKey}"
    assert channels["inference"] == "s3://${InferenceScriptBucket}/${InferenceScriptKey}"
    assert sorted(channels) == ["code", "inference", "train", "validation"]
    assert arguments["EnableNetworkIsolation"] is True


def test_processing_runs_in_the_sklearn_image(definition: dict[str, Any]) -> None:
    steps = all_steps(definition)
    for name in (PREPROCESS_STEP, EVALUATE_STEP):
        app = steps[name]["Arguments"]["AppSpecification"]
        assert app["ImageUri"] == SKLEARN, name
        assert app["ContainerArguments"] == ["--base-dir", "/opt/ml/processing"], name
    environment = steps[MODEL_QUALITY_STEP]["Arguments"]["Environment"]
    assert environment["problem_type"] == "Regression"
    assert "probability_attribute" not in environment


def test_the_registered_container_runs_inference_py_from_the_artifact(definition: dict[str, Any]) -> None:
    (container,) = all_steps(definition)[REGISTER_STEP]["Arguments"]["InferenceSpecification"]["Containers"]

    assert container == {
        "Environment": {
            "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv",
            "SAGEMAKER_PROGRAM": "inference.py",
            "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
        },
        "Image": SKLEARN,
        "ModelDataUrl": {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"},
    }
    assert container["Environment"] == REGISTERED_ENVIRONMENT


def test_an_r2_gate(definition: dict[str, Any]) -> None:
    rendered = json.loads(build_definition(BUILDER, make_settings(quality_metric="r2", quality_threshold=0.3)))
    (condition,) = all_steps(rendered)["CheckR2Threshold"]["Arguments"]["Conditions"]

    assert condition["Type"] == "GreaterThanOrEqualTo"
    assert condition["LeftValue"]["Std:JsonGet"]["Path"] == "regression_metrics.r2.value"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"problem_type": "binary_classification", "quality_metric": "auc", "quality_threshold": 0.9},
            "trains a regression",
        ),
        ({"hyperparameters": {"sagemaker_program": "other.py"}}, r"\['sagemaker_program'\].*toolkit's"),
    ],
)
def test_settings_it_cannot_build_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_definition(BUILDER, make_settings(**overrides), BUILDER_CODE.placeholders())


def test_hyperparameter_overrides_reach_train_py() -> None:
    assert training_hyperparameters({"n-estimators": "50"})["n-estimators"] == "50"


def test_renders_offline_and_byte_identical(tmp_path: Path) -> None:
    first = render_definition(BUILDER, make_settings(), cache_dir=None, placeholders=BUILDER_CODE.placeholders())
    cached = render_definition(BUILDER, make_settings(), cache_dir=tmp_path, placeholders=BUILDER_CODE.placeholders())
    assert first == cached
    assert "${!" not in first  # every ${...} is a placeholder the stack substitutes


def test_builder_code_is_read_from_the_builder_module() -> None:
    assert builder_code(BUILDER, "eu-west-1") is BUILDER_CODE
    with pytest.raises(BuilderPathError, match=r"declares no BUILDER_CODE"):
        builder_code("pipeline_defs.render:render_definition", "eu-west-1")


def test_builder_code_refuses_bad_scripts(tmp_path: Path) -> None:
    script = tmp_path / "a.py"
    script.write_text("")
    with pytest.raises(ValueError, match="lowercase letters and digits"):
        StepScript("Pre-process", script)
    with pytest.raises(ValueError, match=r"is not a \.py file"):
        StepScript("missing", tmp_path / "missing.py")
    with pytest.raises(ValueError, match="duplicate step-script names"):
        BuilderCode(scripts=(StepScript("a", script), StepScript("a", script)))


# --- Step scripts and the local run ---


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """One local run of the diabetes steps."""
    workdir = tmp_path_factory.mktemp("diabetes")
    return workdir, local_run.run_local_diabetes(workdir)


def test_local_run_scores_the_sample_within_its_gate(local: tuple[Path, dict[str, Any]]) -> None:
    _, report = local
    metrics = report["regression_metrics"]

    assert sorted(metrics) == ["mae", "mse", "r2", "rmse"]
    assert metrics["rmse"]["value"] == pytest.approx(np.sqrt(metrics["mse"]["value"]))
    assert 40 < metrics["rmse"]["value"] <= 65  # the configured gate
    assert metrics["r2"]["value"] > 0.3


def test_local_run_leaves_what_the_pipeline_steps_produce(local: tuple[Path, dict[str, Any]]) -> None:
    workdir, _ = local
    with tarfile.open(workdir / "train" / "model.tar.gz") as archive:
        assert sorted(archive.getnames()) == ["code", "code/inference.py", "model.joblib"]
    baseline = pd.read_csv(workdir / "preprocess" / "output" / "baseline" / "baseline.csv")
    assert list(baseline.columns) == ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    counts = {
        name: len(pd.read_csv(workdir / "preprocess" / "output" / name / f"{name}.csv", header=None))
        for name in ("train", "validation", "test")
    }
    assert counts == {"train": 310, "validation": 66, "test": 66}
    predictions = pd.read_csv(workdir / "evaluate" / "quality_baseline" / "predictions.csv")
    assert list(predictions.columns) == ["prediction", "label"]
    assert len(predictions) == 66
    digest = json.loads((workdir / "evaluate" / "evaluation" / "artifact.json").read_text())
    assert digest["model_artifact"]["size_bytes"] == (workdir / "train" / "model.tar.gz").stat().st_size


def test_local_run_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert local_run.main(["--model", "diabetes", "--workdir", str(tmp_path)]) == 0
    assert "regression_metrics" in json.loads(capsys.readouterr().out)


def _raw(base: Path, frame: pd.DataFrame) -> Path:
    raw = base / "input" / "raw" / "raw.csv"
    raw.parent.mkdir(parents=True)
    frame.to_csv(raw, index=False)
    return base


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"x": range(30), "y": range(30)}), "target column 'target' not found"),
        (pd.DataFrame({"x": ["a"] * 30, "target": range(30)}), "every column must be numeric"),
        (
            pd.DataFrame({"x": [1.0] * 29 + [None], "target": range(30)}),
            r"missing or infinite values in columns \['x'\]",
        ),
        (pd.DataFrame({"x": range(10), "target": range(10)}), "10 rows; at least 20"),
    ],
)
def test_diabetes_preprocess_refuses_bad_input(tmp_path: Path, frame: pd.DataFrame, message: str) -> None:
    base = _raw(tmp_path, frame)

    assert diabetes_preprocess.main(["--base-dir", str(base)]) == diabetes_preprocess.EXIT_BAD_INPUT
    with pytest.raises(diabetes_preprocess.PreprocessError, match=message):
        diabetes_preprocess.run(base)


def test_diabetes_preprocess_is_reproducible(tmp_path: Path) -> None:
    frame = sample_data.sample_dataframe()
    first = diabetes_preprocess.run(_raw(tmp_path / "a", frame))
    second = diabetes_preprocess.run(_raw(tmp_path / "b", frame))

    assert first == second == {"test": 66, "validation": 66, "train": 310}
    for name in ("train", "validation", "test"):
        path = Path("output") / name / f"{name}.csv"
        assert (tmp_path / "a" / path).read_bytes() == (tmp_path / "b" / path).read_bytes()


def test_diabetes_evaluate_refuses_bad_input(local: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    workdir, _ = local
    assert diabetes_evaluate.main(["--base-dir", str(tmp_path)]) == diabetes_evaluate.EXIT_BAD_INPUT
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.tar.gz").write_bytes((workdir / "train" / "model.tar.gz").read_bytes())
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "test.csv").write_text("1.0,2.0\n3.0,4.0\n")
    with pytest.raises(diabetes_evaluate.EvaluationError, match="cannot score the test data"):
        diabetes_evaluate.run(tmp_path)
