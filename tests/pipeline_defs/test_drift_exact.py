"""Exact values of the drift step's per-feature tests where `make mutate` found the suite lenient."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tests.pipeline_defs.test_drift import drift


def test_numeric_drift_drops_values_that_are_not_numbers() -> None:
    """A capture row with text in a numeric feature is skipped, not a crash."""
    baseline = pd.Series([1.0, 2.0, 3.0, 4.0, "n/a"] * 20, dtype=object)
    current = pd.Series([1.0, 2.0, 3.0, 4.0, "oops"] * 20, dtype=object)
    found = drift.numeric_drift(baseline, current)
    assert found["test"] == "ks"
    assert found["psi"] == pytest.approx(0.0, abs=1e-12)
    assert found["p_value"] == pytest.approx(1.0)


def test_a_single_category_has_p_value_one() -> None:
    """One category on both sides: no chi-squared test is possible, so nothing drifts by the p-value."""
    found = drift.categorical_drift(pd.Series(["a"] * 30), pd.Series(["a"] * 10))
    assert found == {"test": "chi2", "psi": pytest.approx(0.0, abs=1e-12), "p_value": 1.0}


def test_a_category_seen_once_stays_in_the_chi_squared_table() -> None:
    baseline = pd.Series(["a"] * 50 + ["b"] * 50)
    current = pd.Series(["a"] * 50 + ["b"] * 49 + ["c"])  # "c" is unseen: counted once as the other category
    found = drift.categorical_drift(baseline, current)
    expected = float(stats.chi2_contingency(np.array([[50.0, 50.0, 0.0], [50.0, 49.0, 1.0]]))[1])
    assert found["p_value"] == pytest.approx(expected, rel=1e-12)
