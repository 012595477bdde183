"""The diabetes model's served contract: what its pipeline registers comes up in the scikit-learn container and
answers one finite number per CSV row.

The model is the one ``make local-run MODEL=diabetes`` trains, packed as SageMaker packs the training job's model
directory; the environment is the one the rendered pipeline registers; the container's decisions are re-stated in
``tests/pipeline_defs/sklearn_serving.py`` from its source.
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
from pipeline_defs.diabetes_pipeline import BUILDER_CODE
from pipeline_defs.render import render_definition
from tests.pipeline_defs.sklearn_serving import ContainerStartError, SklearnServer, default_input_fn
from tests.pipeline_defs.test_diabetes_pipeline import BUILDER, make_settings


@pytest.fixture(scope="module")
def registered_container() -> dict[str, Any]:
    """The one container the RegisterModel step of the rendered diabetes pipeline registers."""
    definition = json.loads(render_definition(BUILDER, make_settings(), placeholders=BUILDER_CODE.placeholders()))
    (condition,) = [step for step in definition["Steps"] if step["Type"] == "Condition"]
    (register,) = [step for step in condition["Arguments"]["IfSteps"] if step["Type"] == "RegisterModel"]
    (container,) = register["Arguments"]["InferenceSpecification"]["Containers"]
    return dict(container)


@pytest.fixture(scope="module")
def local_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The diabetes local run's workdir."""
    workdir = tmp_path_factory.mktemp("served-contract-diabetes")
    local_run.run_local_diabetes(workdir)
    return workdir


@pytest.fixture(scope="module")
def model_dir(local_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``model.tar.gz`` unpacked the way SageMaker unpacks it into /opt/ml/model."""
    target = tmp_path_factory.mktemp("opt-ml-model")
    with tarfile.open(local_model / "train" / "model.tar.gz", mode="r:gz") as archive:
        archive.extractall(target, filter="data")
    return target


def _server(model_dir: Path, environment: dict[str, str], tmp_path: Path) -> SklearnServer:
    code_dir = tmp_path / "opt-ml-code"
    code_dir.mkdir()
    return SklearnServer(model_dir, environment, code_dir)


def _test_features(local_model: Path) -> pd.DataFrame:
    return pd.read_csv(local_model / "evaluate" / "test" / "test.csv", header=None).drop(columns=[0])


def _evaluated_predictions(local_model: Path) -> np.ndarray[Any, Any]:
    predictions: np.ndarray[Any, Any] = pd.read_csv(local_model / "evaluate" / "quality_baseline" / "predictions.csv")[
        "prediction"
    ].to_numpy()
    return predictions


def test_csv_in_one_finite_number_per_row_out(
    registered_container: dict[str, Any], model_dir: Path, local_model: Path, tmp_path: Path
) -> None:
    features = _test_features(local_model)
    server = _server(model_dir, registered_container["Environment"], tmp_path)

    response = server.invocations(
        features.to_csv(header=False, index=False).encode(), content_type="text/csv", accept=None
    )

    assert response.status == 200, response.body
    assert response.mimetype == "text/csv"
    lines = response.body.split("\n")
    assert lines[-1] == ""
    values = [float(line) for line in lines[:-1]]
    assert len(values) == len(features) == 66
    assert all(math.isfinite(value) for value in values)
    # The same numbers the Evaluate step scored.
    np.testing.assert_allclose(values, _evaluated_predictions(local_model), rtol=1e-9)


def test_one_row_with_a_charset_and_json_out(
    registered_container: dict[str, Any], model_dir: Path, local_model: Path, tmp_path: Path
) -> None:
    row = _test_features(local_model).iloc[:1].to_csv(header=False, index=False).encode()
    server = _server(model_dir, registered_container["Environment"], tmp_path)

    as_csv = server.invocations(row, content_type="text/csv; charset=utf-8", accept="text/csv")
    as_json = server.invocations(row, content_type="text/csv", accept="application/json")

    assert as_csv.status == 200, as_csv.body
    assert float(as_csv.body) == pytest.approx(_evaluated_predictions(local_model)[0])
    assert as_json.status == 200
    assert json.loads(as_json.body) == [pytest.approx(_evaluated_predictions(local_model)[0])]


def test_the_containers_default_input_fn_refuses_one_row(
    registered_container: dict[str, Any], model_dir: Path, local_model: Path, tmp_path: Path
) -> None:
    # Why inference.py has its own input_fn: the default squeezes a one-row body into a 1-D array.
    server = _server(model_dir, registered_container["Environment"], tmp_path)
    server.input_fn = default_input_fn
    row = _test_features(local_model).iloc[:1].to_csv(header=False, index=False).encode()

    response = server.invocations(row, content_type="text/csv", accept="text/csv")

    assert response.status == 500
    assert "2D array" in response.body


def test_a_request_that_is_not_csv_is_a_client_error(
    registered_container: dict[str, Any], model_dir: Path, tmp_path: Path
) -> None:
    server = _server(model_dir, registered_container["Environment"], tmp_path)

    response = server.invocations(b"[[1, 2]]", content_type="application/json", accept=None)

    assert response.status == 500
    assert "UnsupportedContentTypeError" in response.body


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        # What ModelBuilder registers with its default `dependencies`: no module to import.
        ({"SAGEMAKER_PROGRAM": "", "SAGEMAKER_SUBMIT_DIRECTORY": ""}, "no module"),
        # Without the submit directory the container looks in an empty /opt/ml/code.
        ({"SAGEMAKER_PROGRAM": "inference.py"}, "No module named 'inference'"),
        # Code in S3 needs a download the isolated endpoint cannot make.
        ({"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "s3://b/sourcedir.tar.gz"}, "from S3"),
    ],
)
def test_environments_other_than_the_registered_one_never_start(
    model_dir: Path, tmp_path: Path, environment: dict[str, str], message: str
) -> None:
    with pytest.raises(ContainerStartError, match=message):
        _server(model_dir, environment, tmp_path)
