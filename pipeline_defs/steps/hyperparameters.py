"""Default hyperparameters of the built-in XGBoost builder, shared by the pipeline and the local run."""

from __future__ import annotations

from collections.abc import Mapping

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

# The objective each problem type trains with. Multiclass uses multi:softprob (one probability per class, so the
# Evaluate step can score and the endpoint answers with the class probabilities) and needs ``num_class`` from the
# model's configuration: the number of classes is the data's, not the algorithm's (XGBoost doc "XGBoost
# Parameters", Learning Task Parameters).
OBJECTIVES: dict[str, str] = {
    "binary_classification": "binary:logistic",
    "multiclass_classification": "multi:softprob",
    "regression": "reg:squarederror",
}


def default_hyperparameters(problem_type: str) -> dict[str, str]:
    """The sample's hyperparameters with the objective of ``problem_type``."""
    return {**DEFAULT_HYPERPARAMETERS, "objective": OBJECTIVES[problem_type]}


def resolved_hyperparameters(problem_type: str, overrides: Mapping[str, str]) -> dict[str, str]:
    """The defaults of ``problem_type`` under the model's ``overrides``; refuses an objective of another problem
    type and a multiclass model without ``num_class``."""
    merged = {**default_hyperparameters(problem_type), **overrides}
    objective = merged["objective"]
    family = {"binary_classification": "binary:", "multiclass_classification": "multi:", "regression": "reg:"}
    if not objective.startswith(family[problem_type]):
        raise ValueError(
            f"hyperparameters.objective={objective!r} does not train a {problem_type} model; "
            f"allowed: an objective starting with {family[problem_type]!r}, e.g. {OBJECTIVES[problem_type]!r}"
        )
    if problem_type == "multiclass_classification":
        if objective != "multi:softprob":
            raise ValueError(
                f"hyperparameters.objective={objective!r}: the Evaluate step needs class probabilities; "
                "allowed: 'multi:softprob'"
            )
        num_class = merged.get("num_class", "")
        if not num_class.isdigit() or int(num_class) < 2:
            raise ValueError(
                f"hyperparameters.num_class={num_class!r}: a multiclass model must give its number of classes "
                "(an integer >= 2) in training.hyperparameters"
            )
    return merged
