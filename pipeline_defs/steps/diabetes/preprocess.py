"""Validate the raw regression dataset and split it at random into train, validation and test.

Runs in the SageMaker scikit-learn 1.2-1 processing image (and on a laptop). Reads every ``*.csv`` under
``<base>/input/raw/`` (one header row, numeric columns, one of them the target) and writes:

- ``<base>/output/{train,validation,test}/<name>.csv``: target first, no header (what ``train.py``, ``evaluate.py``
  and the served model read: the serving container's CSV decoder takes no header);
- ``<base>/output/baseline/baseline.csv``: the training split's features with a header, the data-quality and drift
  baseline.

Bad input (no files, different headers, a missing target, non-numeric or missing values, too few rows) stops the
job with a message and exit code 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

LOGGER = logging.getLogger("preprocess")
DEFAULT_BASE_DIR = "/opt/ml/processing"
EXIT_BAD_INPUT = 2
# Fewer rows than this leave a split too small to score a regression on.
MIN_ROWS = 20


class PreprocessError(ValueError):
    """The input cannot be used; the message says what to fix."""


def read_raw(input_dir: Path) -> pd.DataFrame:
    """Concatenate every ``*.csv`` under ``input_dir`` (sorted, so the split is reproducible); one shared header."""
    files = sorted(input_dir.rglob("*.csv")) if input_dir.is_dir() else []
    if not files:
        raise PreprocessError(f"no *.csv files in {input_dir}")
    frames = [pd.read_csv(path) for path in files]
    # No zip(strict=...): the image's Python predates it.
    for index in range(1, len(files)):
        if list(frames[index].columns) != list(frames[0].columns):
            raise PreprocessError(
                f"{files[index]} has columns {list(frames[index].columns)}, not {list(frames[0].columns)}"
            )
    return pd.concat(frames, ignore_index=True)


def validate(frame: pd.DataFrame, target_column: str) -> pd.DataFrame:
    """Return ``frame`` as float64, target included, or say what is wrong with it."""
    if target_column not in frame.columns:
        raise PreprocessError(f"target column {target_column!r} not found; columns are {list(frame.columns)}")
    if frame.shape[1] < 2:
        raise PreprocessError("no feature columns besides the target")
    try:
        values = frame.astype("float64")
    except (TypeError, ValueError) as error:
        raise PreprocessError(f"every column must be numeric: {error}") from None
    if not np.isfinite(values.to_numpy()).all():
        bad = [column for column in values.columns if not np.isfinite(values[column]).all()]
        raise PreprocessError(f"missing or infinite values in columns {bad}")
    if len(values) < MIN_ROWS:
        raise PreprocessError(f"{len(values)} rows; at least {MIN_ROWS} are needed")
    return values


def split(
    frame: pd.DataFrame, *, validation_fraction: float, test_fraction: float, seed: int
) -> dict[str, pd.DataFrame]:
    """Shuffle with ``seed`` and cut into train, validation and test (same seed, same split)."""
    if not (0 < validation_fraction < 1 and 0 < test_fraction < 1 and validation_fraction + test_fraction < 1):
        raise PreprocessError("fractions must be in (0, 1) and leave rows to train on")
    order = np.random.RandomState(seed).permutation(len(frame))
    n_test = max(1, round(len(frame) * test_fraction))
    n_validation = max(1, round(len(frame) * validation_fraction))
    shuffled = frame.iloc[order].reset_index(drop=True)
    return {
        "test": shuffled.iloc[:n_test],
        "validation": shuffled.iloc[n_test : n_test + n_validation],
        "train": shuffled.iloc[n_test + n_validation :],
    }


def run(
    base_dir: Path,
    *,
    target_column: str = "target",
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 42,
) -> dict[str, int]:
    """Read, validate, split and write; return the row count of each split."""
    frame = validate(read_raw(base_dir / "input" / "raw"), target_column)
    splits = split(frame, validation_fraction=validation_fraction, test_fraction=test_fraction, seed=seed)
    features = [column for column in frame.columns if column != target_column]
    for name, part in splits.items():
        path = base_dir / "output" / name / f"{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        part[[target_column, *features]].to_csv(path, header=False, index=False)
    baseline = base_dir / "output" / "baseline" / "baseline.csv"
    baseline.parent.mkdir(parents=True, exist_ok=True)
    splits["train"][features].to_csv(baseline, header=True, index=False)
    return {name: len(part) for name, part in splits.items()}


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; 0, or 2 with a message when the input is unusable."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    parser = argparse.ArgumentParser(description="Split the raw regression dataset.")
    parser.add_argument("--base-dir", type=Path, default=Path(DEFAULT_BASE_DIR))
    parser.add_argument("--target-column", default="target")
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    try:
        counts = run(
            args.base_dir,
            target_column=args.target_column,
            validation_fraction=args.validation_fraction,
            test_fraction=args.test_fraction,
            seed=args.seed,
        )
    except PreprocessError as error:
        LOGGER.error("preprocess failed: %s", error)
        return EXIT_BAD_INPUT
    LOGGER.info("wrote splits with row counts %s", counts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
