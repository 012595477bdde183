"""The drift script on the bundled dataset: no drift against itself, exactly the shifted features otherwise."""

from __future__ import annotations

import importlib
import json
import shutil
import socket
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pipeline_defs.steps import metric_contract as contract
from pipeline_defs.steps.sample_data import TARGET_COLUMN, sample_dataframe

STEPS_DIR = Path(__file__).resolve().parents[2] / "pipeline_defs" / "steps"
NOW = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)
SHIFTED = ("mean_radius", "worst_texture", "area_error")


def _load_drift() -> ModuleType:
    # Imported by its package name (it is a plain script in the container): mutmut (`make mutate`) names mutants by
    # file path, pipeline_defs.steps.drift, and only switches on those whose module has that name.
    return importlib.import_module("pipeline_defs.steps.drift")


drift = _load_drift()


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """The script is tested offline: any socket connection fails the test."""

    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("the drift script tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture(scope="module")
def dataset() -> pd.DataFrame:
    """The bundled breast-cancer dataset (features and target)."""
    return sample_dataframe()


def features_of(frame: pd.DataFrame) -> list[str]:
    """The feature columns, in order."""
    return [column for column in frame.columns if column != TARGET_COLUMN]


def capture_line(values: list[Any], probability: float, event_id: str, when: datetime) -> str:
    """One SageMaker data-capture record (CSV in, CSV out) as the endpoint writes it."""
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {
                    "observedContentType": "text/csv",
                    "mode": "INPUT",
                    "data": ",".join(str(value) for value in values),
                    "encoding": "CSV",
                },
                "endpointOutput": {
                    "observedContentType": "text/csv; charset=utf-8",
                    "mode": "OUTPUT",
                    "data": f"{probability}",
                    "encoding": "CSV",
                },
            },
            "eventMetadata": {"eventId": event_id, "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%SZ")},
            "eventVersion": "0",
        }
    )


def write_inputs(
    base: Path,
    baseline: pd.DataFrame,
    captured: pd.DataFrame,
    *,
    when: datetime = NOW - timedelta(hours=1),
    labels: dict[str, int] | None = None,
) -> None:
    """Lay out a processing job's inputs: baseline CSV, capture JSONL (SageMaker's folders), ground truth."""
    (base / "input" / "baseline").mkdir(parents=True)
    baseline.to_csv(base / "input" / "baseline" / "baseline.csv", index=False)
    folder = base / "input" / "capture" / "ep" / "AllTraffic" / when.strftime("%Y/%m/%d/%H")
    folder.mkdir(parents=True)
    features = features_of(captured)
    lines = []
    for index, row in captured.reset_index(drop=True).iterrows():
        probability = 0.9 if row.get(TARGET_COLUMN, 0) == 1 else 0.1
        lines.append(capture_line([row[name] for name in features], probability, f"event-{index}", when))
    (folder / "capture.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if labels is not None:
        truth = base / "input" / "ground-truth" / "2026" / "06" / "02"
        truth.mkdir(parents=True)
        records = [
            json.dumps(
                {
                    "groundTruthData": {"data": str(label), "encoding": "CSV"},
                    "eventMetadata": {"eventId": event_id},
                    "eventVersion": "0",
                }
            )
            for event_id, label in labels.items()
        ]
        (truth / "labels.jsonl").write_text("\n".join(records), encoding="utf-8")


def run(base: Path, *extra: str) -> dict[str, Any]:
    """Run ``analyse`` and return the report it wrote."""
    args = drift.parse_args(
        ["analyse", "--base-dir", str(base), "--model", "bc", "--environment", "dev", "--endpoint", "ep", *extra]
    )
    drift.analyse(args, NOW)
    report = json.loads((base / "output" / "report" / drift.REPORT_FILE).read_text())
    return dict(report)


def shifted_copy(frame: pd.DataFrame, columns: tuple[str, ...] = SHIFTED) -> pd.DataFrame:
    """``frame`` with each of ``columns`` moved by two standard deviations."""
    shifted = frame.copy()
    for column in columns:
        shifted[column] = shifted[column] + 2 * frame[column].std()
    return shifted


def test_bundled_data_against_itself_reports_no_drift(tmp_path: Path, dataset: pd.DataFrame) -> None:
    write_inputs(tmp_path, dataset.drop(columns=[TARGET_COLUMN]), dataset)
    report = run(tmp_path)
    assert report["records"] == len(dataset)
    assert report["drifted_features"] == []
    assert set(report["features"]) == set(features_of(dataset))
    assert all(found["psi"] < 1e-9 and found["p_value"] > 0.99 for found in report["features"].values())


def test_shifted_copy_flags_the_shifted_features_and_only_those(tmp_path: Path, dataset: pd.DataFrame) -> None:
    write_inputs(tmp_path, dataset.drop(columns=[TARGET_COLUMN]), shifted_copy(dataset))
    report = run(tmp_path)
    assert report["drifted_features"] == sorted(SHIFTED)
    for name in SHIFTED:
        assert report["features"][name]["test"] == "ks"
        assert report["features"][name]["psi"] > 0.2
        assert report["features"][name]["p_value"] < 0.01


def test_a_random_half_against_the_other_half_is_not_drift(tmp_path: Path, dataset: pd.DataFrame) -> None:
    # Sampling noise alone must not count as drift: both thresholds guard against it.
    shuffled = dataset.sample(frac=1.0, random_state=7).reset_index(drop=True)
    half = len(shuffled) // 2
    write_inputs(tmp_path, shuffled.iloc[:half].drop(columns=[TARGET_COLUMN]), shuffled.iloc[half:])
    assert run(tmp_path)["drifted_features"] == []


def test_categorical_features_use_chi_squared(tmp_path: Path, dataset: pd.DataFrame) -> None:
    baseline = dataset.drop(columns=[TARGET_COLUMN]).copy()
    captured = dataset.copy()
    # A categorical feature: small/large tumours, as integers; the captured traffic is almost all "large".
    baseline["mean_radius"] = (baseline["mean_radius"] > baseline["mean_radius"].median()).astype(int)
    rng = np.random.default_rng(3)
    captured["mean_radius"] = (rng.random(len(captured)) < 0.95).astype(int)
    write_inputs(tmp_path, baseline, captured)
    report = run(tmp_path, "--categorical=mean_radius")
    assert report["features"]["mean_radius"]["test"] == "chi2"
    assert report["drifted_features"] == ["mean_radius"]


def test_labels_give_model_quality_and_contract_metrics(tmp_path: Path, dataset: pd.DataFrame) -> None:
    labels = {f"event-{index}": int(label) for index, label in enumerate(dataset[TARGET_COLUMN])}
    write_inputs(tmp_path, dataset.drop(columns=[TARGET_COLUMN]), dataset, labels=labels)
    report = run(tmp_path)
    assert report["quality"] == {"labelled_records": len(dataset), "accuracy": 1.0, "f1": 1.0, "auc": 1.0}
    metrics = json.loads((tmp_path / "output" / "metrics" / drift.METRICS_FILE).read_text())
    assert contract.validate_data(metrics) == metrics
    names = {entry["MetricName"] for entry in metrics}
    # Every contract metric but the regression ones (a binary model) and the shadow comparison (no shadow).
    assert names == set(contract.METRICS) - {
        contract.MODEL_RMSE,
        contract.MODEL_MAE,
        contract.MODEL_R2,
        contract.SHADOW_PREDICTION_DRIFT,
    }
    per_feature = [entry for entry in metrics if entry["MetricName"] == contract.FEATURE_DRIFT]
    assert len(per_feature) == len(features_of(dataset))
    assert per_feature[0]["Dimensions"] == [
        {"Name": "Model", "Value": "bc"},
        {"Name": "Environment", "Value": "dev"},
        {"Name": "Endpoint", "Value": "ep"},
        {"Name": "Feature", "Value": "mean_radius"},
    ]


def test_without_labels_no_quality_metrics_are_published(tmp_path: Path, dataset: pd.DataFrame) -> None:
    write_inputs(tmp_path, dataset.drop(columns=[TARGET_COLUMN]), dataset)
    assert run(tmp_path)["quality"] is None
    metrics = json.loads((tmp_path / "output" / "metrics" / drift.METRICS_FILE).read_text())
    assert not {contract.MODEL_AUC, contract.MODEL_ACCURACY, contract.MODEL_F1} & {m["MetricName"] for m in metrics}


def test_records_outside_the_lookback_window_are_skipped(tmp_path: Path, dataset: pd.DataFrame) -> None:
    write_inputs(tmp_path, dataset.drop(columns=[TARGET_COLUMN]), shifted_copy(dataset), when=NOW - timedelta(days=3))
    report = run(tmp_path, "--lookback-hours", "24")
    # Too old: nothing analysed, no verdict, and the only metric says so.
    assert report["records"] == 0
    assert report["features"] == {}
    metrics = json.loads((tmp_path / "output" / "metrics" / drift.METRICS_FILE).read_text())
    assert [(m["MetricName"], m["Value"]) for m in metrics] == [(contract.CAPTURED_RECORDS, 0.0)]


def test_payloads_that_do_not_match_the_baseline_header_are_an_error(tmp_path: Path, dataset: pd.DataFrame) -> None:
    write_inputs(tmp_path, dataset.drop(columns=[TARGET_COLUMN, "mean_radius"]), dataset)
    argv = ["analyse", "--base-dir", str(tmp_path), "--model", "m", "--environment", "e", "--endpoint", "ep"]
    code = drift.main([*argv, "--lookback-hours", "0"])
    assert code == drift.EXIT_BAD_INPUT


def test_missing_baseline_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(drift.DriftInputError, match="no baseline"):
        drift.read_baseline(tmp_path / "input" / "baseline", TARGET_COLUMN)


def test_publish_sends_the_metrics_file_to_cloudwatch(tmp_path: Path, dataset: pd.DataFrame) -> None:
    import boto3
    from botocore.stub import Stubber

    write_inputs(tmp_path, dataset.drop(columns=[TARGET_COLUMN]), shifted_copy(dataset))
    run(tmp_path)
    published = tmp_path / "publish"
    (published / "input" / "metrics").mkdir(parents=True)
    shutil.copy(tmp_path / "output" / "metrics" / drift.METRICS_FILE, published / "input" / "metrics")
    expected = json.loads((published / "input" / "metrics" / drift.METRICS_FILE).read_text())
    client = boto3.client("cloudwatch", region_name="eu-west-1")
    with Stubber(client) as stub:
        stub.add_response("put_metric_data", {}, {"Namespace": contract.NAMESPACE, "MetricData": expected})
        sent = drift.publish(drift.parse_args(["publish", "--base-dir", str(published)]), client)
        stub.assert_no_pending_responses()
    assert sent == len(expected)
    drifted = next(m for m in expected if m["MetricName"] == contract.DRIFTED_FEATURES)
    assert drifted["Value"] == len(SHIFTED)


def test_contract_is_loaded_from_a_hash_named_asset_in_the_container(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "contract"
    folder.mkdir()
    shutil.copy(STEPS_DIR / "metric_contract.py", folder / "3f2a9c.py")
    monkeypatch.setenv(drift.CONTRACT_DIR_ENV, str(folder))
    monkeypatch.delitem(sys.modules, "metric_contract", raising=False)
    module = drift.load_contract()
    assert Path(str(module.__file__)).name == "3f2a9c.py"
    assert module.NAMESPACE == contract.NAMESPACE


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"MetricName": "Drift", "Dimensions": [], "Value": 1}, "not a contract metric"),
        ({"MetricName": "DriftedFeatures", "Dimensions": [{"Name": "Model", "Value": "m"}], "Value": 1}, "dimensions"),
        (
            {
                "MetricName": "ModelAUC",
                "Dimensions": [{"Name": n, "Value": "x"} for n in ("Model", "Environment", "Endpoint")],
                "Value": float("nan"),
            },
            "finite",
        ),
    ],
)
def test_entries_off_the_contract_are_refused(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        contract.validate_data([entry])


def test_the_lambda_copy_of_the_contract_is_identical() -> None:
    lambda_copy = STEPS_DIR.parents[1] / "lambda" / "monitor_bridge" / "metric_contract.py"
    assert lambda_copy.read_bytes() == (STEPS_DIR / "metric_contract.py").read_bytes()
