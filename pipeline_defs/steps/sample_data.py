"""Write scikit-learn's bundled breast-cancer dataset as the raw CSV the pipeline trains on.

The CSV has a header, one column per feature with a safe name (``mean radius`` becomes
``mean_radius``) and a ``target`` column where **1 = malignant, 0 = benign**. scikit-learn
encodes it the other way round (0 = malignant); it is flipped here so that the positive
class, and so precision, recall and F1, are about the tumours a screening model must catch.

Usage: ``python -m pipeline_defs.steps.sample_data --out data/raw.csv``, then upload the
file to the training-data bucket.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pandas as pd  # type: ignore[import-untyped]
from sklearn.datasets import load_breast_cancer  # type: ignore[import-untyped]

TARGET_COLUMN = "target"
MALIGNANT = 1
BENIGN = 0

_UNSAFE = re.compile(r"[^0-9a-z]+")


def safe_column_name(name: str) -> str:
    """Lowercase ``name`` and collapse every run of other characters into one underscore."""
    safe = _UNSAFE.sub("_", name.strip().lower()).strip("_")
    if not safe:
        raise ValueError(f"column name {name!r} has no letters or digits")
    return safe


def sample_dataframe() -> pd.DataFrame:
    """Return the bundled dataset: safe feature columns, then ``target`` (1 = malignant)."""
    bunch = load_breast_cancer()
    columns = [safe_column_name(str(name)) for name in bunch.feature_names]
    frame = pd.DataFrame(bunch.data, columns=columns)
    # scikit-learn's target_names are ("malignant", "benign") for 0 and 1.
    frame[TARGET_COLUMN] = (bunch.target == 0).astype("int64")
    return frame


def write_sample_dataset(path: Path | str) -> Path:
    """Write the bundled dataset to ``path`` as CSV with a header; return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    sample_dataframe().to_csv(out, index=False)
    return out


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: write the sample dataset and print where it went."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path("data/raw.csv"), help="CSV to write")
    args = parser.parse_args(argv)
    print(write_sample_dataset(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
