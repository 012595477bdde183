"""Pieces every pipeline definition here builds the same way with the sagemaker SDK (imported only to render)."""

from __future__ import annotations

from typing import Any

from sagemaker.core.network import NetworkConfig
from sagemaker.core.shapes import ProcessingInput, ProcessingS3Input
from sagemaker.mlops.workflow.quality_check_step import QualityCheckStep
from sagemaker.mlops.workflow.retry import (
    SageMakerJobExceptionTypeEnum,
    SageMakerJobStepRetryPolicy,
    StepExceptionTypeEnum,
    StepRetryPolicy,
)


def retry_policies(
    *, interval_seconds: int, backoff_rate: float, max_attempts: int
) -> tuple[StepRetryPolicy, SageMakerJobStepRetryPolicy]:
    """Retries for a job step: throttling and service faults of the create call, and the job's own capacity,
    resource-limit and internal errors (the job policy is not allowed on every step type; pass only the first there).
    """
    step_retry = StepRetryPolicy(
        exception_types=[StepExceptionTypeEnum.THROTTLING, StepExceptionTypeEnum.SERVICE_FAULT],
        interval_seconds=interval_seconds,
        backoff_rate=backoff_rate,
        max_attempts=max_attempts,
    )
    job_retry = SageMakerJobStepRetryPolicy(
        exception_types=[
            SageMakerJobExceptionTypeEnum.CAPACITY_ERROR,
            SageMakerJobExceptionTypeEnum.RESOURCE_LIMIT,
            SageMakerJobExceptionTypeEnum.INTERNAL_ERROR,
        ],
        interval_seconds=interval_seconds,
        backoff_rate=backoff_rate,
        max_attempts=max_attempts,
    )
    return step_retry, job_retry


def s3_input(name: str, uri: Any, local_path: str) -> ProcessingInput:
    """A processing input copied in full from the S3 prefix ``uri`` (a string or a pipeline expression)."""
    return ProcessingInput(
        input_name=name,
        s3_input=ProcessingS3Input(
            s3_uri=uri,
            local_path=local_path,
            s3_data_type="S3Prefix",
            s3_input_mode="File",
            s3_data_distribution_type="FullyReplicated",
        ),
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
