"""Default hyperparameters of the sample model, shared by the pipeline and the local run."""

from __future__ import annotations

# Strings because SageMaker passes hyperparameters to the built-in XGBoost container
# as strings; the local run converts nothing and hands them to xgboost as they are.
# Copy before changing: the pipeline definition and the local run both read this dict.
DEFAULT_HYPERPARAMETERS: dict[str, str] = {
    "objective": "binary:logistic",
    "num_round": "50",
    "max_depth": "5",
    "eta": "0.2",
    "gamma": "4",
    "min_child_weight": "6",
    "subsample": "0.8",
}
