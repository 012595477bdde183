"""Tests for the sample model's step scripts: sample data, preprocess and evaluate."""

from __future__ import annotations

import ast
import hashlib
import io
import json
import logging
import pickle
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import pytest
import xgboost as xgb

from pipeline_defs.steps import evaluate, preprocess, sample_data
from pipeline_defs.steps.hyperparameters import DEFAULT_HYPERPARAMETERS

STEPS_DIR = Path(preprocess.__file__).parent
# What each script may import besides the standard library: what its SageMaker image has.
IMAGE_PACKAGES = {
    "preprocess.py": {"numpy", "pandas", "sklearn"},
    "evaluate.py": {"numpy", "pandas", "sklearn", "xgboost"},
    # The diabetes sample's scripts run in the scikit-learn 1.2-1 images (joblib ships with scikit-learn).
    "diabetes/preprocess.py": {"numpy", "pandas"},
    "diabetes/train.py": {"joblib", "numpy", "pandas", "sklearn"},
    "diabetes/evaluate.py": {"joblib", "numpy", "pandas", "sklearn"},
    "diabetes/inference.py": {"joblib", "numpy"},
}


@pytest.fixture(scope="module")
def sample_frame() -> pd.DataFrame:
    """Return the bundled dataset as the raw CSV holds it."""
    return sample_data.sample_dataframe()


@pytest.fixture(scope="module")
def booster(sample_frame: pd.DataFrame) -> xgb.Booster:
    """Train a small model on all 30 features, enough to exercise loading and scoring."""
    features = sample_frame.drop(columns=["target"]).to_numpy()
    dtrain = xgb.DMatrix(features, label=sample_frame["target"].to_numpy())
    return xgb.train({"objective": "binary:logistic", "max_depth": 3}, dtrain, 5)


def write_raw(base: Path, frame: pd.DataFrame, name: str = "raw.csv") -> Path:
    """Place ``frame`` where preprocess reads its input."""
    path = base / "input" / "raw" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def write_tarball(path: Path, members: dict[str, bytes]) -> Path:
    """Write a model.tar.gz holding ``members``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


# --- contracts with the SageMaker images and the pipeline -------------------------------


@pytest.mark.parametrize("script", sorted(IMAGE_PACKAGES))
def test_step_script_imports_only_what_its_image_has(script: str) -> None:
    tree = ast.parse((STEPS_DIR / script).read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    } | {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    outside = imported - set(sys.stdlib_module_names) - IMAGE_PACKAGES[script]
    assert not outside, f"{script} imports {outside}, which its SageMaker image lacks"


@pytest.mark.parametrize("script", sorted(IMAGE_PACKAGES))
def test_step_script_parses_as_python_38_with_deferred_annotations(script: str) -> None:
    # The SageMaker images run older Pythons: deferred annotations keep `list[str] | None`
    # from being evaluated there, and the grammar must not be newer than 3.8.
    source = (STEPS_DIR / script).read_text(encoding="utf-8")
    tree = ast.parse(source, feature_version=(3, 8))
    future = [node for node in tree.body if isinstance(node, ast.ImportFrom) and node.module == "__future__"]
    assert future, f"{script} lacks `from __future__ import annotations`"
    assert any(alias.name == "annotations" for alias in future[0].names)


def test_default_hyperparameters_match_the_pipeline_contract() -> None:
    assert DEFAULT_HYPERPARAMETERS == {
        "objective": "binary:logistic",
        "num_round": "50",
        "max_depth": "5",
        "eta": "0.2",
        "gamma": "4",
        "min_child_weight": "6",
        "subsample": "0.8",
    }


# --- sample_data ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("mean radius", "mean_radius"),
        ("Mean Concave Points", "mean_concave_points"),
        ("  worst fractal-dimension (SE) ", "worst_fractal_dimension_se"),
        ("already_safe_1", "already_safe_1"),
    ],
)
def test_safe_column_name(raw: str, safe: str) -> None:
    assert sample_data.safe_column_name(raw) == safe


def test_safe_column_name_rejects_a_name_without_letters_or_digits() -> None:
    with pytest.raises(ValueError, match="no letters or digits"):
        sample_data.safe_column_name(" -- ")


def test_write_sample_dataset_writes_the_bundled_dataset(tmp_path: Path) -> None:
    path = sample_data.write_sample_dataset(tmp_path / "nested" / "raw.csv")

    assert path == tmp_path / "nested" / "raw.csv"
    frame = pd.read_csv(path)
    assert frame.shape == (569, 31)
    assert list(frame.columns[:2]) == ["mean_radius", "mean_texture"]
    assert frame.columns[-1] == "target"
    assert all(column.replace("_", "").isalnum() for column in frame.columns)
    assert all(column == column.lower() for column in frame.columns)
    # 212 of the 569 tumours are malignant, and malignant is the positive class.
    assert frame["target"].value_counts().to_dict() == {0: 357, 1: 212}


def test_sample_data_cli_writes_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "data" / "raw.csv"

    assert sample_data.main(["--out", str(out)]) == 0
    assert out.is_file()
    assert capsys.readouterr().out.strip() == str(out)


# --- preprocess -------------------------------------------------------------------------


def test_preprocess_writes_label_first_splits_and_a_baseline(tmp_path: Path, sample_frame: pd.DataFrame) -> None:
    write_raw(tmp_path, sample_frame)

    assert preprocess.main(["--base-dir", str(tmp_path)]) == 0

    out = tmp_path / "output"
    splits = {name: pd.read_csv(out / name / f"{name}.csv", header=None) for name in ("train", "validation", "test")}
    assert {name: len(split) for name, split in splits.items()} == {
        "train": 397,
        "validation": 86,
        "test": 86,
    }
    for split in splits.values():
        assert split.shape[1] == 31
        assert set(split[0].unique()) == {0, 1}  # label first
        # No header row: every cell parses as a number.
        assert all(pd.api.types.is_numeric_dtype(split[column]) for column in split.columns)
    baseline = pd.read_csv(out / "baseline" / "baseline.csv")
    assert list(baseline.columns) == [c for c in sample_frame.columns if c != "target"]
    np.testing.assert_array_equal(baseline.to_numpy(), splits["train"].iloc[:, 1:].to_numpy())


def test_split_is_stratified_disjoint_and_complete(sample_frame: pd.DataFrame) -> None:
    frame = sample_frame.assign(row_id=range(len(sample_frame)))

    splits = preprocess.split_dataset(frame, "target", validation_fraction=0.15, test_fraction=0.15, seed=7)

    ids = [set(split["row_id"]) for split in splits]
    assert sum(len(part) for part in ids) == len(frame)
    assert set().union(*ids) == set(range(len(frame)))
    overall = frame["target"].mean()
    for split in splits:
        assert split["target"].mean() == pytest.approx(overall, abs=0.02)


def test_same_seed_gives_the_same_split_and_another_seed_does_not(tmp_path: Path, sample_frame: pd.DataFrame) -> None:
    outputs = {}
    for run, seed in (("a", "42"), ("b", "42"), ("c", "43")):
        base = tmp_path / run
        write_raw(base, sample_frame)
        assert preprocess.main(["--base-dir", str(base), "--seed", seed]) == 0
        outputs[run] = [
            (base / "output" / name / f"{name}.csv").read_bytes()
            for name in ("train", "validation", "test", "baseline")
        ]

    assert outputs["a"] == outputs["b"]
    assert outputs["a"][0] != outputs["c"][0]


def test_preprocess_concatenates_every_csv_under_the_input(tmp_path: Path, sample_frame: pd.DataFrame) -> None:
    write_raw(tmp_path, sample_frame.iloc[:300], "part-1.csv")
    write_raw(tmp_path, sample_frame.iloc[300:], "2024/01/part-2.csv")
    (tmp_path / "input" / "raw" / "README.txt").write_text("not data")

    counts = preprocess.run(tmp_path)

    assert sum(counts.values()) == len(sample_frame)


def test_preprocess_honours_target_column_and_fractions(tmp_path: Path, sample_frame: pd.DataFrame) -> None:
    write_raw(tmp_path, sample_frame.rename(columns={"target": "diagnosis"}))

    counts = preprocess.run(tmp_path, target_column="diagnosis", validation_fraction=0.2, test_fraction=0.1)

    assert counts == {"train": 398, "validation": 114, "test": 57}


def test_label_first_moves_the_target_to_the_front() -> None:
    frame = pd.DataFrame({"a": [1.0], "target": [1], "b": [2.0]})

    assert list(preprocess.label_first(frame, "target").columns) == ["target", "a", "b"]


def test_min_rows_per_class_covers_the_smallest_split() -> None:
    assert preprocess.min_rows_per_class(0.15, 0.15) == 14
    assert preprocess.min_rows_per_class(0.1, 0.3) == 20


@pytest.mark.parametrize(
    ("validation", "test", "message"),
    [
        (0.0, 0.15, "--validation-fraction must be between 0 and 1"),
        (0.15, 1.0, "--test-fraction must be between 0 and 1"),
        (0.5, 0.5, "must be below 1 to leave training rows"),
    ],
)
def test_bad_fractions_are_rejected(validation: float, test: float, message: str) -> None:
    with pytest.raises(preprocess.PreprocessError, match=message):
        preprocess.validate_fractions(validation, test)


def test_parse_args_defaults_to_the_container_layout() -> None:
    args = preprocess.parse_args([])

    assert args.base_dir == Path("/opt/ml/processing")
    assert (
        args.target_column,
        args.validation_fraction,
        args.test_fraction,
        args.seed,
    ) == (
        "target",
        0.15,
        0.15,
        42,
    )


def _raw_with(frame: pd.DataFrame) -> Callable[[Path], None]:
    def write(base: Path) -> None:
        write_raw(base, frame)

    return write


def _small(rows_per_class: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": np.arange(2 * rows_per_class, dtype="float64"),
            "target": [0, 1] * rows_per_class,
        }
    )


def _write_file(name: str, text: str) -> Callable[[Path], None]:
    def write(base: Path) -> None:
        path = base / "input" / "raw" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    return write


def _two_headers(base: Path) -> None:
    write_raw(base, pd.DataFrame({"x": [1.0], "target": [0]}), "a.csv")
    write_raw(base, pd.DataFrame({"y": [1.0], "target": [0]}), "b.csv")


BAD_INPUTS: dict[str, tuple[Callable[[Path], None], str]] = {
    "no input directory": (lambda base: None, "does not exist"),
    "no csv files": (_write_file("data.txt", "x,target\n1,0\n"), "no *.csv files"),
    "empty file": (_write_file("raw.csv", ""), "is empty"),
    "header only": (_write_file("raw.csv", "x,target\n"), "header but no data rows"),
    "headers differ between files": (_two_headers, "must share one header"),
    "missing target column": (
        _raw_with(_small(20).rename(columns={"target": "label"})),
        "target column 'target' not found; columns are ['x', 'label']",
    ),
    "only the target": (_raw_with(_small(20)[["target"]]), "no feature columns"),
    "non-numeric feature": (
        _raw_with(_small(20).assign(colour="red")),
        "non-numeric feature columns ['colour']",
    ),
    "labels other than 0 and 1": (
        _raw_with(_small(20).assign(target=[0, 2] * 20)),
        "must hold only 0 and 1, found ['2']",
    ),
    "text labels": (
        _raw_with(_small(20).assign(target=["B", "M"] * 20)),
        "must hold only 0 and 1, found ['B', 'M']",
    ),
    "missing labels": (
        _raw_with(_small(20).assign(target=[0.0, None] * 20)),
        "20 rows have no value in target column",
    ),
    "too few rows per class": (
        _raw_with(_small(13)),
        "class 0 has 13 rows; at least 14 per class are needed",
    ),
    "one class only": (
        _raw_with(_small(20).assign(target=0)),
        "class 1 has 0 rows",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_fails_with_a_clear_error(case: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    prepare, message = BAD_INPUTS[case]
    prepare(tmp_path)

    with caplog.at_level(logging.ERROR, logger="preprocess"):
        assert preprocess.main(["--base-dir", str(tmp_path)]) == preprocess.EXIT_BAD_INPUT

    assert [record.levelname for record in caplog.records] == ["ERROR"]
    assert message in caplog.records[0].getMessage()
    assert not (tmp_path / "output").exists()


def test_enough_rows_per_class_is_accepted(tmp_path: Path) -> None:
    write_raw(tmp_path, _small(14))

    counts = preprocess.run(tmp_path)

    assert sum(counts.values()) == 28


# --- evaluate ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "serialise",
    [
        pytest.param(pickle.dumps, id="pickled-booster"),
        pytest.param(lambda b: bytes(b.save_raw(raw_format="ubj")), id="save_model-ubj"),
        pytest.param(lambda b: bytes(b.save_raw(raw_format="json")), id="save_model-json"),
    ],
)
def test_booster_from_bytes_reads_every_container_format(
    serialise: Callable[[xgb.Booster], bytes],
    booster: xgb.Booster,
    sample_frame: pd.DataFrame,
) -> None:
    features = xgb.DMatrix(sample_frame.drop(columns=["target"]).to_numpy()[:20])

    loaded = evaluate.booster_from_bytes(serialise(booster))

    np.testing.assert_array_equal(loaded.predict(features), booster.predict(features))


def test_booster_from_bytes_accepts_a_pickled_sklearn_wrapper(
    booster: xgb.Booster,
) -> None:
    classifier = xgb.XGBClassifier(n_estimators=2, max_depth=2)
    classifier.fit(np.array([[0.0], [1.0], [0.0], [1.0]]), np.array([0, 1, 0, 1]))

    loaded = evaluate.booster_from_bytes(pickle.dumps(classifier))

    assert loaded.num_boosted_rounds() == 2


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (pickle.dumps({"not": "a model"}), "unpickles to dict, not a Booster"),
        (b"\x80\xffnot a pickle either", "is not an XGBoost model"),
        (b"garbage", "is not an XGBoost model"),
    ],
)
def test_booster_from_bytes_rejects_what_is_not_a_model(raw: bytes, message: str) -> None:
    with pytest.raises(evaluate.EvaluationError, match=message):
        evaluate.booster_from_bytes(raw)


@pytest.mark.parametrize("member", ["xgboost-model", "./xgboost-model"])
def test_load_booster_reads_the_model_out_of_the_tarball(member: str, tmp_path: Path, booster: xgb.Booster) -> None:
    raw = bytes(booster.save_raw(raw_format="ubj"))
    tar = write_tarball(tmp_path / "model.tar.gz", {member: raw})

    loaded = evaluate.load_booster(tar)

    assert loaded.num_boosted_rounds() == booster.num_boosted_rounds()
    assert not (tmp_path / "xgboost-model").exists()  # read in memory, never unpacked


def test_load_booster_errors(tmp_path: Path) -> None:
    with pytest.raises(evaluate.EvaluationError, match="does not exist"):
        evaluate.load_booster(tmp_path / "missing.tar.gz")

    not_gzip = tmp_path / "plain.tar.gz"
    not_gzip.write_bytes(b"this is not gzip")
    with pytest.raises(evaluate.EvaluationError, match=r"not a readable \.tar\.gz"):
        evaluate.load_booster(not_gzip)

    wrong = write_tarball(tmp_path / "wrong.tar.gz", {"model.json": b"{}"})
    with pytest.raises(evaluate.EvaluationError, match=r"holds \['model.json'\], not 'xgboost-model'"):
        evaluate.load_booster(wrong)

    empty = write_tarball(tmp_path / "empty.tar.gz", {"xgboost-model": b""})
    with pytest.raises(evaluate.EvaluationError, match="is empty"):
        evaluate.load_booster(empty)


def test_read_test_set_splits_label_and_features(tmp_path: Path) -> None:
    path = tmp_path / "test.csv"
    path.write_text("1,0.5,2.0\n0,0.1,3.0\n")

    test = evaluate.read_test_set(path)

    np.testing.assert_array_equal(test.labels, [1, 0])
    np.testing.assert_array_equal(test.features, [[0.5, 2.0], [0.1, 3.0]])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("", "is empty"),
        ("1\n0\n", "needs a label column and at least one feature"),
        ("1,red\n0,blue\n", "non-numeric values"),
        ("1,0.5\n2,0.1\n", r"must be 0 or 1, found \['2.0'\]"),
        ("1,0.5\n1,0.1\n", "holds only one class"),
    ],
)
def test_read_test_set_rejects_bad_data(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "test.csv"
    if content is not None:
        path.write_text(content)

    with pytest.raises(evaluate.EvaluationError, match=message):
        evaluate.read_test_set(path)


def test_predict_probabilities_rejects_a_feature_count_mismatch(
    booster: xgb.Booster,
) -> None:
    with pytest.raises(evaluate.EvaluationError, match="trained on 30 features but the test data has 3"):
        evaluate.predict_probabilities(booster, np.zeros((2, 3)))


def test_predict_probabilities_returns_probabilities(booster: xgb.Booster, sample_frame: pd.DataFrame) -> None:
    probabilities = evaluate.predict_probabilities(booster, sample_frame.drop(columns=["target"]).to_numpy())

    assert probabilities.shape == (569,)
    assert ((probabilities > 0) & (probabilities < 1)).all()


LABELS = np.array([0, 0, 1, 1])
PROBABILITIES = np.array([0.1, 0.6, 0.4, 0.9])


def test_classification_report_in_sagemaker_model_metrics_form() -> None:
    report = evaluate.classification_report(LABELS, PROBABILITIES, threshold=0.5)

    metrics = report["binary_classification_metrics"]
    # Predictions 0,1,0,1: one of each cell; 3 of the 4 positive-negative pairs ranked right.
    assert metrics["auc"] == {"value": 0.75, "standard_deviation": "NaN"}
    for name in ("accuracy", "f1", "precision", "recall"):
        assert metrics[name] == {"value": 0.5, "standard_deviation": "NaN"}
    assert metrics["confusion_matrix"] == {"0": {"0": 1, "1": 1}, "1": {"0": 1, "1": 1}}
    assert json.loads(json.dumps(report)) == report


def test_classification_report_applies_the_threshold() -> None:
    metrics = evaluate.classification_report(LABELS, PROBABILITIES, threshold=0.35)["binary_classification_metrics"]

    assert metrics["confusion_matrix"] == {"0": {"0": 1, "1": 1}, "1": {"0": 0, "1": 2}}
    assert metrics["recall"]["value"] == 1.0
    assert metrics["precision"]["value"] == pytest.approx(2 / 3)
    assert metrics["auc"]["value"] == 0.75  # threshold-free


def test_classification_report_scores_no_positive_predictions_as_zero() -> None:
    metrics = evaluate.classification_report(LABELS, PROBABILITIES, threshold=0.95)["binary_classification_metrics"]

    assert metrics["precision"]["value"] == 0.0
    assert metrics["f1"]["value"] == 0.0


def test_predictions_frame_has_the_baseline_columns() -> None:
    frame = evaluate.predictions_frame(LABELS, PROBABILITIES, threshold=0.5)

    assert list(frame.columns) == ["probability", "prediction", "label"]
    assert frame["prediction"].tolist() == [0, 1, 0, 1]
    assert frame["label"].tolist() == [0, 0, 1, 1]


@pytest.mark.parametrize("threshold", [0.0, 1.0, -0.1, 1.5])
def test_threshold_outside_zero_one_is_rejected(threshold: float) -> None:
    with pytest.raises(evaluate.EvaluationError, match="--threshold must be between 0 and 1"):
        evaluate.classification_report(LABELS, PROBABILITIES, threshold=threshold)


def test_evaluate_cli_writes_report_and_predictions(
    tmp_path: Path, booster: xgb.Booster, sample_frame: pd.DataFrame
) -> None:
    write_tarball(
        tmp_path / "model" / "model.tar.gz",
        {"xgboost-model": bytes(booster.save_raw(raw_format="ubj"))},
    )
    test_csv = tmp_path / "test" / "test.csv"
    test_csv.parent.mkdir()
    preprocess.label_first(sample_frame.iloc[:100], "target").to_csv(test_csv, header=False, index=False)

    assert evaluate.main(["--base-dir", str(tmp_path), "--threshold", "0.4"]) == 0

    report = json.loads((tmp_path / "evaluation" / "evaluation.json").read_text())
    assert 0.9 < report["binary_classification_metrics"]["auc"]["value"] <= 1.0
    predictions = pd.read_csv(tmp_path / "quality_baseline" / "predictions.csv")
    assert list(predictions.columns) == ["probability", "prediction", "label"]
    assert len(predictions) == 100
    assert predictions["label"].tolist() == sample_frame["target"].iloc[:100].tolist()
    assert (predictions["prediction"] == (predictions["probability"] >= 0.4)).all()


def test_artifact_digest_is_the_sha256_of_the_file_bytes(tmp_path: Path) -> None:
    known = tmp_path / "model.tar.gz"
    known.write_bytes(b"abc")  # the FIPS 180-2 test vector

    assert evaluate.artifact_digest(known) == {
        "model_artifact": {
            "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "size_bytes": 3,
        }
    }
    with pytest.raises(evaluate.EvaluationError, match="does not exist"):
        evaluate.artifact_digest(tmp_path / "missing.tar.gz")


def test_evaluate_cli_writes_the_digest_of_the_tarball_it_scored(
    tmp_path: Path, booster: xgb.Booster, sample_frame: pd.DataFrame
) -> None:
    from pipeline_defs.training_pipeline import ARTIFACT_REPORT_FILE, ARTIFACT_SHA256_JSON_PATH

    tarball = write_tarball(tmp_path / "model" / "model.tar.gz", {"xgboost-model": bytes(booster.save_raw("ubj"))})
    test_csv = tmp_path / "test" / "test.csv"
    test_csv.parent.mkdir()
    preprocess.label_first(sample_frame.iloc[:50], "target").to_csv(test_csv, header=False, index=False)

    assert evaluate.main(["--base-dir", str(tmp_path)]) == 0

    # Read the way the pipeline's JsonGet reads it: the property file in the "evaluation" output, then the path.
    value: object = json.loads((tmp_path / "evaluation" / ARTIFACT_REPORT_FILE).read_text())
    for key in ARTIFACT_SHA256_JSON_PATH.split("."):
        assert isinstance(value, dict)
        value = value[key]
    expected = hashlib.sha256(tarball.read_bytes()).hexdigest()
    assert value == expected
    assert isinstance(value, str) and len(value) == 64 and value == value.lower()


def test_evaluate_cli_fails_clearly_without_a_model(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="evaluate"):
        assert evaluate.main(["--base-dir", str(tmp_path)]) == evaluate.EXIT_BAD_INPUT

    assert "model.tar.gz does not exist" in caplog.text
    assert not (tmp_path / "evaluation").exists()


def test_evaluate_parse_args_defaults_to_the_container_layout() -> None:
    args = evaluate.parse_args([])

    assert (args.base_dir, args.threshold) == (Path("/opt/ml/processing"), 0.5)
