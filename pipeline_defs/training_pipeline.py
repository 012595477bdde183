"""The training pipeline: preprocess, baseline, train, evaluate, gate on AUC, register.

``build_training_pipeline`` is pure: it builds a ``Pipeline`` from settings and an
offline session (see ``pipeline_defs.offline``) and touches neither AWS nor the clock.
Deploy-time values are ``${Name}`` placeholders (``pipeline_defs.settings.Placeholders``)
that the CDK construct resolves with ``Fn::Sub``.

What every registered model package carries (a contract with serving and promotion):

- one container: the built-in XGBoost image, the training job's ``model.tar.gz``, and an
  empty environment, so the container serves in algorithm mode (see ``REGISTERED_ENVIRONMENT``);
- customer metadata ``TriggerReason`` (why the run started) and ``ModelArtifactSha256``
  (lowercase hex SHA-256 of the exact ``model.tar.gz`` bytes the Evaluate step scored);
- model metrics and drift-check baselines from the baselining steps.

Graph::

    Preprocess -> DataQualityBaseline
               -> Train -> Evaluate -> ModelQualityBaseline -> CheckAucThreshold
                                           -> RegisterModel  (AUC >= threshold)
                                           -> AucBelowThreshold (FailStep otherwise)
"""

from __future__ import annotations

from typing import Any

# The SDK needs a region at import: ``pipeline_defs.render`` calls
# ``offline.prepare_environment`` before importing this module.
from sagemaker.core import image_uris
from sagemaker.core.drift_check_baselines import DriftCheckBaselines
from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
from sagemaker.core.network import NetworkConfig
from sagemaker.core.processing import Processor
from sagemaker.core.shapes import (
    ProcessingInput,
    ProcessingOutput,
    ProcessingS3Output,
)
from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join, JsonGet
from sagemaker.core.workflow.parameters import (
    ParameterFloat,
    ParameterInteger,
    ParameterString,
)
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.core.workflow.properties import PropertyFile
from sagemaker.mlops.workflow.check_job_config import CheckJobConfig
from sagemaker.mlops.workflow.condition_step import ConditionStep
from sagemaker.mlops.workflow.fail_step import FailStep
from sagemaker.mlops.workflow.model_step import ModelStep
from sagemaker.mlops.workflow.pipeline import Pipeline
from sagemaker.mlops.workflow.quality_check_step import (
    DataQualityCheckConfig,
    ModelQualityCheckConfig,
    QualityCheckStep,
)
from sagemaker.mlops.workflow.steps import CacheConfig, ProcessingStep, TrainingStep
from sagemaker.serve.model_builder import ModelBuilder
from sagemaker.train.configs import Compute, InputData, Networking, StoppingCondition
from sagemaker.train.configs import OutputDataConfig as TrainOutputDataConfig
from sagemaker.train.model_trainer import ModelTrainer

from pipeline_defs.sdk_parts import retry_policies, s3_input
from pipeline_defs.settings import Placeholders, TrainingPipelineSettings

# Step names are a contract: the retraining Lambda, alarms and tests refer to them,
# and renaming one breaks step caching for the next execution.
PREPROCESS_STEP = "Preprocess"
DATA_QUALITY_STEP = "DataQualityBaseline"
TRAIN_STEP = "Train"
EVALUATE_STEP = "Evaluate"
MODEL_QUALITY_STEP = "ModelQualityBaseline"
CONDITION_STEP = "CheckAucThreshold"
REGISTER_STEP = "RegisterModel"
FAIL_STEP = "AucBelowThreshold"

# Paths inside the processing containers (the step scripts' I/O contract).
_PROCESSING_BASE = "/opt/ml/processing"
_CODE_DIR = f"{_PROCESSING_BASE}/input/code"
# CDK file assets are stored under content-hash keys (``<hash>.py``), so the script's
# file name in the container is not known at synth. Each script gets a directory of
# its own and the shell runs the only ``.py`` in it, passing the job's arguments on.
_RUN_SCRIPT = 'exec python3 "$(ls {dir}/*.py)" "$@"'

EVALUATION_REPORT_NAME = "EvaluationReport"
AUC_JSON_PATH = "binary_classification_metrics.auc.value"
# The Evaluate step's second property file (``steps/evaluate.py`` writes ``artifact.json``).
ARTIFACT_REPORT_NAME = "ArtifactDigest"
ARTIFACT_REPORT_FILE = "artifact.json"
ARTIFACT_SHA256_JSON_PATH = "model_artifact.sha256"
# Customer metadata key of the artifact digest: the promotion copier verifies copies against it.
ARTIFACT_SHA256_METADATA_KEY = "ModelArtifactSha256"
# The training baseline CSV (Preprocess output "baseline") the open drift backend compares against: not a
# drift-check baseline SageMaker knows, so the package names it in customer metadata, and promotion
# (mlops_constructs.promotion.BASELINE_SOURCES["training"]) copies it with the model into each environment.
TRAINING_BASELINE_METADATA_KEY = "TrainingBaselineS3Uri"

# The container environment of the registered model: none. The SageMaker XGBoost container
# decides between algorithm mode and script mode on SAGEMAKER_PROGRAM alone: unset means the
# built-in scoring service; any other value, the empty string included, is imported as the
# user's module (aws/sagemaker-xgboost-container, src/sagemaker_xgboost_container/serving.py,
# ``main``; the name comes from sagemaker-containers' ``ServingEnv.module_name``, which turns
# "" into "", not None), and ``importlib.import_module("")`` fails, so the container never
# answers /ping. The SDK's ModelBuilder adds SAGEMAKER_PROGRAM/SAGEMAKER_SUBMIT_DIRECTORY=""
# whenever its deprecated ``dependencies`` field is truthy, which it is by default.
REGISTERED_ENVIRONMENT: dict[str, str] = {}


def _s3(bucket_placeholder: str, *parts: Any) -> Any:
    """An S3 URI under a bucket placeholder, per pipeline execution.

    ``ExecutionVariables.PIPELINE_EXECUTION_ID`` is resolved by SageMaker at run time,
    which keeps every run's artifacts apart without a timestamp in the definition.
    """
    return Join(
        on="/",
        values=[
            "s3:/",
            Placeholders.ref(bucket_placeholder),
            parts[0],
            ExecutionVariables.PIPELINE_EXECUTION_ID,
            *parts[1:],
        ],
    )


class IsolatedQualityCheckStep(QualityCheckStep):  # type: ignore[misc]
    """``QualityCheckStep`` with its ``NetworkConfig`` serialised.

    sagemaker-mlops 1.27's ``_build_check_job_request`` puts the ``NetworkConfig`` object
    itself into the request (``json.dumps`` then fails); every other job type calls
    ``_to_request_dict()``. Without a network config the baselining jobs would run without
    isolation and outside the VPC, so the request is fixed here instead of dropped.
    """

    @property
    def arguments(self) -> dict[str, Any]:
        """The CreateProcessingJob request, with a JSON-able ``NetworkConfig``."""
        request: dict[str, Any] = super().arguments
        network = request.get("NetworkConfig")
        if isinstance(network, NetworkConfig):
            request["NetworkConfig"] = network._to_request_dict()
        return request


def build_training_pipeline(settings: TrainingPipelineSettings, session: PipelineSession) -> Pipeline:
    """Build the training pipeline for ``settings`` with an offline ``session``."""
    role = Placeholders.execution_role_arn()
    kms_key = Placeholders.ref(Placeholders.KMS_KEY_ARN)
    prefix = settings.output_prefix.strip("/")

    # --- Parameters (defaults from settings; the retraining Lambda overrides some) ---
    input_data_uri = ParameterString(name="InputDataUri", default_value=settings.input_data_uri)
    processing_instance_type = ParameterString(
        name="ProcessingInstanceType", default_value=settings.processing_instance_type
    )
    processing_instance_count = ParameterInteger(
        name="ProcessingInstanceCount", default_value=settings.processing_instance_count
    )
    training_instance_type = ParameterString(name="TrainingInstanceType", default_value=settings.training_instance_type)
    training_instance_count = ParameterInteger(
        name="TrainingInstanceCount", default_value=settings.training_instance_count
    )
    auc_threshold = ParameterFloat(name="AucThreshold", default_value=settings.auc_threshold)
    approval_status = ParameterString(name="ModelApprovalStatus", default_value=settings.default_approval_status)
    trigger_reason = ParameterString(name="TriggerReason", default_value=settings.default_trigger_reason)

    # --- Shared job settings: every job is isolated, encrypted, and in the VPC if given ---
    subnets = list(settings.subnet_ids) or None
    security_groups = list(settings.security_group_ids) or None
    network_config = NetworkConfig(
        enable_network_isolation=True,
        encrypt_inter_container_traffic=True,
        subnets=subnets,
        security_group_ids=security_groups,
    )
    cache_config = CacheConfig(enable_caching=settings.step_caching, expire_after=settings.cache_expire_after)
    # Throttling on the create call is retried by the pipeline service itself; capacity
    # and internal errors of the job are retried only when asked, here.
    step_retry, job_retry = retry_policies(
        interval_seconds=settings.retry_interval_seconds,
        backoff_rate=settings.retry_backoff_rate,
        max_attempts=settings.retry_max_attempts,
    )
    job_retries = [step_retry, job_retry]
    # The trigger reason reaches every script job as an env var: it lands in the job's
    # description in CloudWatch and lets a run say why it happened.
    job_env = {"TRIGGER_REASON": trigger_reason}

    sklearn_image = image_uris.retrieve(framework="sklearn", region=settings.region, version=settings.sklearn_version)
    xgboost_image = image_uris.retrieve(framework="xgboost", region=settings.region, version=settings.xgboost_version)

    def script_processor(image_uri: str, script: str) -> Processor:
        code_dir = f"{_CODE_DIR}/{script}"
        return Processor(
            role=role,
            image_uri=image_uri,
            instance_type=processing_instance_type,
            instance_count=processing_instance_count,
            entrypoint=["/bin/sh", "-c", _RUN_SCRIPT.format(dir=code_dir), script],
            volume_size_in_gb=settings.volume_size_gb,
            volume_kms_key=kms_key,
            output_kms_key=kms_key,
            max_runtime_in_seconds=settings.max_runtime_seconds,
            # Fixed base name: job names are dropped from the definition anyway (SageMaker
            # names jobs per execution), but a fixed one keeps the SDK off the clock.
            base_job_name=f"{prefix}-{script}",
            sagemaker_session=session,
            env=dict(job_env),
            network_config=network_config,
        )

    def s3_output(name: str, step: str, local_path: str) -> ProcessingOutput:
        return ProcessingOutput(
            output_name=name,
            s3_output=ProcessingS3Output(
                s3_uri=_s3(Placeholders.ARTIFACT_BUCKET, prefix, step, name),
                local_path=local_path,
                s3_upload_mode="EndOfJob",
            ),
        )

    def code_input(script: str, bucket: str, key: str) -> ProcessingInput:
        uri = Placeholders.s3_uri(bucket, key)
        return s3_input("code", uri, f"{_CODE_DIR}/{script}")

    # --- Preprocess ---
    preprocess_outputs = ("train", "validation", "test", "baseline")
    preprocess_step = ProcessingStep(
        name=PREPROCESS_STEP,
        description="Split the raw data into train/validation/test and a baseline sample.",
        step_args=script_processor(sklearn_image, "preprocess").run(
            inputs=[
                s3_input("raw", input_data_uri, f"{_PROCESSING_BASE}/input/raw"),
                code_input(
                    "preprocess",
                    Placeholders.PREPROCESS_SCRIPT_BUCKET,
                    Placeholders.PREPROCESS_SCRIPT_KEY,
                ),
            ],
            outputs=[
                s3_output(name, PREPROCESS_STEP, f"{_PROCESSING_BASE}/output/{name}") for name in preprocess_outputs
            ],
            arguments=["--base-dir", _PROCESSING_BASE],
        ),
        cache_config=cache_config,
        retry_policies=job_retries,
    )

    def preprocess_uri(name: str) -> Any:
        outputs = preprocess_step.properties.ProcessingOutputConfig.Outputs
        return outputs[name].S3Output.S3Uri

    check_job_config = CheckJobConfig(
        role=role,
        instance_count=1,
        instance_type=settings.check_instance_type,
        volume_size_in_gb=settings.volume_size_gb,
        volume_kms_key=kms_key,
        output_kms_key=kms_key,
        max_runtime_in_seconds=settings.max_runtime_seconds,
        base_job_name=f"{prefix}-baseline",
        sagemaker_session=session,
        network_config=network_config,
    )

    # --- Data-quality baseline (statistics + constraints of the training features) ---
    data_quality_step = IsolatedQualityCheckStep(
        name=DATA_QUALITY_STEP,
        description="Baseline statistics and constraints of the input features.",
        quality_check_config=DataQualityCheckConfig(
            baseline_dataset=preprocess_uri("baseline"),
            dataset_format={"csv": {"header": True}},
            output_s3_uri=_s3(Placeholders.ARTIFACT_BUCKET, prefix, DATA_QUALITY_STEP),
        ),
        check_job_config=check_job_config,
        # First run of a new model group: nothing to compare against, so compute the
        # baseline and register it with the model instead of failing on drift.
        skip_check=True,
        register_new_baseline=True,
        model_package_group_name=settings.model_package_group_name,
        cache_config=cache_config,
    )

    # --- Train (built-in XGBoost; no local code: the algorithm is in the image) ---
    trainer = ModelTrainer(
        training_image=xgboost_image,
        role=role,
        base_job_name=f"{prefix}-train",
        sagemaker_session=session,
        compute=Compute(
            instance_type=training_instance_type,
            instance_count=training_instance_count,
            volume_size_in_gb=settings.volume_size_gb,
            volume_kms_key_id=kms_key,
        ),
        networking=Networking(
            enable_network_isolation=True,
            enable_inter_container_traffic_encryption=True,
            subnets=subnets,
            security_group_ids=security_groups,
        ),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=settings.max_runtime_seconds),
        output_data_config=TrainOutputDataConfig(
            s3_output_path=_s3(Placeholders.ARTIFACT_BUCKET, prefix, TRAIN_STEP),
            kms_key_id=kms_key,
        ),
        hyperparameters=dict(settings.hyperparameters),
        environment={},
    )
    train_step = TrainingStep(
        name=TRAIN_STEP,
        description="Train the built-in XGBoost algorithm.",
        step_args=trainer.train(
            input_data_config=[
                InputData(
                    channel_name=channel,
                    data_source=preprocess_uri(channel),
                    content_type="text/csv",
                )
                for channel in ("train", "validation")
            ]
        ),
        cache_config=cache_config,
        retry_policies=job_retries,
    )
    model_data = train_step.properties.ModelArtifacts.S3ModelArtifacts

    # --- Evaluate (in the XGBoost image, which has xgboost and pandas) ---
    evaluation_report = PropertyFile(name=EVALUATION_REPORT_NAME, output_name="evaluation", path="evaluation.json")
    artifact_report = PropertyFile(name=ARTIFACT_REPORT_NAME, output_name="evaluation", path=ARTIFACT_REPORT_FILE)
    evaluate_step = ProcessingStep(
        name=EVALUATE_STEP,
        description="Score the test split; write evaluation.json and predictions.csv.",
        step_args=script_processor(xgboost_image, "evaluate").run(
            inputs=[
                s3_input("model", model_data, f"{_PROCESSING_BASE}/model"),
                s3_input("test", preprocess_uri("test"), f"{_PROCESSING_BASE}/test"),
                code_input("evaluate", Placeholders.EVALUATE_SCRIPT_BUCKET, Placeholders.EVALUATE_SCRIPT_KEY),
            ],
            outputs=[
                s3_output("evaluation", EVALUATE_STEP, f"{_PROCESSING_BASE}/evaluation"),
                s3_output("quality_baseline", EVALUATE_STEP, f"{_PROCESSING_BASE}/quality_baseline"),
            ],
            arguments=["--base-dir", _PROCESSING_BASE],
        ),
        property_files=[evaluation_report, artifact_report],
        cache_config=cache_config,
        retry_policies=job_retries,
    )
    evaluate_outputs = evaluate_step.properties.ProcessingOutputConfig.Outputs

    # --- Model-quality baseline on the test predictions ---
    model_quality_step = IsolatedQualityCheckStep(
        name=MODEL_QUALITY_STEP,
        description="Baseline model-quality metrics of the candidate on the test split.",
        quality_check_config=ModelQualityCheckConfig(
            baseline_dataset=Join(
                on="/",
                values=[evaluate_outputs["quality_baseline"].S3Output.S3Uri, "predictions.csv"],
            ),
            dataset_format={"csv": {"header": True}},
            output_s3_uri=_s3(Placeholders.ARTIFACT_BUCKET, prefix, MODEL_QUALITY_STEP),
            problem_type="BinaryClassification",
            inference_attribute="prediction",
            probability_attribute="probability",
            ground_truth_attribute="label",
        ),
        check_job_config=check_job_config,
        skip_check=True,
        register_new_baseline=True,
        model_package_group_name=settings.model_package_group_name,
        cache_config=cache_config,
    )

    # --- Register (3.x: ModelBuilder.register under a PipelineSession feeds ModelStep;
    #     the 2.x RegisterModel step collection is gone) ---
    evaluation_uri = Join(on="/", values=[evaluate_outputs["evaluation"].S3Output.S3Uri, "evaluation.json"])
    model_metrics = ModelMetrics(
        model_statistics=MetricsSource(s3_uri=evaluation_uri, content_type="application/json"),
        model_constraints=MetricsSource(
            s3_uri=model_quality_step.properties.CalculatedBaselineConstraints,
            content_type="application/json",
        ),
        model_data_statistics=MetricsSource(
            s3_uri=data_quality_step.properties.CalculatedBaselineStatistics,
            content_type="application/json",
        ),
        model_data_constraints=MetricsSource(
            s3_uri=data_quality_step.properties.CalculatedBaselineConstraints,
            content_type="application/json",
        ),
    )
    drift_check_baselines = DriftCheckBaselines(
        model_statistics=MetricsSource(
            s3_uri=model_quality_step.properties.BaselineUsedForDriftCheckStatistics,
            content_type="application/json",
        ),
        model_constraints=MetricsSource(
            s3_uri=model_quality_step.properties.BaselineUsedForDriftCheckConstraints,
            content_type="application/json",
        ),
        model_data_statistics=MetricsSource(
            s3_uri=data_quality_step.properties.BaselineUsedForDriftCheckStatistics,
            content_type="application/json",
        ),
        model_data_constraints=MetricsSource(
            s3_uri=data_quality_step.properties.BaselineUsedForDriftCheckConstraints,
            content_type="application/json",
        ),
    )
    model_builder = ModelBuilder(
        image_uri=xgboost_image,
        s3_model_data_url=model_data,
        role_arn=role,
        sagemaker_session=session,
        env_vars=dict(REGISTERED_ENVIRONMENT),
        # Falsy, so the builder takes no script-mode path and adds no SAGEMAKER_* variables.
        dependencies=None,
    )
    # A JsonGet is a data dependency on Evaluate's property file, resolved by the pipeline
    # service at run time like any step property (AWS doc "Pipelines steps", "Data dependency
    # between steps"); the SDK types customer_metadata_properties as Dict[str, StrPipeVar].
    artifact_sha256 = JsonGet(
        step_name=EVALUATE_STEP, property_file=artifact_report, json_path=ARTIFACT_SHA256_JSON_PATH
    )
    register_step = ModelStep(
        name=REGISTER_STEP,
        step_args=model_builder.register(
            model_package_group_name=settings.model_package_group_name,
            content_types=["text/csv"],
            response_types=["text/csv"],
            inference_instances=list(settings.inference_instance_types),
            transform_instances=list(settings.transform_instance_types),
            model_metrics=model_metrics,
            drift_check_baselines=drift_check_baselines,
            approval_status=approval_status,
            customer_metadata_properties={
                "TriggerReason": trigger_reason,
                ARTIFACT_SHA256_METADATA_KEY: artifact_sha256,
                TRAINING_BASELINE_METADATA_KEY: Join(on="/", values=[preprocess_uri("baseline"), "baseline.csv"]),
            },
        ),
        retry_policies=[step_retry],
    )

    auc = JsonGet(step_name=EVALUATE_STEP, property_file=evaluation_report, json_path=AUC_JSON_PATH)
    fail_step = FailStep(
        name=FAIL_STEP,
        error_message=Join(
            on=" ",
            values=["Model AUC", auc, "is below the threshold", auc_threshold, "- not registered."],
        ),
    )
    condition_step = ConditionStep(
        name=CONDITION_STEP,
        conditions=[ConditionGreaterThanOrEqualTo(left=auc, right=auc_threshold)],
        if_steps=[register_step],
        else_steps=[fail_step],
        depends_on=[model_quality_step],
    )

    return Pipeline(
        name=settings.pipeline_name,
        parameters=[
            input_data_uri,
            processing_instance_type,
            processing_instance_count,
            training_instance_type,
            training_instance_count,
            auc_threshold,
            approval_status,
            trigger_reason,
        ],
        steps=[
            preprocess_step,
            data_quality_step,
            train_step,
            evaluate_step,
            model_quality_step,
            condition_step,
        ],
        # No automatic experiment/trial: it would need sagemaker:CreateExperiment & co.
        # on the execution role, and lineage is already in the model registry.
        pipeline_experiment_config=None,
        sagemaker_session=session,
    )
