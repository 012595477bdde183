"""Compare an endpoint's captured traffic (and labels, where they arrived) with the training baseline.

The open monitoring backend: no Model Monitor, no Clarify. Runs in the SageMaker scikit-learn processing image
(pandas, numpy, scipy, scikit-learn, boto3; Python 3.9, so no newer syntax at run time) and on a laptop.

Two commands, one per pipeline step:

``analyse``  (network-isolated job) reads

- ``<base>/input/baseline/``: the training baseline CSV(s), with a header (features, optionally the target);
- ``<base>/input/capture/``: SageMaker data-capture JSON lines (``<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl``),
  CSV payloads in the feature order of the baseline header; the model's output one CSV line per row, as
  ``--problem-type`` says (docs/bring-your-own-model.md): binary a probability of the positive class, multiclass
  one probability per class (or the predicted class index alone), regression the predicted number;
- ``<base>/input/ground-truth/`` (optional): Model Monitor-style ground-truth JSON lines, joined on ``eventId``;

- with ``--shadow-capture-dir`` (a shadow-tested endpoint): the shadow variant's capture over the same window, whose
  predictions are compared with production's (:func:`shadow_prediction_drift`);

and writes ``<base>/output/report/drift_report.json`` (per-feature PSI, test, p-value, verdict; model quality)
and ``<base>/output/metrics/metrics.json`` (PutMetricData entries of the metric contract).

``publish``  (small job with network access) sends ``metrics.json`` to CloudWatch: an isolated job cannot reach
the CloudWatch API, and the analysis job must stay isolated because it reads captured customer data.

Drift of a feature needs both a large shift (PSI above ``--psi-threshold``) and a significant one (KS for
numeric, chi-squared for categorical features, p-value below ``--p-value-threshold``): PSI alone is noisy on
small windows, a p-value alone flags trivial shifts on large ones.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import json
import logging
import math
import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
from scipy import stats  # type: ignore[import-untyped]
from sklearn.metrics import (  # type: ignore[import-untyped]
    accuracy_score,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)

LOGGER = logging.getLogger("drift")

DEFAULT_BASE_DIR = "/opt/ml/processing"
REPORT_FILE = "drift_report.json"
METRICS_FILE = "metrics.json"
PSI_BINS = 10
# Empty bins would make PSI infinite; this floor is the usual choice (a proportion no sample can express).
PSI_EPSILON = 1e-4
OTHER_CATEGORY = "__other__"
EXIT_BAD_INPUT = 2
PROBLEM_TYPES = ("binary_classification", "multiclass_classification", "regression")
# In the container the contract module arrives as a CDK asset under a content-hash name, in a folder of its own.
CONTRACT_DIR_ENV = "METRIC_CONTRACT_DIR"


class DriftInputError(ValueError):
    """The inputs cannot be analysed; the message says what to fix."""


def load_contract() -> ModuleType:
    """The metric contract module: next to this script locally, or the one ``.py`` in ``$METRIC_CONTRACT_DIR``."""
    folder = os.environ.get(CONTRACT_DIR_ENV)
    if not folder:
        here = str(Path(__file__).resolve().parent)
        if here not in sys.path:
            sys.path.insert(0, here)
        import metric_contract  # noqa: F401 - registers the module in sys.modules

        return sys.modules["metric_contract"]
    candidates = sorted(Path(folder).glob("*.py"))
    if len(candidates) != 1:
        raise DriftInputError(f"{CONTRACT_DIR_ENV}={folder} must hold exactly one .py, found {len(candidates)}")
    spec = importlib.util.spec_from_file_location("metric_contract", candidates[0])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["metric_contract"] = module
    spec.loader.exec_module(module)
    return module


# --- Reading -------------------------------------------------------------------------------------------------


def read_baseline(folder: Path, target_column: str) -> pd.DataFrame:
    """The baseline features (every ``*.csv`` under ``folder``, one header), without the target column."""
    files = sorted(folder.rglob("*.csv")) if folder.is_dir() else []
    if not files:
        raise DriftInputError(f"no baseline *.csv under {folder}; the training pipeline's preprocess step writes it")
    frames = [pd.read_csv(path) for path in files]
    columns = list(frames[0].columns)
    for path, frame in zip(files, frames):  # noqa: B905 - strict= needs Python 3.10
        if list(frame.columns) != columns:
            raise DriftInputError(f"{path} has columns {list(frame.columns)}, {files[0]} has {columns}")
    baseline = pd.concat(frames, ignore_index=True)
    return baseline.drop(columns=[target_column], errors="ignore")


def _decode(payload: dict[str, Any]) -> str:
    data = str(payload.get("data", ""))
    if str(payload.get("encoding", "CSV")).upper() == "BASE64":
        return base64.b64decode(data).decode("utf-8")
    return data


def _csv_rows(text: str) -> list[str]:
    return [line for line in text.replace("\r\n", "\n").split("\n") if line.strip()]


def read_capture(
    folder: Path, features: list[str], *, since: datetime | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Captured inputs (one row per CSV line, columns ``features``) and outputs (``event_id``, ``output``: the
    values of the answer's one CSV line, as floats).

    Records before ``since`` (``eventMetadata.inferenceTime``) are skipped: the job reads the endpoint's whole
    capture prefix and analyses one window of it. A record whose rows do not have one value per feature is an
    error: the endpoint's input order must match the baseline header.
    """
    rows: list[list[str]] = []
    outputs: list[dict[str, Any]] = []
    files = sorted(folder.rglob("*.jsonl")) if folder.is_dir() else []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                capture = record["captureData"]
                meta = record.get("eventMetadata", {})
            except (ValueError, KeyError, TypeError) as error:
                raise DriftInputError(f"{path}:{number}: not a data-capture record ({error})") from None
            if since is not None and meta.get("inferenceTime"):
                when = datetime.fromisoformat(str(meta["inferenceTime"]).replace("Z", "+00:00"))
                if when < since:
                    continue
            endpoint_input = capture.get("endpointInput")
            if not endpoint_input:
                continue
            if "csv" not in str(endpoint_input.get("observedContentType", "text/csv")).lower():
                raise DriftInputError(f"{path}:{number}: only CSV payloads are supported")
            input_rows = _csv_rows(_decode(endpoint_input))
            for row in input_rows:
                values = row.split(",")
                if len(values) != len(features):
                    raise DriftInputError(
                        f"{path}:{number}: {len(values)} values but the baseline has {len(features)} features"
                    )
                rows.append(values)
            output = capture.get("endpointOutput")
            output_rows = _csv_rows(_decode(output)) if output else []
            # Only single-row requests can be joined with ground truth by event ID.
            if len(input_rows) == 1 and len(output_rows) == 1:
                try:
                    answer = tuple(float(value) for value in output_rows[0].split(","))
                except ValueError:
                    raise DriftInputError(
                        f"{path}:{number}: the model's output {output_rows[0]!r} is not numbers"
                    ) from None
                outputs.append({"event_id": meta.get("eventId"), "output": answer})
    inputs = pd.DataFrame(rows, columns=features)
    return inputs, pd.DataFrame(outputs, columns=["event_id", "output"])


def read_ground_truth(folder: Path) -> pd.DataFrame:
    """Labels by event ID from Model Monitor-style ground-truth JSON lines (``groundTruthData``, ``eventMetadata``)."""
    labels: list[dict[str, Any]] = []
    files = sorted(folder.rglob("*.jsonl")) + sorted(folder.rglob("*.json")) if folder.is_dir() else []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                label = float(_decode(record["groundTruthData"]).strip())
                if not math.isfinite(label):
                    raise ValueError(f"label {label} is not a finite number")
                event_id = record["eventMetadata"]["eventId"]
            except (ValueError, KeyError, TypeError) as error:
                raise DriftInputError(f"{path}:{number}: not a ground-truth record ({error})") from None
            labels.append({"event_id": event_id, "label": label})
    return pd.DataFrame(labels, columns=["event_id", "label"])


# --- Statistics ----------------------------------------------------------------------------------------------


def _psi(expected: np.ndarray, actual: np.ndarray) -> float:
    expected = np.clip(expected, PSI_EPSILON, None)
    actual = np.clip(actual, PSI_EPSILON, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def numeric_drift(baseline: pd.Series, current: pd.Series) -> dict[str, Any]:
    """PSI over the baseline's quantile bins and the two-sample Kolmogorov-Smirnov p-value."""
    base = pd.to_numeric(baseline, errors="coerce").dropna().to_numpy(dtype=float)
    now = pd.to_numeric(current, errors="coerce").dropna().to_numpy(dtype=float)
    inner = np.unique(np.quantile(base, np.linspace(0, 1, PSI_BINS + 1)[1:-1]))
    edges = np.concatenate(([-np.inf], inner, [np.inf]))
    expected = np.histogram(base, bins=edges)[0] / len(base)
    actual = np.histogram(now, bins=edges)[0] / len(now)
    p_value = float(stats.ks_2samp(base, now).pvalue)
    return {"test": "ks", "psi": _psi(expected, actual), "p_value": p_value}


def categorical_drift(baseline: pd.Series, current: pd.Series) -> dict[str, Any]:
    """PSI over the baseline's categories (plus one for unseen ones) and the chi-squared p-value."""
    base = baseline.astype(str)
    categories = sorted(base.unique())
    now = current.astype(str).where(current.astype(str).isin(categories), OTHER_CATEGORY)
    index = [*categories, OTHER_CATEGORY]
    base_counts = base.value_counts().reindex(index, fill_value=0).to_numpy(dtype=float)
    now_counts = now.value_counts().reindex(index, fill_value=0).to_numpy(dtype=float)
    table = np.vstack([base_counts, now_counts])
    table = table[:, table.sum(axis=0) > 0]
    p_value = 1.0 if table.shape[1] < 2 else float(stats.chi2_contingency(table)[1])
    return {
        "test": "chi2",
        "psi": _psi(base_counts / base_counts.sum(), now_counts / now_counts.sum()),
        "p_value": p_value,
    }


def feature_drift(
    baseline: pd.DataFrame,
    current: pd.DataFrame,
    *,
    categorical: set[str],
    psi_threshold: float,
    p_value_threshold: float,
) -> dict[str, dict[str, Any]]:
    """Per feature: the test, PSI, p-value and whether it drifted (both thresholds crossed)."""
    result: dict[str, dict[str, Any]] = {}
    for name in baseline.columns:
        check = categorical_drift if name in categorical else numeric_drift
        found = check(baseline[name], current[name])
        found["drifted"] = bool(found["psi"] > psi_threshold and found["p_value"] < p_value_threshold)
        result[str(name)] = found
    return result


def model_quality(
    outputs: pd.DataFrame,
    labels: pd.DataFrame,
    problem_type: str = "binary_classification",
    threshold: float = 0.5,
) -> dict[str, Any] | None:
    """The quality metrics of ``problem_type`` of the captured outputs against the labels that arrived.

    Binary: AUC, accuracy and F1 (the positive class above ``threshold``). Multiclass: accuracy and macro F1 (each
    class counts the same), the predicted class the most probable one, or the output itself when it is a single
    class index. Regression: RMSE, MAE and R2. None without labels. A classifier's label that is not 0/1 (binary)
    or a class index (multiclass) is a :class:`DriftInputError`.
    """
    joined = outputs.dropna(subset=["event_id"]).merge(labels, on="event_id", how="inner")
    if joined.empty:
        return None
    first = np.array([values[0] for values in joined["output"]], dtype=float)
    if problem_type == "regression":
        truth_values = joined["label"].to_numpy(dtype=float)
        return {
            "labelled_records": len(joined),
            "rmse": float(math.sqrt(mean_squared_error(truth_values, first))),
            "mae": float(mean_absolute_error(truth_values, first)),
            # R2 is undefined when every label is the same; leaving it out keeps the alarm from firing on it.
            "r2": float(r2_score(truth_values, first)) if len(set(truth_values)) > 1 else None,
        }
    # A classifier's labels are documented as 0/1 or the class index (docs/bring-your-own-model.md): anything else
    # would be truncated to a class (0.7 counted as 0) or stop scikit-learn with a traceback.
    highest = 1 if problem_type == "binary_classification" else math.inf
    for event_id, label in zip(joined["event_id"], joined["label"]):  # noqa: B905 - strict= needs Python 3.10
        if not (float(label).is_integer() and 0 <= label <= highest):
            allowed = "0 or 1" if highest == 1 else "a class index 0, 1, 2, ..."
            raise DriftInputError(f"event {event_id}: label {label} of a {problem_type} model is not {allowed}")
    truth = joined["label"].to_numpy(dtype=float).astype(int)
    if problem_type == "multiclass_classification":
        predicted = np.array(
            [int(np.argmax(values)) if len(values) > 1 else int(values[0]) for values in joined["output"]]
        )
        return {
            "labelled_records": len(joined),
            "accuracy": float(accuracy_score(truth, predicted)),
            # Macro F1 over the classes seen in labels or predictions.
            "f1": float(f1_score(truth, predicted, average="macro", zero_division=0)),
        }
    predicted = (first >= threshold).astype(int)
    return {
        "labelled_records": len(joined),
        "accuracy": float(accuracy_score(truth, predicted)),
        "f1": float(f1_score(truth, predicted, zero_division=0)),
        # AUC is undefined with one class only; leaving it out keeps the alarm from firing on it.
        "auc": float(roc_auc_score(truth, first)) if len(set(truth)) == 2 else None,
    }


def _predictions(outputs: pd.DataFrame, problem_type: str) -> pd.Series:
    """The one value compared per answer: the predicted class for multiclass, else the first output value."""
    if problem_type == "multiclass_classification":
        return pd.Series(
            [int(np.argmax(values)) if len(values) > 1 else int(values[0]) for values in outputs["output"]],
            dtype=object,
        )
    return pd.Series([values[0] for values in outputs["output"]], dtype=float)


def shadow_prediction_drift(
    production: pd.DataFrame, shadow: pd.DataFrame, *, problem_type: str, min_records: int
) -> dict[str, Any]:
    """PSI and test of the shadow variant's predictions against production's, both captured over the same window.

    The same statistics as feature drift, with production's predictions as the baseline: the binary probability or
    the regression value through :func:`numeric_drift` (production's quantile bins, KS), the predicted class of a
    multiclass model through :func:`categorical_drift` (chi-squared). SageMaker copies a sample of production's
    requests to the shadow, so over one window both see the same traffic; the comparison is of distributions, not
    of paired answers (nothing documents that a copied request keeps production's event ID). With fewer than
    ``min_records`` answers on either side the result carries ``psi`` None and the ``reason``.

    The shadow's answers are captured at all because data capture covers both variants (AWS, "Create a shadow
    test", https://docs.aws.amazon.com/sagemaker/latest/dg/shadow-tests-create.html: Data Capture logs "requests
    and responses of your production and shadow variants"), under the shadow variant's name.
    """
    result: dict[str, Any] = {"production_records": len(production), "shadow_records": len(shadow)}
    for side, frame in (("production", production), ("shadow", shadow)):
        if len(frame) < min_records:
            result.update(
                psi=None,
                reason=f"{len(frame)} {side} predictions in the window, fewer than --min-records {min_records}",
            )
            return result
    check = categorical_drift if problem_type == "multiclass_classification" else numeric_drift
    result.update(check(_predictions(production, problem_type), _predictions(shadow, problem_type)))
    result["reason"] = None
    return result


# --- The report and the metrics ------------------------------------------------------------------------------


def contract_metrics(
    contract: ModuleType,
    report: dict[str, Any],
    *,
    model: str,
    environment: str,
    endpoint: str,
) -> list[dict[str, Any]]:
    """The report as PutMetricData entries of the metric contract."""
    ids = {"model": model, "environment": environment, "endpoint": endpoint}
    data = [contract.datum(contract.CAPTURED_RECORDS, report["records"], **ids)]
    if report["features"]:
        data.append(contract.datum(contract.DRIFTED_FEATURES, len(report["drifted_features"]), **ids))
    for name, found in report["features"].items():
        data.append(contract.datum(contract.FEATURE_DRIFT, 1 if found["drifted"] else 0, feature=name, **ids))
        data.append(contract.datum(contract.FEATURE_DRIFT_SCORE, found["psi"], feature=name, **ids))
    quality = report.get("quality")
    for name, value in sorted((quality or {}).items()):
        # Every quality metric the report holds, under its contract name; an undefined one (None) is left out.
        if name in contract.QUALITY_METRICS and value is not None:
            data.append(contract.datum(contract.QUALITY_METRICS[name], value, **ids))
    shadow = report.get("shadow")
    if shadow and shadow["psi"] is not None:
        data.append(contract.datum(contract.SHADOW_PREDICTION_DRIFT, shadow["psi"], **ids))
    return data


def analyse(args: argparse.Namespace, now: datetime) -> dict[str, Any]:
    """Run the analysis the ``analyse`` command describes; write the report and metrics files; return the report."""
    base = Path(args.base_dir)
    baseline = read_baseline(base / "input" / "baseline", args.target_column)
    features = [str(column) for column in baseline.columns]
    categorical = {name for name in args.categorical.split(",") if name}
    unknown = sorted(categorical - set(features))
    if unknown:
        raise DriftInputError(f"--categorical names {unknown}, which are not baseline columns {features}")
    since = now - timedelta(hours=args.lookback_hours) if args.lookback_hours > 0 else None
    inputs, outputs = read_capture(Path(args.capture_dir or base / "input" / "capture"), features, since=since)
    for name in features:
        if name not in categorical:
            inputs[name] = pd.to_numeric(inputs[name], errors="coerce")
    enough = len(inputs) >= args.min_records
    drift = (
        feature_drift(
            baseline,
            inputs,
            categorical=categorical,
            psi_threshold=args.psi_threshold,
            p_value_threshold=args.p_value_threshold,
        )
        if enough
        else {}
    )
    labels = read_ground_truth(Path(args.ground_truth_dir or base / "input" / "ground-truth"))
    report: dict[str, Any] = {
        "model": args.model,
        "environment": args.environment,
        "endpoint": args.endpoint,
        "generated_at": now.isoformat(),
        "window_start": since.isoformat() if since else None,
        "records": len(inputs),
        "baseline_records": len(baseline),
        "enough_records": enough,
        "thresholds": {"psi": args.psi_threshold, "p_value": args.p_value_threshold, "min_records": args.min_records},
        "features": drift,
        "drifted_features": sorted(name for name, found in drift.items() if found["drifted"]),
        "problem_type": args.problem_type,
        "quality": model_quality(outputs, labels, args.problem_type),
    }
    if args.shadow_capture_dir:
        shadow_dir = Path(args.shadow_capture_dir)
        _, shadow_outputs = read_capture(shadow_dir, features, since=since)
        report["shadow"] = shadow_prediction_drift(
            outputs, shadow_outputs, problem_type=args.problem_type, min_records=args.min_records
        )
        if report["shadow"]["psi"] is None:
            # No metric: the alarm keeps its last verdict (missing data is ignored), and the reason is on record.
            LOGGER.warning("no shadow prediction drift published for %s: %s", shadow_dir, report["shadow"]["reason"])
    contract = load_contract()
    metrics = contract_metrics(contract, report, model=args.model, environment=args.environment, endpoint=args.endpoint)
    _write_json(base / "output" / "report" / REPORT_FILE, report)
    _write_json(base / "output" / "metrics" / METRICS_FILE, metrics)
    LOGGER.info(
        "analysed %d records: %d of %d features drifted %s",
        report["records"],
        len(report["drifted_features"]),
        len(drift),
        report["drifted_features"],
    )
    return report


def publish(args: argparse.Namespace, client: Any = None) -> int:
    """Send the ``metrics.json`` the analysis wrote to CloudWatch; return how many data points went."""
    files = sorted(Path(args.base_dir, "input", "metrics").rglob(METRICS_FILE))
    if len(files) != 1:
        raise DriftInputError(f"expected one {METRICS_FILE} under {args.base_dir}/input/metrics, found {len(files)}")
    data = json.loads(files[0].read_text(encoding="utf-8"))
    if client is None:
        import boto3

        client = boto3.client("cloudwatch")
    sent = int(load_contract().put_metric_data(client, data))
    LOGGER.info("published %d data points", sent)
    return sent


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2, sort_keys=True, allow_nan=False), encoding="utf-8")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of both commands."""
    parser = argparse.ArgumentParser(description="Drift and model-quality monitoring without Model Monitor.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("analyse", help="compare captured data with the baseline")
    run.add_argument("--base-dir", default=DEFAULT_BASE_DIR)
    run.add_argument("--model", required=True)
    run.add_argument("--environment", required=True)
    run.add_argument("--endpoint", required=True)
    run.add_argument("--capture-dir", default=None, help="default: <base>/input/capture")
    run.add_argument("--ground-truth-dir", default=None, help="default: <base>/input/ground-truth")
    run.add_argument("--target-column", default="target")
    run.add_argument("--problem-type", choices=PROBLEM_TYPES, default="binary_classification")
    run.add_argument("--categorical", default="", help="comma-separated categorical features (chi-squared)")
    run.add_argument("--psi-threshold", type=float, default=0.2)
    run.add_argument("--p-value-threshold", type=float, default=0.01)
    run.add_argument("--lookback-hours", type=float, default=24, help="0 analyses every captured record")
    run.add_argument("--min-records", type=int, default=30, help="fewer records: report, but no drift verdict")
    run.add_argument(
        "--shadow-capture-dir", default=None, help="a shadow variant's capture: compare its predictions (default: none)"
    )
    send = commands.add_parser("publish", help="publish the metrics file to CloudWatch")
    send.add_argument("--base-dir", default=DEFAULT_BASE_DIR)
    args = parser.parse_args(argv)
    if args.command == "analyse":
        if not args.psi_threshold > 0 or not 0 < args.p_value_threshold < 1:
            parser.error("--psi-threshold must be > 0 and --p-value-threshold within (0, 1)")
        if args.min_records < 1 or math.isnan(args.lookback_hours) or args.lookback_hours < 0:
            parser.error("--min-records must be >= 1 and --lookback-hours >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point of both pipeline steps."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    args = parse_args(argv)
    try:
        if args.command == "analyse":
            analyse(args, datetime.now(timezone.utc))  # noqa: UP017 - the image runs Python 3.9
        else:
            publish(args)
    except DriftInputError as error:
        LOGGER.error("%s", error)
        return EXIT_BAD_INPUT
    return 0


if __name__ == "__main__":
    sys.exit(main())
