"""Write scikit-learn's bundled diabetes dataset as the raw CSV the ``diabetes`` pipeline trains on.

Ten baseline variables (age, sex, body-mass index, blood pressure and six blood serum measurements, as scikit-learn
ships them: mean-centred and scaled) and ``target``, a quantitative measure of disease progression one year later
(25 to 346).

Usage: ``python -m pipeline_defs.steps.diabetes.sample_data --out data/diabetes.csv``, then upload the file to the
model's training-data prefix.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd  # type: ignore[import-untyped]
from sklearn.datasets import load_diabetes  # type: ignore[import-untyped]

TARGET_COLUMN = "target"


def sample_dataframe() -> pd.DataFrame:
    """Return the bundled dataset: the ten feature columns, then ``target``."""
    bunch = load_diabetes()
    frame = pd.DataFrame(bunch.data, columns=[str(name) for name in bunch.feature_names])
    frame[TARGET_COLUMN] = bunch.target.astype("float64")
    return frame


def write_sample_dataset(path: Path | str) -> Path:
    """Write the bundled dataset to ``path`` as CSV with a header; return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    sample_dataframe().to_csv(out, index=False)
    return out


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: write the sample dataset and print where it went."""
    parser = argparse.ArgumentParser(description="Write the diabetes sample dataset as CSV.")
    parser.add_argument("--out", type=Path, default=Path("data/diabetes.csv"), help="CSV to write")
    args = parser.parse_args(argv)
    print(write_sample_dataset(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
