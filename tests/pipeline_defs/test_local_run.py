"""End-to-end test of the local run on the bundled breast-cancer dataset."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xgboost as xgb

from pipeline_defs import local_run
from pipeline_defs.steps import evaluate
from pipeline_defs.steps.hyperparameters import DEFAULT_HYPERPARAMETERS


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the directory the module's one full local run writes to."""
    return tmp_path_factory.mktemp("local-run")


@pytest.fixture(scope="module")
def report(workdir: Path) -> dict[str, Any]:
    """Run the whole local pipeline once with the default settings; return its report."""
    return local_run.run_local(workdir)


def test_local_run_scores_the_sample_model_well(report: dict[str, Any]) -> None:
    metrics = report["binary_classification_metrics"]

    assert metrics["auc"]["value"] > 0.95
    assert metrics["accuracy"]["value"] > 0.9
    matrix = metrics["confusion_matrix"]
    assert sum(matrix[actual][predicted] for actual in "01" for predicted in "01") == 86


def test_local_run_leaves_the_files_the_pipeline_steps_produce(workdir: Path, report: dict[str, Any]) -> None:
    evaluation = workdir / "evaluate" / "evaluation" / "evaluation.json"
    assert json.loads(evaluation.read_text()) == report
    predictions = (workdir / "evaluate" / "quality_baseline" / "predictions.csv").read_text()
    assert predictions.splitlines()[0] == "probability,prediction,label"
    for name in ("train", "validation", "test", "baseline"):
        assert (workdir / "preprocess" / "output" / name / f"{name}.csv").is_file()
    with tarfile.open(workdir / "train" / "model.tar.gz") as archive:
        assert archive.getnames() == ["xgboost-model"]


def test_cli_with_the_same_seed_prints_the_same_report(
    tmp_path: Path,
    workdir: Path,
    report: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert local_run.main(["--workdir", str(tmp_path), "--seed", "42"]) == 0

    assert json.loads(capsys.readouterr().out) == report
    for name in ("train", "validation", "test"):
        relative = Path("preprocess", "output", name, f"{name}.csv")
        assert (tmp_path / relative).read_bytes() == (workdir / relative).read_bytes()


def test_train_booster_uses_the_hyperparameters_like_the_container(
    workdir: Path,
) -> None:
    output = workdir / "preprocess" / "output"
    hyperparameters = {**DEFAULT_HYPERPARAMETERS, "num_round": "3", "max_depth": "1"}

    booster = local_run.train_booster(
        output / "train" / "train.csv",
        output / "validation" / "validation.csv",
        hyperparameters,
    )

    assert booster.num_boosted_rounds() == 3
    assert booster.num_features() == 30
    config = json.loads(booster.save_config())
    assert config["learner"]["objective"]["name"] == "binary:logistic"
    assert config["learner"]["gradient_booster"]["tree_train_param"]["max_depth"] == "1"


def test_pack_model_round_trips_through_evaluate(tmp_path: Path) -> None:
    features = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 0.5], [1.0, 0.2]])
    dtrain = xgb.DMatrix(features, label=np.array([0, 1, 0, 1]))
    booster = xgb.train({"objective": "binary:logistic"}, dtrain, 2)

    tar = local_run.pack_model(booster, tmp_path / "out" / "model.tar.gz")

    loaded = evaluate.load_booster(tar)
    np.testing.assert_array_equal(loaded.predict(xgb.DMatrix(features)), booster.predict(xgb.DMatrix(features)))


def test_default_num_round_comes_from_the_shared_hyperparameters() -> None:
    assert local_run.DEFAULT_NUM_ROUND == int(DEFAULT_HYPERPARAMETERS["num_round"]) == 50
