"""The drift decision pinned: PSI to known values, and "drifted" only when PSI and the test both cross.

The documented rule (``pipeline_defs/steps/drift.py``): a feature drifts when its PSI is above ``psi_threshold``
AND its KS (numeric) or chi-squared (categorical) p-value is below ``p_value_threshold``. Each case below is one
where a plausible mistake (``or`` for ``and``, ``>=`` for ``>``, a halved or doubled PSI, swapped arguments)
gives a different answer.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.pipeline_defs.test_drift import drift


def test_psi_of_a_known_pair_of_distributions() -> None:
    # sum((a - e) * ln(a / e)) = -0.25 ln(0.5) + 0.25 ln(1.5) = 0.25 ln(3)
    assert drift._psi(np.array([0.5, 0.5]), np.array([0.25, 0.75])) == pytest.approx(0.25 * math.log(3), rel=1e-12)


def test_psi_is_symmetric_and_zero_for_equal_distributions() -> None:
    first, second = np.array([0.1, 0.2, 0.7]), np.array([0.3, 0.3, 0.4])
    assert drift._psi(first, second) == pytest.approx(drift._psi(second, first), rel=1e-12)
    assert drift._psi(first, first) == 0.0


def test_psi_clips_empty_bins_to_the_documented_epsilon() -> None:
    eps = drift.PSI_EPSILON
    expected = (1 - eps) * math.log(1 / eps) + (eps - 1) * math.log(eps / 1)
    assert drift._psi(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(expected, rel=1e-12)


def test_numeric_psi_over_baseline_deciles_has_the_hand_computed_value() -> None:
    baseline = pd.Series(np.arange(1000, dtype=float))
    # Everything in the lowest baseline decile: one bin holds 1.0 where 0.1 was expected, nine hold eps.
    current = pd.Series(np.arange(50, dtype=float))
    eps = drift.PSI_EPSILON
    expected = (1 - 0.1) * math.log(1 / 0.1) + 9 * (eps - 0.1) * math.log(eps / 0.1)
    found = drift.numeric_drift(baseline, current)
    assert found["test"] == "ks"
    assert found["psi"] == pytest.approx(expected, rel=1e-9)
    assert found["p_value"] < 1e-20


def test_categorical_psi_counts_unseen_categories_in_their_own_bin() -> None:
    baseline = pd.Series(["a"] * 50 + ["b"] * 50)
    current = pd.Series(["a"] * 50 + ["z"] * 50)  # 'z' was never seen: it goes to OTHER_CATEGORY
    eps = drift.PSI_EPSILON
    expected = (eps - 0.5) * math.log(eps / 0.5) + (0.5 - eps) * math.log(0.5 / eps)
    found = drift.categorical_drift(baseline, current)
    assert found["test"] == "chi2"
    assert found["psi"] == pytest.approx(expected, rel=1e-9)


def _decide(monkeypatch: pytest.MonkeyPatch, psi: float, p_value: float) -> bool:
    monkeypatch.setattr(drift, "numeric_drift", lambda *_: {"test": "ks", "psi": psi, "p_value": p_value})
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    found = drift.feature_drift(frame, frame, categorical=set(), psi_threshold=0.2, p_value_threshold=0.01)
    return bool(found["x"]["drifted"])


@pytest.mark.parametrize(
    ("psi", "p_value", "drifted"),
    [
        (0.5, 0.001, True),  # both cross
        (0.5, 0.5, False),  # only PSI crosses: a large but not significant shift (small window)
        (0.05, 0.001, False),  # only the test crosses: a significant but trivial shift (large window)
        (0.05, 0.5, False),  # neither
        (0.2, 0.001, False),  # PSI exactly at the threshold is not above it
        (0.5, 0.01, False),  # p-value exactly at the threshold is not below it
        (0.2000001, 0.0099999, True),  # just past both
    ],
)
def test_a_feature_drifts_only_when_psi_and_the_test_both_cross(
    monkeypatch: pytest.MonkeyPatch, psi: float, p_value: float, drifted: bool
) -> None:
    assert _decide(monkeypatch, psi, p_value) is drifted


def test_a_large_sample_with_a_trivial_shift_is_significant_but_not_drift() -> None:
    rng = np.random.default_rng(7)
    baseline = pd.DataFrame({"x": rng.normal(0.0, 1.0, 50_000)})
    current = pd.DataFrame({"x": rng.normal(0.05, 1.0, 50_000)})
    found: dict[str, Any] = drift.feature_drift(
        baseline, current, categorical=set(), psi_threshold=0.2, p_value_threshold=0.01
    )["x"]
    assert found["p_value"] < 0.01  # the test crosses ...
    assert found["psi"] < 0.01  # ... PSI does not
    assert found["drifted"] is False


def test_a_categorical_feature_uses_chi_squared_and_the_same_rule() -> None:
    baseline = pd.DataFrame({"c": ["a"] * 500 + ["b"] * 500})
    shifted = pd.DataFrame({"c": ["a"] * 900 + ["b"] * 100})
    trivially = pd.DataFrame({"c": ["a"] * 560 + ["b"] * 440})
    both = drift.feature_drift(baseline, shifted, categorical={"c"}, psi_threshold=0.2, p_value_threshold=0.01)
    only_test = drift.feature_drift(baseline, trivially, categorical={"c"}, psi_threshold=0.2, p_value_threshold=0.01)
    assert (both["c"]["test"], both["c"]["drifted"]) == ("chi2", True)
    assert only_test["c"]["p_value"] < 0.01 and only_test["c"]["psi"] < 0.2
    assert only_test["c"]["drifted"] is False
