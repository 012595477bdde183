"""The graph every training pipeline here shares: preprocess, baseline, train, evaluate, gate, register.

A builder (``training_pipeline`` for built-in XGBoost, ``diabetes_pipeline`` for scikit-learn) supplies a
:class:`ModelParts`: its step scripts, the Train step, the images its processing steps need and the container
environment its serving image needs. Everything else (isolation, encryption, VPC, caching, retries, baselines,
the quality gate and the registration contract below) is the same for every model.

What every registered model package carries (a contract with serving and promotion):

- one container: the model's serving image, the training job's ``model.tar.gz``, and the environment the builder
  says that image needs (none for built-in XGBoost's algorithm mode);
- customer metadata ``TriggerReason`` (why the run started), ``ModelArtifactSha256`` (lowercase hex SHA-256 of the
  exact ``model.tar.gz`` bytes the Evaluate step scored) and ``TrainingBaselineS3Uri``;
- model metrics (the evaluation report in SageMaker's model-quality layout) and drift-check baselines.

Graph::

    Preprocess -> DataQualityBaseline
               -> Train -> Evaluate -> ModelQualityBaseline -> Check<Metric>Threshold
                                           -> RegisterModel (metric meets the threshold)
                                           -> <Metric>Below/AboveThreshold (FailStep otherwise)

Light to import: the SDK is imported inside :func:`build_model_pipeline` (``pipeline_defs.builder_code``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline_defs.builder_code import BuilderCode
from pipeline_defs.settings import ImageRef, Placeholders, TrainingPipelineSettings, report_json_path

# Step names are a contract: the retraining Lambda, alarms and tests refer to them,
# and renaming one breaks step caching for the next execution.
PREPROCESS_STEP = "Preprocess"
DATA_QUALITY_STEP = "DataQualityBaseline"
TRAIN_STEP = "Train"
EVALUATE_STEP = "Evaluate"
MODEL_QUALITY_STEP = "ModelQualityBaseline"
REGISTER_STEP = "RegisterModel"

# Paths inside the processing containers (the step scripts' I/O contract).
PROCESSING_BASE = "/opt/ml/processing"
_CODE_DIR = f"{PROCESSING_BASE}/input/code"
# CDK file assets are stored under content-hash keys (``<hash>.py``), so the script's
# file name in the container is not known at synth. Each script gets a directory of
# its own and the shell runs the only ``.py`` in it, passing the job's arguments on.
_RUN_SCRIPT = 'exec python3 "$(ls {dir}/*.py)" "$@"'

EVALUATION_REPORT_NAME = "EvaluationReport"
# The Evaluate step's second property file (the evaluate scripts write ``artifact.json``).
ARTIFACT_REPORT_NAME = "ArtifactDigest"
ARTIFACT_REPORT_FILE = "artifact.json"
ARTIFACT_SHA256_JSON_PATH = "model_artifact.sha256"
# Customer metadata key of the artifact digest: the promotion copier verifies copies against it.
ARTIFACT_SHA256_METADATA_KEY = "ModelArtifactSha256"
# The training baseline CSV (Preprocess output "baseline") the open drift backend compares against: not a
# drift-check baseline SageMaker knows, so the package names it in customer metadata, and promotion
# (mlops_constructs.promotion.BASELINE_SOURCES["training"]) copies it with the model into each environment.
TRAINING_BASELINE_METADATA_KEY = "TrainingBaselineS3Uri"

# Model Monitor's problem types for the model-quality baseline (CreateModelQualityJobDefinition ProblemType).
MODEL_MONITOR_PROBLEM_TYPES = {
    "binary_classification": "BinaryClassification",
    "multiclass_classification": "MulticlassClassification",
    "regression": "Regression",
}
# How each gate metric is spelled in parameter and step names, and in the FailStep's message.
_METRIC_STEMS = {"auc": "Auc", "accuracy": "Accuracy", "f1": "F1", "rmse": "Rmse", "mae": "Mae", "r2": "R2"}
_METRIC_LABELS = {"auc": "AUC", "accuracy": "accuracy", "f1": "F1", "rmse": "RMSE", "mae": "MAE", "r2": "R2"}


def threshold_parameter(metric: str) -> str:
    """The pipeline parameter holding the gate's threshold (``AucThreshold``, ``RmseThreshold``, ...)."""
    return f"{_METRIC_STEMS[metric]}Threshold"


def condition_step_name(metric: str) -> str:
    """The ConditionStep that gates registration on ``metric`` (``CheckAucThreshold``, ...)."""
    return f"Check{_METRIC_STEMS[metric]}Threshold"


def fail_step_name(metric: str, *, lower_is_better: bool) -> str:
    """The FailStep a candidate that misses the gate ends in (``AucBelowThreshold``, ``RmseAboveThreshold``)."""
    return f"{_METRIC_STEMS[metric]}{'Above' if lower_is_better else 'Below'}Threshold"


def processing_code_dir(script: str) -> str:
    """Where a processing step finds its script (the only ``.py`` in the directory)."""
    return f"{_CODE_DIR}/{script}"


@dataclass(frozen=True)
class TrainContext:
    """What a builder's Train step is made from: shared job settings and the Preprocess outputs."""

    settings: TrainingPipelineSettings
    session: Any
    role: str
    kms_key: str
    prefix: str
    image_uri: str
    instance_type: Any
    instance_count: Any
    subnets: list[str] | None
    security_groups: list[str] | None
    cache_config: Any
    retry_policies: list[Any]
    preprocess_uri: Callable[[str], Any]
    output_uri: Any

    def model_trainer(self, hyperparameters: Mapping[str, str]) -> Any:
        """A ``ModelTrainer`` of this pipeline's training image with the platform's job settings.

        Network-isolated with inter-container encryption, in the environment's VPC when it has one, the KMS key on
        the volume and the output, the configured runtime bound; no environment (what a builder's training image
        needs comes in ``hyperparameters``).
        """
        from sagemaker.train.configs import Compute, Networking, StoppingCondition
        from sagemaker.train.configs import OutputDataConfig as TrainOutputDataConfig
        from sagemaker.train.model_trainer import ModelTrainer

        settings = self.settings
        return ModelTrainer(
            training_image=self.image_uri,
            role=self.role,
            base_job_name=f"{self.prefix}-train",
            sagemaker_session=self.session,
            compute=Compute(
                instance_type=self.instance_type,
                instance_count=self.instance_count,
                volume_size_in_gb=settings.volume_size_gb,
                volume_kms_key_id=self.kms_key,
            ),
            networking=Networking(
                enable_network_isolation=True,
                enable_inter_container_traffic_encryption=True,
                subnets=self.subnets,
                security_group_ids=self.security_groups,
            ),
            stopping_condition=StoppingCondition(max_runtime_in_seconds=settings.max_runtime_seconds),
            output_data_config=TrainOutputDataConfig(s3_output_path=self.output_uri, kms_key_id=self.kms_key),
            hyperparameters=dict(hyperparameters),
            environment={},
        )


@dataclass(frozen=True)
class ModelParts:
    """What a builder plugs into the shared graph.

    ``train`` builds the Train step; ``evaluate_image`` None runs Evaluate in the training image (it loads the
    model with the library that trained it); ``registered_environment`` is the serving container's environment.
    ``preprocess_arguments`` / ``evaluate_arguments`` are added after ``--base-dir``.
    """

    code: BuilderCode
    train: Callable[[TrainContext], Any]
    registered_environment: Mapping[str, str] = field(default_factory=dict)
    evaluate_image: ImageRef | None = None
    preprocess_arguments: tuple[str, ...] = ()
    evaluate_arguments: tuple[str, ...] = ()
    preprocess_script: str = "preprocess"
    evaluate_script: str = "evaluate"


def _s3(bucket_placeholder: str, *parts: Any) -> Any:
    """An S3 URI under a bucket placeholder, per pipeline execution.

    ``ExecutionVariables.PIPELINE_EXECUTION_ID`` is resolved by SageMaker at run time,
    which keeps every run's artifacts apart without a timestamp in the definition.
    """
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join

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


def build_model_pipeline(  # noqa: PLR0915 - one straight graph, step after step
    settings: TrainingPipelineSettings, session: Any, parts: ModelParts
) -> Any:
    """Build the shared training graph for ``settings`` with a builder's ``parts`` and an offline ``session``."""
    from sagemaker.core.drift_check_baselines import DriftCheckBaselines
    from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.core.network import NetworkConfig
    from sagemaker.core.processing import Processor
    from sagemaker.core.shapes import ProcessingOutput, ProcessingS3Output
    from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo, ConditionLessThanOrEqualTo
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.core.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow.check_job_config import CheckJobConfig
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.fail_step import FailStep
    from sagemaker.mlops.workflow.model_step import ModelStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.quality_check_step import DataQualityCheckConfig, ModelQualityCheckConfig
    from sagemaker.mlops.workflow.steps import CacheConfig, ProcessingStep
    from sagemaker.serve.model_builder import ModelBuilder

    from pipeline_defs.sdk_parts import IsolatedQualityCheckStep, retry_policies, s3_input

    role = Placeholders.execution_role_arn()
    kms_key = Placeholders.ref(Placeholders.KMS_KEY_ARN)
    prefix = settings.output_prefix.strip("/")
    region = settings.region

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
    metric = settings.quality_metric
    threshold = ParameterFloat(name=threshold_parameter(metric), default_value=settings.quality_threshold)
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

    training_image = settings.training_image.image_uri(region, "training")
    # A model's own processing image wins over every builder default.
    preprocess_image = (settings.processing_image or parts.code.processing_image).image_uri(region, "training")
    evaluate_image = (
        settings.processing_image.image_uri(region, "training")
        if settings.processing_image is not None
        else parts.evaluate_image.image_uri(region, "training")
        if parts.evaluate_image is not None
        else training_image
    )
    serving_image = settings.serving_image.image_uri(region, "inference")

    def script_processor(image_uri: str, script: str) -> Any:
        return Processor(
            role=role,
            image_uri=image_uri,
            instance_type=processing_instance_type,
            instance_count=processing_instance_count,
            entrypoint=["/bin/sh", "-c", _RUN_SCRIPT.format(dir=processing_code_dir(script)), script],
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

    def s3_output(name: str, step: str, local_path: str) -> Any:
        return ProcessingOutput(
            output_name=name,
            s3_output=ProcessingS3Output(
                s3_uri=_s3(Placeholders.ARTIFACT_BUCKET, prefix, step, name),
                local_path=local_path,
                s3_upload_mode="EndOfJob",
            ),
        )

    def code_input(script: str) -> Any:
        return s3_input("code", parts.code.script(script).s3_uri, processing_code_dir(script))

    # --- Preprocess ---
    preprocess_outputs = ("train", "validation", "test", "baseline")
    preprocess_step = ProcessingStep(
        name=PREPROCESS_STEP,
        description="Split the raw data into train/validation/test and a baseline sample.",
        step_args=script_processor(preprocess_image, parts.preprocess_script).run(
            inputs=[
                s3_input("raw", input_data_uri, f"{PROCESSING_BASE}/input/raw"),
                code_input(parts.preprocess_script),
            ],
            outputs=[
                s3_output(name, PREPROCESS_STEP, f"{PROCESSING_BASE}/output/{name}") for name in preprocess_outputs
            ],
            arguments=["--base-dir", PROCESSING_BASE, *parts.preprocess_arguments],
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

    # --- Train (the builder's own step) ---
    train_step = parts.train(
        TrainContext(
            settings=settings,
            session=session,
            role=role,
            kms_key=kms_key,
            prefix=prefix,
            image_uri=training_image,
            instance_type=training_instance_type,
            instance_count=training_instance_count,
            subnets=subnets,
            security_groups=security_groups,
            cache_config=cache_config,
            retry_policies=job_retries,
            preprocess_uri=preprocess_uri,
            output_uri=_s3(Placeholders.ARTIFACT_BUCKET, prefix, TRAIN_STEP),
        )
    )
    model_data = train_step.properties.ModelArtifacts.S3ModelArtifacts

    # --- Evaluate ---
    evaluation_report = PropertyFile(name=EVALUATION_REPORT_NAME, output_name="evaluation", path="evaluation.json")
    artifact_report = PropertyFile(name=ARTIFACT_REPORT_NAME, output_name="evaluation", path=ARTIFACT_REPORT_FILE)
    evaluate_step = ProcessingStep(
        name=EVALUATE_STEP,
        description="Score the test split; write evaluation.json and predictions.csv.",
        step_args=script_processor(evaluate_image, parts.evaluate_script).run(
            inputs=[
                s3_input("model", model_data, f"{PROCESSING_BASE}/model"),
                s3_input("test", preprocess_uri("test"), f"{PROCESSING_BASE}/test"),
                code_input(parts.evaluate_script),
            ],
            outputs=[
                s3_output("evaluation", EVALUATE_STEP, f"{PROCESSING_BASE}/evaluation"),
                s3_output("quality_baseline", EVALUATE_STEP, f"{PROCESSING_BASE}/quality_baseline"),
            ],
            arguments=["--base-dir", PROCESSING_BASE, *parts.evaluate_arguments],
        ),
        property_files=[evaluation_report, artifact_report],
        cache_config=cache_config,
        retry_policies=job_retries,
    )
    evaluate_outputs = evaluate_step.properties.ProcessingOutputConfig.Outputs

    # --- Model-quality baseline on the test predictions (predictions.csv: prediction, label and, for binary
    #     classifiers, probability) ---
    binary = settings.problem_type == "binary_classification"
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
            problem_type=MODEL_MONITOR_PROBLEM_TYPES[settings.problem_type],
            inference_attribute="prediction",
            probability_attribute="probability" if binary else None,
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
        image_uri=serving_image,
        s3_model_data_url=model_data,
        role_arn=role,
        sagemaker_session=session,
        env_vars=dict(parts.registered_environment),
        # Falsy, so the builder takes no script-mode path of its own and adds no SAGEMAKER_* variables (it would
        # add SAGEMAKER_PROGRAM="", which no serving container starts with; cfn_rules E9002).
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

    # --- The gate: the configured metric of the evaluation report against its threshold ---
    lower_is_better = settings.gate_lower_is_better
    value = JsonGet(
        step_name=EVALUATE_STEP,
        property_file=evaluation_report,
        json_path=report_json_path(settings.problem_type, metric),
    )
    fail_step = FailStep(
        name=fail_step_name(metric, lower_is_better=lower_is_better),
        error_message=Join(
            on=" ",
            values=[
                f"Model {_METRIC_LABELS[metric]}",
                value,
                "is above the threshold" if lower_is_better else "is below the threshold",
                threshold,
                "- not registered.",
            ],
        ),
    )
    condition = (
        ConditionLessThanOrEqualTo(left=value, right=threshold)
        if lower_is_better
        else ConditionGreaterThanOrEqualTo(left=value, right=threshold)
    )
    condition_step = ConditionStep(
        name=condition_step_name(metric),
        conditions=[condition],
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
            threshold,
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
