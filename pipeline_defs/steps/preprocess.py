"""Validate the raw dataset and split it into the files the built-in XGBoost algorithm reads.

Runs in the SageMaker scikit-learn 1.2-1 processing image (and on a laptop), so it needs
only pandas, numpy and scikit-learn, and avoids APIs newer than that image's versions.

Reads every ``*.csv`` under ``<base>/input/raw/``, subfolders included (each with a header
row and the target column), and writes:

- ``<base>/output/train/train.csv``, ``validation/validation.csv``, ``test/test.csv``:
  label first, no header, as the built-in XGBoost algorithm wants CSV input;
- ``<base>/output/baseline/baseline.csv``: the training split's features with a header,
  the data-quality and drift baseline for model monitoring.

``--problem-type`` (default ``binary_classification``) decides what the target may hold: 0/1
(binary), class indices 0, 1, 2, ... (multiclass; both split stratified by class) or any finite
number (regression; split at random).

Bad input (no files, missing target, non-numeric features, labels the problem type does not allow,
too few rows per class) stops the job with a message saying what to fix and exit code 2.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from pathlib import Path
from typing import NamedTuple

import pandas as pd  # type: ignore[import-untyped]
from pandas.api.types import is_bool_dtype, is_numeric_dtype  # type: ignore[import-untyped]
from sklearn.model_selection import train_test_split  # type: ignore[import-untyped]

LOGGER = logging.getLogger("preprocess")

DEFAULT_BASE_DIR = "/opt/ml/processing"
LABELS = (0, 1)
PROBLEM_TYPES = ("binary_classification", "multiclass_classification", "regression")
# Each class should expect at least this many rows in the smallest split, so that the
# stratified split cannot leave a split without one of the classes.
MIN_EXPECTED_ROWS_PER_CLASS_PER_SPLIT = 2
EXIT_BAD_INPUT = 2


class PreprocessError(ValueError):
    """The input data or the arguments cannot be used; the message says what to fix."""


class Splits(NamedTuple):
    """The three stratified splits, each still holding the target column."""

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame


def validate_fractions(validation_fraction: float, test_fraction: float) -> None:
    """Raise PreprocessError unless both fractions are positive and leave rows to train on."""
    for name, value in (("validation", validation_fraction), ("test", test_fraction)):
        if not 0.0 < value < 1.0:
            raise PreprocessError(f"--{name}-fraction must be between 0 and 1, got {value}")
    if validation_fraction + test_fraction >= 1.0:
        raise PreprocessError(
            "--validation-fraction plus --test-fraction must be below 1 to leave training "
            f"rows, got {validation_fraction} + {test_fraction}"
        )


def min_rows_per_class(validation_fraction: float, test_fraction: float) -> int:
    """Return how many rows each class needs so that every split gets some of it."""
    validate_fractions(validation_fraction, test_fraction)
    smallest = min(validation_fraction, test_fraction, 1.0 - validation_fraction - test_fraction)
    return math.ceil(MIN_EXPECTED_ROWS_PER_CLASS_PER_SPLIT / smallest)


def read_raw_csvs(input_dir: Path) -> pd.DataFrame:
    """Read and concatenate every ``*.csv`` under ``input_dir``; all must share one header."""
    if not input_dir.is_dir():
        raise PreprocessError(f"input directory {input_dir} does not exist")
    # Recursive and sorted: an S3 prefix arrives as a directory tree (say, one folder per
    # day), and a fixed file order keeps the split reproducible.
    files = sorted(input_dir.rglob("*.csv"))
    if not files:
        raise PreprocessError(f"no *.csv files in {input_dir}")
    frames: list[pd.DataFrame] = []
    for path in files:
        try:
            frame = pd.read_csv(path)
        except pd.errors.EmptyDataError:
            raise PreprocessError(f"{path} is empty (not even a header row)") from None
        if frames and list(frame.columns) != list(frames[0].columns):
            raise PreprocessError(
                f"{path} has columns {list(frame.columns)} but {files[0]} has "
                f"{list(frames[0].columns)}; all input files must share one header"
            )
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def validate_dataset(  # noqa: PLR0912 - one flat check per rule
    frame: pd.DataFrame,
    target_column: str,
    *,
    validation_fraction: float,
    test_fraction: float,
    problem_type: str = "binary_classification",
) -> pd.DataFrame:
    """Check ``frame`` can be trained on; return it with the target as integers (classes) or floats (regression)."""
    if frame.empty:
        raise PreprocessError("the input has a header but no data rows")
    if target_column not in frame.columns:
        raise PreprocessError(
            f"target column {target_column!r} not found; columns are {list(frame.columns)} "
            "(set --target-column, and make sure the CSV has a header row)"
        )
    features = [column for column in frame.columns if column != target_column]
    if not features:
        raise PreprocessError(f"no feature columns besides the target {target_column!r}")
    non_numeric = [column for column in features if not is_numeric_dtype(frame[column])]
    if non_numeric:
        examples = {column: frame[column].dropna().head(1).tolist() for column in non_numeric[:5]}
        raise PreprocessError(
            f"non-numeric feature columns {non_numeric} (e.g. {examples}); encode them as numbers before training"
        )
    target = frame[target_column]
    missing = int(target.isna().sum())
    if missing:
        raise PreprocessError(f"{missing} rows have no value in target column {target_column!r}")
    result = frame.copy()
    needed = min_rows_per_class(validation_fraction, test_fraction)
    if problem_type == "regression":
        if not is_numeric_dtype(target) or not target.map(math.isfinite).all():
            raise PreprocessError(f"target column {target_column!r} must hold finite numbers for a regression")
        result[target_column] = target.astype("float64")
        if len(result) < needed:
            raise PreprocessError(f"{len(result)} rows; at least {needed} are needed to split")
        return result
    if problem_type == "multiclass_classification":
        numeric = is_numeric_dtype(target) and not is_bool_dtype(target)
        valid = target.map(lambda value: numeric and math.isfinite(value) and value >= 0 and value == int(value))
        if not valid.all():
            unexpected = sorted({str(value) for value in target[~valid].unique()})
            raise PreprocessError(
                f"target column {target_column!r} must hold class indices 0, 1, 2, ..., found {unexpected}"
            )
        classes: tuple[int, ...] = tuple(range(int(target.max()) + 1))
    else:
        unexpected = sorted({str(value) for value in target.unique() if value not in LABELS})
        if unexpected:
            raise PreprocessError(f"target column {target_column!r} must hold only 0 and 1, found {unexpected}")
        classes = LABELS
    result[target_column] = target.astype("int64")
    counts = result[target_column].value_counts()
    for label in classes:
        found = int(counts.get(label, 0))
        if found < needed:
            raise PreprocessError(
                f"class {label} has {found} rows; at least {needed} per class are needed "
                f"to split {validation_fraction:.0%} validation and {test_fraction:.0%} test"
            )
    return result


def split_dataset(
    frame: pd.DataFrame,
    target_column: str,
    *,
    validation_fraction: float,
    test_fraction: float,
    seed: int,
    problem_type: str = "binary_classification",
) -> Splits:
    """Split ``frame`` into train, validation and test sets (stratified by class for classifiers); same seed,
    same split."""
    validate_fractions(validation_fraction, test_fraction)
    classifier = problem_type != "regression"
    rest, test = train_test_split(
        frame,
        test_size=test_fraction,
        random_state=seed,
        stratify=frame[target_column] if classifier else None,
    )
    # The validation share is of the whole dataset, so rescale it to what is left.
    train, validation = train_test_split(
        rest,
        test_size=validation_fraction / (1.0 - test_fraction),
        random_state=seed,
        stratify=rest[target_column] if classifier else None,
    )
    splits = Splits(
        train=train.reset_index(drop=True),
        validation=validation.reset_index(drop=True),
        test=test.reset_index(drop=True),
    )
    if classifier:
        classes = frame[target_column].nunique()
        for name, split in splits._asdict().items():
            if split[target_column].nunique() != classes:
                raise PreprocessError(f"the {name} split lacks a class; add more rows")
    return splits


def label_first(frame: pd.DataFrame, target_column: str) -> pd.DataFrame:
    """Return ``frame`` with the target moved to the first column, as built-in XGBoost wants."""
    features = [column for column in frame.columns if column != target_column]
    return frame[[target_column, *features]]


def write_outputs(splits: Splits, output_dir: Path, target_column: str) -> dict[str, Path]:
    """Write the three headerless label-first splits and the baseline; return their paths."""
    paths: dict[str, Path] = {}
    for name, split in splits._asdict().items():
        path = output_dir / name / f"{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        label_first(split, target_column).to_csv(path, header=False, index=False)
        paths[name] = path
    baseline = output_dir / "baseline" / "baseline.csv"
    baseline.parent.mkdir(parents=True, exist_ok=True)
    splits.train.drop(columns=[target_column]).to_csv(baseline, header=True, index=False)
    paths["baseline"] = baseline
    return paths


def run(
    base_dir: Path,
    *,
    target_column: str = "target",
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 42,
    problem_type: str = "binary_classification",
) -> dict[str, int]:
    """Read ``<base>/input/raw``, validate, split, write ``<base>/output``; return row counts."""
    validate_fractions(validation_fraction, test_fraction)
    if problem_type not in PROBLEM_TYPES:
        raise PreprocessError(f"--problem-type {problem_type!r}: allowed {', '.join(PROBLEM_TYPES)}")
    frame = read_raw_csvs(base_dir / "input" / "raw")
    frame = validate_dataset(
        frame,
        target_column,
        validation_fraction=validation_fraction,
        test_fraction=test_fraction,
        problem_type=problem_type,
    )
    splits = split_dataset(
        frame,
        target_column,
        validation_fraction=validation_fraction,
        test_fraction=test_fraction,
        seed=seed,
        problem_type=problem_type,
    )
    write_outputs(splits, base_dir / "output", target_column)
    return {name: len(split) for name, split in splits._asdict().items()}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line the pipeline's ProcessingStep passes."""
    parser = argparse.ArgumentParser(description="Split the raw dataset for built-in XGBoost.")
    parser.add_argument("--base-dir", type=Path, default=Path(DEFAULT_BASE_DIR))
    parser.add_argument("--target-column", default="target")
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--problem-type", default="binary_classification", choices=PROBLEM_TYPES)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns 0, or 2 with a message on stderr when the input is unusable."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = parse_args(argv)
    try:
        counts = run(
            args.base_dir,
            target_column=args.target_column,
            validation_fraction=args.validation_fraction,
            test_fraction=args.test_fraction,
            seed=args.seed,
            problem_type=args.problem_type,
        )
    except PreprocessError as error:
        LOGGER.error("preprocess failed: %s", error)
        return EXIT_BAD_INPUT
    LOGGER.info("wrote splits with row counts %s", counts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
