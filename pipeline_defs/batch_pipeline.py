"""The batch-inference pipeline: create a model from the promoted copy, transform a prefix of the data bucket.

``build_batch_pipeline`` is pure, like the training pipeline: settings and an offline session in, ``Pipeline`` out.
Render it with ``pipeline_defs.batch_settings.render_batch_definition`` (which also restores this pipeline's own
placeholders).

Graph::

    CreateServedModel (CreateModel from the promoted copy: image + ModelDataUrl in this account, network isolated)
        -> BatchTransform (CSV lines in, one probability per line out; encrypted; inputs captured)

Parameters: ``InputDataUri`` + ``InputDataType`` say what to score: by default (and on the schedule) every object
under the input prefix (``S3Prefix``); a new-data window passes a manifest of exactly its new keys
(``ManifestFile``, written by ``lambda/batch_window``). ``TriggerReason`` records why the run started.
"""

from __future__ import annotations

from typing import Any

# The SDK needs a region at import: ``pipeline_defs.render`` calls
# ``offline.prepare_environment`` before importing this module.
from sagemaker.core.shapes import BatchDataCaptureConfig
from sagemaker.core.transformer import Transformer
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join
from sagemaker.core.workflow.parameters import ParameterString
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.core.workflow.properties import Properties
from sagemaker.mlops.workflow.pipeline import Pipeline
from sagemaker.mlops.workflow.steps import ConfigurableRetryStep, StepTypeEnum, TransformStep

from pipeline_defs.batch_settings import BatchPipelineSettings, BatchPlaceholders
from pipeline_defs.sdk_parts import retry_policies
from pipeline_defs.settings import Placeholders

# Step and parameter names are a contract with the triggers (schedule, new-data rule) and the tests.
CREATE_MODEL_STEP = "CreateServedModel"
TRANSFORM_STEP = "BatchTransform"
INPUT_PARAMETER = "InputDataUri"
INPUT_TYPE_PARAMETER = "InputDataType"
TRIGGER_PARAMETER = "TriggerReason"
# What InputDataUri names (API reference, "TransformS3DataSource"): S3Prefix scores every object under a prefix
# (the default and the scheduled run); ManifestFile scores exactly the keys a manifest lists (a new-data window).
INPUT_TYPES = ("S3Prefix", "ManifestFile")


class CreateModelFromPackageStep(ConfigurableRetryStep):  # type: ignore[misc]
    """A ``Model`` step with a fixed CreateModel request (the served package's promoted copy).

    sagemaker 3.x only builds model steps from ``ModelBuilder``, which resolves images and packages through the
    network at build time; the request itself is small and fixed, so it is written out here.
    """

    def __init__(self, name: str, *, request: dict[str, Any], retry_policies: list[Any], description: str) -> None:
        super().__init__(name, StepTypeEnum.CREATE_MODEL, None, description, None, retry_policies)
        self._request = request
        self._properties = Properties(step_name=name, step=self, shape_name="DescribeModelOutput")

    @property
    def arguments(self) -> dict[str, Any]:
        """The CreateModel request (the pipeline service names the model per execution)."""
        return dict(self._request)

    @property
    def properties(self) -> Any:
        """The DescribeModel response of the created model."""
        return self._properties


def build_batch_pipeline(settings: BatchPipelineSettings, session: PipelineSession) -> Pipeline:
    """Build the batch-inference pipeline for ``settings`` with an offline ``session``."""
    role = Placeholders.execution_role_arn()
    kms_key = Placeholders.ref(Placeholders.KMS_KEY_ARN)
    input_data_uri = ParameterString(name=INPUT_PARAMETER, default_value=settings.input_uri)
    input_data_type = ParameterString(
        name=INPUT_TYPE_PARAMETER, default_value=INPUT_TYPES[0], enum_values=list(INPUT_TYPES)
    )
    trigger_reason = ParameterString(name=TRIGGER_PARAMETER, default_value=settings.default_trigger_reason)

    step_retry, job_retry = retry_policies(
        interval_seconds=settings.retry_interval_seconds,
        backoff_rate=settings.retry_backoff_rate,
        max_attempts=settings.retry_max_attempts,
    )

    model_request: dict[str, Any] = {
        "ExecutionRoleArn": role,
        # The promoted copy in this environment's own bucket, never the registry's package (deploy-time values of
        # the promotion custom resource); no container environment: the XGBoost image serves in algorithm mode.
        "PrimaryContainer": {
            "Image": Placeholders.ref(BatchPlaceholders.MODEL_IMAGE),
            "ModelDataUrl": Placeholders.ref(BatchPlaceholders.MODEL_DATA_URL),
        },
        # No network for the container: it reads its inputs through SageMaker, not by itself.
        "EnableNetworkIsolation": True,
    }
    if settings.subnet_ids:
        model_request["VpcConfig"] = {
            "Subnets": list(settings.subnet_ids),
            "SecurityGroupIds": list(settings.security_group_ids),
        }
    model_step = CreateModelFromPackageStep(
        CREATE_MODEL_STEP,
        request=model_request,
        retry_policies=[step_retry],
        description="Create a network-isolated model from the promoted copy of the served package.",
    )

    transformer = Transformer(
        model_name=model_step.properties.ModelName,
        instance_count=settings.instance_count,
        instance_type=settings.instance_type,
        strategy="MultiRecord",
        assemble_with="Line",
        accept="text/csv",
        # Each execution writes under its own ID: runs never overwrite each other, no clock needed.
        output_path=Join(
            on="/",
            values=[
                "s3:/",
                Placeholders.ref(Placeholders.DATA_BUCKET),
                settings.output_prefix.rstrip("/"),
                ExecutionVariables.PIPELINE_EXECUTION_ID,
            ],
        ),
        output_kms_key=kms_key,
        volume_kms_key=kms_key if settings.volume_kms else None,
        max_payload=settings.max_payload_mb,
        max_concurrent_transforms=settings.max_concurrent_transforms,
        env={"TRIGGER_REASON": trigger_reason},
        base_transform_job_name=f"{settings.pipeline_name[:40]}",
        sagemaker_session=session,
    )
    transform_step = TransformStep(
        name=TRANSFORM_STEP,
        description="Score every CSV line of the input (a prefix or a manifest of new files); one probability a line.",
        step_args=transformer.transform(
            data=input_data_uri,
            data_type=input_data_type,
            content_type="text/csv",
            split_type="Line",
            batch_data_capture_config=BatchDataCaptureConfig(
                destination_s3_uri="s3://"
                + Placeholders.ref(BatchPlaceholders.CAPTURE_BUCKET)
                + "/"
                + settings.capture_prefix.rstrip("/"),
                kms_key_id=kms_key,
                generate_inference_id=True,
            ),
        ),
        retry_policies=[step_retry, job_retry],
    )

    return Pipeline(
        name=settings.pipeline_name,
        parameters=[input_data_uri, input_data_type, trigger_reason],
        steps=[model_step, transform_step],
        pipeline_experiment_config=None,
        sagemaker_session=session,
    )
