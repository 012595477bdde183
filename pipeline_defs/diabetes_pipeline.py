"""The ``diabetes`` sample's training pipeline: a scikit-learn regression trained in the AWS scikit-learn container.

Nothing like the XGBoost sample but the shared graph (``pipeline_defs.model_pipeline``): its own step scripts
(``steps/diabetes/``), scikit-learn gradient boosting trained in script mode, an RMSE or R2 gate, and a model
served by the scikit-learn container through the model's own ``inference.py``.

Train, in script mode without uploading anything at render time (the SDK's ``ModelTrainer(source_code=...)`` would
upload its driver scripts, and the definition must render offline): the AWS scikit-learn image runs its training
toolkit (aws/sagemaker-scikit-learn-container ``training.py`` -> aws/sagemaker-training-toolkit
``entry_point.run``), which reads two hyperparameters:

- ``sagemaker_submit_directory``: ``/opt/ml/input/data/code``, the ``code`` channel; a local directory is copied to
  ``/opt/ml/code`` (``files.download_and_extract``), so nothing is downloaded from inside the isolated job;
- ``sagemaker_program``: the script's file name in that channel, which is its asset's object key (``<hash>.py``):
  a channel whose S3 URI is one object's full key holds that object under its last key segment, as the SDK v2's
  network-isolated script mode relies on (aws/sagemaker-python-sdk v2, ``estimator.py``,
  ``Framework.CONTAINER_CODE_CHANNEL_SOURCEDIR_PATH = "/opt/ml/input/data/code/sourcedir.tar.gz"``). The training
  stack refuses an object key with a ``/`` in it.

The ``inference`` channel brings ``inference.py``; ``train.py`` copies it into the model as ``code/inference.py``.

Register: the scikit-learn serving image with exactly the environment its serving stack reads
(aws/sagemaker-scikit-learn-container ``serving.py`` ``main`` -> sagemaker-containers 2.8.6.post2 ``_env.py``
``ServingEnv``, ``_modules.py`` ``import_module``, ``_files.py`` ``download_and_extract``, ``_worker.py``
``Request.accept``): see :data:`REGISTERED_ENVIRONMENT`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline_defs.builder_code import BuilderCode, StepScript
from pipeline_defs.model_pipeline import TRAIN_STEP, ModelParts, TrainContext, build_model_pipeline
from pipeline_defs.settings import SKLEARN_1_2, Placeholders, TrainingPipelineSettings

STEPS_DIR = Path(__file__).resolve().parent / "steps" / "diabetes"
BUILDER_CODE = BuilderCode(
    scripts=(
        StepScript("preprocess", STEPS_DIR / "preprocess.py"),
        StepScript("train", STEPS_DIR / "train.py"),
        StepScript("inference", STEPS_DIR / "inference.py"),
        StepScript("evaluate", STEPS_DIR / "evaluate.py"),
    ),
    processing_image=SKLEARN_1_2,
)

# Where the training toolkit finds the training script: the ``code`` channel's directory.
TRAINING_CODE_DIR = "/opt/ml/input/data/code"
# The serving script's place inside model.tar.gz, which SageMaker unpacks into /opt/ml/model.
SERVING_CODE_DIR = "/opt/ml/model/code"
SERVING_PROGRAM = "inference.py"

# The registered container's environment, each key read by the scikit-learn serving container:
# - SAGEMAKER_PROGRAM: ``ServingEnv.module_name`` (".py" stripped) is imported and its ``model_fn`` used; it must
#   name a real module, never "" (cfn_rules E9002);
# - SAGEMAKER_SUBMIT_DIRECTORY: ``ServingEnv.module_dir``; ``import_module`` copies a local directory to
#   /opt/ml/code before importing, so the code comes from inside the model artifact (no S3 access needed);
# - SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT: the answer's type when a request has no Accept (or */*); the container's
#   default is application/json, the package's declared response type is text/csv (as the XGBoost sample's).
REGISTERED_ENVIRONMENT: dict[str, str] = {
    "SAGEMAKER_PROGRAM": SERVING_PROGRAM,
    "SAGEMAKER_SUBMIT_DIRECTORY": SERVING_CODE_DIR,
    "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv",
}

# train.py's hyperparameters (strings, as the API takes them; the toolkit passes each as ``--name value``).
DEFAULT_HYPERPARAMETERS: dict[str, str] = {
    "n-estimators": "200",
    "max-depth": "3",
    "learning-rate": "0.05",
    "subsample": "0.8",
}
_TOOLKIT_PREFIX = "sagemaker_"


def training_hyperparameters(overrides: dict[str, str] | Any) -> dict[str, str]:
    """train.py's defaults under the model's overrides, plus the two keys that select the script."""
    reserved = sorted(key for key in overrides if key.startswith(_TOOLKIT_PREFIX))
    if reserved:
        raise ValueError(f"hyperparameters {reserved}: keys starting with {_TOOLKIT_PREFIX!r} are the toolkit's")
    script = BUILDER_CODE.script("train")
    return {
        **DEFAULT_HYPERPARAMETERS,
        **overrides,
        "sagemaker_program": Placeholders.ref(script.key_placeholder),
        "sagemaker_submit_directory": TRAINING_CODE_DIR,
    }


def _train_step(context: TrainContext) -> Any:
    """Train ``train.py`` in the scikit-learn image's script mode."""
    from sagemaker.mlops.workflow.steps import TrainingStep
    from sagemaker.train.configs import InputData

    trainer = context.model_trainer(training_hyperparameters(context.settings.hyperparameters))
    data = [
        InputData(channel_name=channel, data_source=context.preprocess_uri(channel), content_type="text/csv")
        for channel in ("train", "validation")
    ]
    code = [
        InputData(channel_name=channel, data_source=BUILDER_CODE.script(script).s3_uri)
        for channel, script in (("code", "train"), ("inference", "inference"))
    ]
    return TrainingStep(
        name=TRAIN_STEP,
        description="Train scikit-learn gradient boosting (train.py) in the scikit-learn container's script mode.",
        step_args=trainer.train(input_data_config=[*data, *code]),
        cache_config=context.cache_config,
        retry_policies=context.retry_policies,
    )


def build_diabetes_pipeline(settings: TrainingPipelineSettings, session: Any) -> Any:
    """Build the diabetes regression pipeline for ``settings`` with an offline ``session``."""
    if settings.problem_type != "regression":
        raise ValueError(f"problem_type={settings.problem_type!r}: the diabetes builder trains a regression")
    training_hyperparameters(settings.hyperparameters)  # fails at synth, naming the key
    parts = ModelParts(code=BUILDER_CODE, train=_train_step, registered_environment=REGISTERED_ENVIRONMENT)
    return build_model_pipeline(settings, session, parts)
