"""The monitoring pipeline: the open drift backend, which needs neither Model Monitor nor Clarify.

``build_monitoring_pipeline`` is pure, like the training pipeline's builder: settings and an offline session in,
a ``Pipeline`` out, no AWS and no clock. EventBridge Scheduler starts it on the model's monitoring schedule.

Graph::

    AnalyseDrift (isolated: captured data + labels vs the training baseline -> report, metrics.json)
      -> PublishMetrics (not isolated: metrics.json -> CloudWatch PutMetricData, the metric contract)

Why two steps: the analysis reads captured customer data, so it runs network-isolated; an isolated container
cannot call the CloudWatch API. The second job reads only the metrics file (numbers and feature names) and is
allowed to reach CloudWatch; its role may put metrics only into the contract's namespace.
"""

from __future__ import annotations

# The SDK needs a region at import: ``pipeline_defs.render`` calls
# ``offline.prepare_environment`` before importing this module.
from sagemaker.core import image_uris
from sagemaker.core.network import NetworkConfig
from sagemaker.core.processing import Processor
from sagemaker.core.shapes import ProcessingOutput, ProcessingS3Output
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join
from sagemaker.core.workflow.parameters import ParameterString
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.mlops.workflow.pipeline import Pipeline
from sagemaker.mlops.workflow.steps import ProcessingStep

from pipeline_defs.monitoring_settings import MonitoringPipelineSettings
from pipeline_defs.monitoring_settings import MonitoringPlaceholders as P
from pipeline_defs.sdk_parts import retry_policies, s3_input

# Step names are a contract: tests and the docs refer to them.
ANALYSE_STEP = "AnalyseDrift"
PUBLISH_STEP = "PublishMetrics"

_BASE = "/opt/ml/processing"
_CODE_DIR = f"{_BASE}/input/code"
_CONTRACT_DIR = f"{_CODE_DIR}/contract"
_DATA_DIR = f"{_BASE}/input/data"
# The drift script arrives under its asset's content-hash name: run the only .py in its folder (see training).
_RUN_SCRIPT = 'exec python3 "$(ls {dir}/*.py)" "$@"'


def build_monitoring_pipeline(settings: MonitoringPipelineSettings, session: PipelineSession) -> Pipeline:
    """Build the monitoring pipeline of one model's endpoint for ``settings`` with an offline ``session``."""
    role = P.execution_role_arn()
    # Shaped like the execution role's ARN (see Placeholders.execution_role_arn): the SDK never looks it up.
    publish_role = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/" + P.ref(P.PUBLISH_ROLE_NAME)
    kms_key = P.ref(P.KMS_KEY_ARN)

    # Parameters: an operator can re-run a window or compare against another baseline without a deploy.
    data_uri = ParameterString(
        name="CaptureDataUri", default_value=f"s3://{P.ref(P.CAPTURE_BUCKET)}/{settings.capture_prefix}"
    )
    baseline_uri = ParameterString(
        name="BaselineUri",
        default_value=f"s3://{P.ref(P.ARTIFACT_BUCKET)}/{settings.baseline_prefix}training/",
    )
    lookback_hours = ParameterString(name="LookbackHours", default_value=str(settings.lookback_hours))

    subnets = list(settings.subnet_ids) or None
    security_groups = list(settings.security_group_ids) or None
    # The same retries as the other pipelines' job steps (settings' defaults: 10 s, doubling, 3 attempts).
    step_retry, job_retry = retry_policies(interval_seconds=10, backoff_rate=2.0, max_attempts=3)
    sklearn_image = image_uris.retrieve(framework="sklearn", region=settings.region, version=settings.sklearn_version)
    env = {"METRIC_CONTRACT_DIR": _CONTRACT_DIR}

    def processor(name: str, instance_type: str, *, isolated: bool) -> Processor:
        return Processor(
            # The isolated analysis reads captured data; the publishing job, which reaches CloudWatch, may not.
            role=role if isolated else publish_role,
            image_uri=sklearn_image,
            instance_type=instance_type,
            instance_count=settings.instance_count if isolated else 1,
            entrypoint=["/bin/sh", "-c", _RUN_SCRIPT.format(dir=f"{_CODE_DIR}/drift"), "drift"],
            volume_size_in_gb=settings.volume_size_gb,
            volume_kms_key=kms_key,
            output_kms_key=kms_key,
            max_runtime_in_seconds=settings.max_runtime_seconds,
            base_job_name=f"{settings.output_prefix}-{name}",
            sagemaker_session=session,
            env=dict(env),
            network_config=NetworkConfig(
                enable_network_isolation=isolated,
                encrypt_inter_container_traffic=True,
                subnets=subnets,
                security_group_ids=security_groups,
            ),
        )

    def s3_output(name: str) -> ProcessingOutput:
        return ProcessingOutput(
            output_name=name,
            s3_output=ProcessingS3Output(
                s3_uri=Join(
                    on="/",
                    values=[
                        "s3:/",
                        P.ref(P.MONITORING_BUCKET),
                        settings.model,
                        "drift",
                        ExecutionVariables.PIPELINE_EXECUTION_ID,
                        name,
                    ],
                ),
                local_path=f"{_BASE}/output/{name}",
                s3_upload_mode="EndOfJob",
            ),
        )

    code_inputs = [
        s3_input("code", P.s3_uri(P.DRIFT_SCRIPT_BUCKET, P.DRIFT_SCRIPT_KEY), f"{_CODE_DIR}/drift"),
        s3_input("contract", P.s3_uri(P.CONTRACT_SCRIPT_BUCKET, P.CONTRACT_SCRIPT_KEY), _CONTRACT_DIR),
    ]
    analyse_step = ProcessingStep(
        name=ANALYSE_STEP,
        description="Compare captured inputs and labelled predictions with the training baseline.",
        step_args=processor("analyse", settings.instance_type, isolated=True).run(
            inputs=[
                s3_input("baseline", baseline_uri, f"{_BASE}/input/baseline"),
                s3_input("data", data_uri, _DATA_DIR),
                *code_inputs,
            ],
            outputs=[s3_output("report"), s3_output("metrics")],
            arguments=[
                "analyse",
                "--base-dir",
                _BASE,
                "--capture-dir",
                f"{_DATA_DIR}/{settings.capture_subdir}",
                "--ground-truth-dir",
                f"{_DATA_DIR}/{settings.ground_truth_subdir}",
                "--model",
                settings.model,
                "--environment",
                settings.environment,
                "--endpoint",
                settings.endpoint_name,
                "--target-column",
                settings.target_column,
                "--problem-type",
                settings.problem_type,
                # Never an empty argument: CreateProcessingJob rejects empty strings in ContainerArguments.
                f"--categorical={','.join(settings.categorical_features)}",
                "--psi-threshold",
                str(settings.psi_threshold),
                "--p-value-threshold",
                str(settings.p_value_threshold),
                "--lookback-hours",
                lookback_hours,
                "--min-records",
                str(settings.min_records),
                # Only a shadow-tested endpoint's pipeline gets it: other models' definitions stay as they were.
                *(
                    ["--shadow-capture-dir", f"{_DATA_DIR}/{settings.shadow_capture_subdir}"]
                    if settings.shadow_capture_subdir
                    else []
                ),
            ],
        ),
        retry_policies=[step_retry, job_retry],
    )
    metrics_uri = analyse_step.properties.ProcessingOutputConfig.Outputs["metrics"].S3Output.S3Uri
    publish_step = ProcessingStep(
        name=PUBLISH_STEP,
        description="Publish the analysis' metric-contract data points to CloudWatch.",
        step_args=processor("publish", settings.publish_instance_type, isolated=False).run(
            inputs=[s3_input("metrics", metrics_uri, f"{_BASE}/input/metrics"), *code_inputs],
            outputs=[],
            arguments=["publish", "--base-dir", _BASE],
        ),
        retry_policies=[step_retry, job_retry],
    )
    return Pipeline(
        name=settings.pipeline_name,
        parameters=[data_uri, baseline_uri, lookback_hours],
        steps=[analyse_step, publish_step],
        pipeline_experiment_config=None,
        sagemaker_session=session,
    )
