"""The served contract: what the training pipeline registers comes up in algorithm mode and scores CSV.

The model is the one ``make local-run`` trains, packed as the SageMaker training job packs it; the container
environment is the one the rendered pipeline definition registers; the container's decisions are re-stated in
``tests/pipeline_defs/xgboost_serving.py`` from its source.
"""

from __future__ import annotations

import json
import math
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pipeline_defs import local_run
from pipeline_defs.render import render_definition
from pipeline_defs.settings import TrainingPipelineSettings
from tests.pipeline_defs.xgboost_serving import ContainerStartError, start_container

BUILDER = "pipeline_defs.training_pipeline:build_training_pipeline"
# Small and quick: the contract does not depend on how good the model is.
NUM_ROUND = 5


@pytest.fixture(scope="module")
def registered_container() -> dict[str, Any]:
    """The one container the RegisterModel step of the rendered training pipeline registers."""
    settings = TrainingPipelineSettings(
        pipeline_name="served-contract", region="eu-west-1", model_package_group_name="served-contract"
    )
    definition = json.loads(render_definition(BUILDER, settings))
    (condition,) = [step for step in definition["Steps"] if step["Type"] == "Condition"]
    (register,) = [step for step in condition["Arguments"]["IfSteps"] if step["Type"] == "RegisterModel"]
    (container,) = register["Arguments"]["InferenceSpecification"]["Containers"]
    return dict(container)


@pytest.fixture(scope="module")
def local_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The local run's workdir: its model.tar.gz, test split and evaluation outputs."""
    workdir = tmp_path_factory.mktemp("served-contract")
    local_run.run_local(workdir, num_round=NUM_ROUND)
    return workdir


@pytest.fixture(scope="module")
def model_dir(local_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``model.tar.gz`` unpacked the way SageMaker unpacks it into /opt/ml/model."""
    target = tmp_path_factory.mktemp("opt-ml-model")
    with tarfile.open(local_model / "train" / "model.tar.gz", mode="r:gz") as archive:
        archive.extractall(target, filter="data")
    assert sorted(p.name for p in target.iterdir()) == ["xgboost-model"]
    return target


def _test_split(local_model: Path) -> pd.DataFrame:
    # Label first, then the features in training order, no header: exactly the training CSV layout.
    return pd.read_csv(local_model / "evaluate" / "test" / "test.csv", header=None)


def _evaluated_probabilities(local_model: Path) -> np.ndarray[Any, Any]:
    predictions = pd.read_csv(local_model / "evaluate" / "quality_baseline" / "predictions.csv")
    probabilities: np.ndarray[Any, Any] = predictions["probability"].to_numpy()
    return probabilities


def test_the_registered_environment_selects_algorithm_mode(
    registered_container: dict[str, Any], model_dir: Path
) -> None:
    server = start_container(model_dir, registered_container["Environment"])

    assert server.ping().status == 200


@pytest.mark.parametrize("batch", [False, True], ids=["endpoint", "batch-transform"])
def test_csv_in_one_probability_per_row_out(
    registered_container: dict[str, Any], model_dir: Path, local_model: Path, batch: bool
) -> None:
    test = _test_split(local_model)
    features = test.drop(columns=[0])
    payload = features.to_csv(header=False, index=False).encode("utf-8")
    environment = dict(registered_container["Environment"])
    if batch:
        environment["SAGEMAKER_BATCH"] = "true"  # set by SageMaker in transform containers
    server = start_container(model_dir, environment)

    response = server.invocations(payload, content_type="text/csv", accept=None)

    assert response.status == 200, response.body
    assert response.mimetype == "text/csv"
    lines = response.body.split("\n")
    assert lines[-1] == ""  # every row ends with a newline
    values = [float(line) for line in lines[:-1]]
    assert len(values) == len(test)
    assert all(0.0 <= value <= 1.0 and not math.isnan(value) for value in values)
    # The same probabilities the Evaluate step scored (and the model-quality baseline holds).
    np.testing.assert_allclose(values, _evaluated_probabilities(local_model), rtol=1e-6)


def test_one_row_and_text_csv_with_charset(
    registered_container: dict[str, Any], model_dir: Path, local_model: Path
) -> None:
    row = _test_split(local_model).drop(columns=[0]).iloc[:1]
    server = start_container(model_dir, registered_container["Environment"])

    response = server.invocations(
        row.to_csv(header=False, index=False).encode(), content_type="text/csv; charset=utf-8", accept="text/csv"
    )

    assert response.status == 200
    assert len(response.body.splitlines()) == 1
    assert float(response.body) == pytest.approx(_evaluated_probabilities(local_model)[0], rel=1e-6)


def test_the_environment_the_sdk_used_to_register_never_starts(model_dir: Path) -> None:
    # What ModelBuilder put on every package before: the container imports a module named "".
    sdk_default = {
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
        "SAGEMAKER_PROGRAM": "",
        "SAGEMAKER_REGION": "eu-west-1",
        "SAGEMAKER_SUBMIT_DIRECTORY": "",
    }

    with pytest.raises(ContainerStartError, match="Empty module name"):
        start_container(model_dir, sdk_default)


def test_a_header_row_is_not_part_of_the_contract(registered_container: dict[str, Any], model_dir: Path) -> None:
    # The container parses every line as numbers: a header is a client error, not silently a row.
    server = start_container(model_dir, registered_container["Environment"])

    response = server.invocations(b"mean radius,mean texture\n1.0,2.0", content_type="text/csv")

    assert response.status == 415
