"""What the drift step publishes, pinned exactly: every PutMetricData entry of a report, and where the contract
module comes from (the survivors of `make mutate` over ``contract_metrics`` and ``load_contract``)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from pipeline_defs.steps import metric_contract as contract
from tests.pipeline_defs.test_drift import STEPS_DIR, drift

MODEL_DIMENSIONS = [
    {"Name": "Model", "Value": "churn"},
    {"Name": "Environment", "Value": "prod"},
    {"Name": "Endpoint", "Value": "churn-ep"},
]


def _entry(name: str, value: float, unit: str, feature: str | None = None) -> dict[str, Any]:
    dimensions = [*MODEL_DIMENSIONS, *([{"Name": "Feature", "Value": feature}] if feature else [])]
    return {"MetricName": name, "Dimensions": dimensions, "Value": value, "Unit": unit}


def test_a_report_is_published_as_exactly_these_entries() -> None:
    report = {
        "records": 120,
        "features": {
            "age": {"test": "ks", "psi": 0.5, "p_value": 0.001, "drifted": True},
            "plan": {"test": "chi2", "psi": 0.01, "p_value": 0.4, "drifted": False},
        },
        "drifted_features": ["age"],
        "quality": {"labelled_records": 3, "auc": None, "f1": 0.5, "accuracy": 0.75},
        "shadow": {"psi": 0.3, "reason": None},
    }

    data = drift.contract_metrics(contract, report, model="churn", environment="prod", endpoint="churn-ep")

    assert data == [
        _entry("CapturedRecords", 120.0, "Count"),
        _entry("DriftedFeatures", 1.0, "Count"),
        _entry("FeatureDrift", 1.0, "None", "age"),
        _entry("FeatureDriftScore", 0.5, "None", "age"),
        _entry("FeatureDrift", 0.0, "None", "plan"),
        _entry("FeatureDriftScore", 0.01, "None", "plan"),
        # Quality in name order; the undefined AUC and the record count are not contract metrics to publish.
        _entry("ModelAccuracy", 0.75, "None"),
        _entry("ModelF1", 0.5, "None"),
        _entry("ShadowPredictionDrift", 0.3, "None"),
    ]


# --- load_contract -------------------------------------------------------------------------------------------


def test_the_contract_next_to_the_script_wins_over_another_module_of_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoy = tmp_path / "decoy"
    decoy.mkdir()
    (decoy / "metric_contract.py").write_text('NAMESPACE = "Decoy"\n', encoding="utf-8")
    here = str(STEPS_DIR)
    monkeypatch.setattr(sys, "path", [str(decoy), *(entry for entry in sys.path if entry != here)])
    monkeypatch.delitem(sys.modules, "metric_contract", raising=False)
    monkeypatch.delenv(drift.CONTRACT_DIR_ENV, raising=False)

    module = drift.load_contract()

    assert Path(str(module.__file__)) == STEPS_DIR / "metric_contract.py"
    assert module.NAMESPACE == "MLOps/ModelMonitoring"
    assert sys.path[:2] == [here, str(decoy)]


def test_the_asset_contract_is_registered_as_metric_contract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(STEPS_DIR / "metric_contract.py", tmp_path / "asset.9b1d.py")
    monkeypatch.setenv(drift.CONTRACT_DIR_ENV, str(tmp_path))
    monkeypatch.delitem(sys.modules, "metric_contract", raising=False)

    module = drift.load_contract()

    assert module.__name__ == "metric_contract"
    assert sys.modules["metric_contract"] is module
    assert module.NAMESPACE == "MLOps/ModelMonitoring"


@pytest.mark.parametrize("files", [[], ["a.py", "b.py"]])
def test_a_contract_folder_without_exactly_one_module_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: list[str]
) -> None:
    for name in files:
        (tmp_path / name).write_text("", encoding="utf-8")
    (tmp_path / "README.txt").write_text("not a module", encoding="utf-8")
    monkeypatch.setenv(drift.CONTRACT_DIR_ENV, str(tmp_path))

    with pytest.raises(drift.DriftInputError) as error:
        drift.load_contract()

    assert str(error.value) == f"METRIC_CONTRACT_DIR={tmp_path} must hold exactly one .py, found {len(files)}"
