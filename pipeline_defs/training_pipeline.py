"""The built-in XGBoost training pipeline (the ``breast-cancer`` sample's builder), for any problem type.

``build_training_pipeline`` is pure: it builds a ``Pipeline`` from settings and an
offline session (see ``pipeline_defs.offline``) and touches neither AWS nor the clock.
Deploy-time values are ``${Name}`` placeholders (``pipeline_defs.settings.Placeholders``)
that the CDK construct resolves with ``Fn::Sub``. The graph, the gate and the registration
contract are ``pipeline_defs.model_pipeline``'s; this module supplies what is XGBoost's:

- Preprocess (``steps/preprocess.py``, scikit-learn image) writes label-first CSVs;
- Train runs the built-in algorithm (no code of ours: the algorithm is in the image) with the
  objective of the model's problem type (``steps/hyperparameters.py``);
- Evaluate (``steps/evaluate.py``) runs in the training image, whose xgboost loads the model;
- the registered container has an empty environment, so it serves in algorithm mode
  (see ``REGISTERED_ENVIRONMENT``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline_defs.builder_code import BuilderCode, StepScript
from pipeline_defs.model_pipeline import (
    ARTIFACT_REPORT_FILE,
    ARTIFACT_REPORT_NAME,
    ARTIFACT_SHA256_JSON_PATH,
    ARTIFACT_SHA256_METADATA_KEY,
    DATA_QUALITY_STEP,
    EVALUATE_STEP,
    EVALUATION_REPORT_NAME,
    MODEL_QUALITY_STEP,
    PREPROCESS_STEP,
    REGISTER_STEP,
    TRAIN_STEP,
    TRAINING_BASELINE_METADATA_KEY,
    ModelParts,
    TrainContext,
    build_model_pipeline,
    condition_step_name,
    fail_step_name,
)
from pipeline_defs.settings import SKLEARN_1_2, TrainingPipelineSettings, report_json_path
from pipeline_defs.steps.hyperparameters import resolved_hyperparameters

__all__ = [
    "ARTIFACT_REPORT_FILE",
    "ARTIFACT_REPORT_NAME",
    "ARTIFACT_SHA256_JSON_PATH",
    "ARTIFACT_SHA256_METADATA_KEY",
    "AUC_JSON_PATH",
    "BUILDER_CODE",
    "CONDITION_STEP",
    "DATA_QUALITY_STEP",
    "EVALUATE_STEP",
    "EVALUATION_REPORT_NAME",
    "FAIL_STEP",
    "MODEL_QUALITY_STEP",
    "PREPROCESS_STEP",
    "REGISTERED_ENVIRONMENT",
    "REGISTER_STEP",
    "TRAINING_BASELINE_METADATA_KEY",
    "TRAIN_STEP",
    "build_training_pipeline",
]

STEPS_DIR = Path(__file__).resolve().parent / "steps"
BUILDER_CODE = BuilderCode(
    scripts=(
        StepScript("preprocess", STEPS_DIR / "preprocess.py"),
        StepScript("evaluate", STEPS_DIR / "evaluate.py"),
    ),
    # Preprocess needs pandas and scikit-learn; Evaluate runs in the training image (None in ModelParts).
    processing_image=SKLEARN_1_2,
)

# The sample's gate (binary classifier, AUC): its step names, kept from before problem types existed.
CONDITION_STEP = condition_step_name("auc")
FAIL_STEP = fail_step_name("auc", lower_is_better=False)
AUC_JSON_PATH = report_json_path("binary_classification", "auc")

# The container environment of the registered model: none. The SageMaker XGBoost container
# decides between algorithm mode and script mode on SAGEMAKER_PROGRAM alone: unset means the
# built-in scoring service; any other value, the empty string included, is imported as the
# user's module (aws/sagemaker-xgboost-container, src/sagemaker_xgboost_container/serving.py,
# ``main``; the name comes from sagemaker-containers' ``ServingEnv.module_name``, which turns
# "" into "", not None), and ``importlib.import_module("")`` fails, so the container never
# answers /ping. The SDK's ModelBuilder adds SAGEMAKER_PROGRAM/SAGEMAKER_SUBMIT_DIRECTORY=""
# whenever its deprecated ``dependencies`` field is truthy, which it is by default.
REGISTERED_ENVIRONMENT: dict[str, str] = {}


def _train_step(context: TrainContext) -> Any:
    """Train the built-in XGBoost algorithm on the label-first train and validation CSVs."""
    from sagemaker.mlops.workflow.steps import TrainingStep
    from sagemaker.train.configs import InputData

    settings = context.settings
    trainer = context.model_trainer(resolved_hyperparameters(settings.problem_type, settings.hyperparameters))
    return TrainingStep(
        name=TRAIN_STEP,
        description="Train the built-in XGBoost algorithm.",
        step_args=trainer.train(
            input_data_config=[
                InputData(
                    channel_name=channel,
                    data_source=context.preprocess_uri(channel),
                    content_type="text/csv",
                )
                for channel in ("train", "validation")
            ]
        ),
        cache_config=context.cache_config,
        retry_policies=context.retry_policies,
    )


def build_training_pipeline(settings: TrainingPipelineSettings, session: Any) -> Any:
    """Build the built-in XGBoost training pipeline for ``settings`` with an offline ``session``."""
    # Fails at synth, naming the hyperparameter, rather than in the Train job.
    resolved_hyperparameters(settings.problem_type, settings.hyperparameters)
    # The scripts default to a binary classifier: the sample's definition (and its step cache) stays as it was.
    problem_type_arguments = (
        () if settings.problem_type == "binary_classification" else ("--problem-type", settings.problem_type)
    )
    parts = ModelParts(
        code=BUILDER_CODE,
        train=_train_step,
        registered_environment=REGISTERED_ENVIRONMENT,
        evaluate_image=None,
        preprocess_arguments=problem_type_arguments,
        evaluate_arguments=problem_type_arguments,
    )
    return build_model_pipeline(settings, session, parts)
