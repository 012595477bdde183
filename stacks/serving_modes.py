"""The serving stack's endpoints beyond real-time and serverless (issue 16), wired with their acknowledgements.

Kept apart from ``stacks/serving_stack.py`` so that file only dispatches on ``serving.mode``: asynchronous
endpoints, shadow tests on a real-time endpoint, and inference components of the environment's shared endpoint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import RemovalPolicy, Tags
from aws_cdk import aws_kms as kms
from constructs import Construct

from mlops_config import EnvironmentSettings
from mlops_config.platform import ModelSettings
from mlops_config.serving import ServingSettings
from mlops_constructs import naming
from mlops_constructs.async_endpoint import AsyncEndpoint
from mlops_constructs.endpoint import ModelArtifactSource, RealtimeEndpoint, ServedModel
from mlops_constructs.endpoint_events import DeploymentNotifications
from mlops_constructs.inference_components import ModelInferenceComponent
from mlops_constructs.nag import acknowledge, resource_finding
from mlops_constructs.promotion import ModelPromotion
from mlops_constructs.sagemaker_log_groups import SageMakerLogGroups, endpoint_log_group_name
from mlops_constructs.sagemaker_pipeline import key_arn_from_parameter
from mlops_constructs.shadow import ShadowVariant

if TYPE_CHECKING:
    from stacks.data_stack import DataStack

CAPTURE_REASON = (
    "The endpoint's data capture writes one object per sample under generated date-partitioned keys below this "
    "model's prefix of the capture bucket; only that prefix is granted."
)


def watch_endpoint(
    stack: Construct, *, endpoint_name: str, environment: EnvironmentSettings, data: DataStack
) -> tuple[DeploymentNotifications, SageMakerLogGroups]:
    """The endpoint's deployment events to the notification topic, and its own log group (retention, data key)."""
    notifications = DeploymentNotifications(
        stack,
        "DeploymentEvents",
        endpoint_name=endpoint_name,
        topic=data.topic,
        dead_letter_key=data.key,
        removal_policy=RemovalPolicy.RETAIN if environment.retain_data else RemovalPolicy.DESTROY,
    )
    # The endpoint's own log group, named by SageMaker after the endpoint: retention and the data key. The key ARN
    # is read from SSM at deploy time (no cross-stack reference inside the custom resource's call).
    log_groups = SageMakerLogGroups(
        stack,
        "EndpointLogs",
        log_group_names=[endpoint_log_group_name(endpoint_name)],
        retention_days=environment.log_retention_days,
        key=kms.Key.from_key_arn(
            stack, "DataKeyForLogs", key_arn_from_parameter(stack, data.key_arn_parameter_name, written_by=data)
        ),
        release_key_on_delete=not environment.retain_data,
    )
    return notifications, log_groups


def _acknowledge(stack: Construct, scope: ServedModel, reason: str, resources: list[str]) -> None:
    acknowledge(scope, "AwsSolutions-IAM5", reason, applies_to=[resource_finding(stack, r) for r in resources])


def realtime_endpoint(
    stack: Construct,
    *,
    endpoint_name: str,
    model: ModelSettings,
    served: ServedModel,
    serving: ServingSettings,
    data: DataStack,
) -> RealtimeEndpoint:
    """``model``'s real-time endpoint serving ``served``, its requests and answers captured under its prefix."""
    endpoint = RealtimeEndpoint(
        stack,
        "Endpoint",
        endpoint_name=endpoint_name,
        model=served,
        settings=serving.realtime,
        rollback=serving.rollback_alarms,
        key=data.key,
        capture_bucket=data.capture_bucket,
        capture_prefix=f"{model.name}/",
    )
    _acknowledge(stack, served, CAPTURE_REASON, [data.capture_bucket.arn_for_objects(f"{model.name}/*")])
    return endpoint


def async_endpoint(
    stack: Construct,
    *,
    endpoint_name: str,
    model: ModelSettings,
    served: ServedModel,
    serving: ServingSettings,
    data: DataStack,
) -> AsyncEndpoint:
    """``model``'s asynchronous endpoint: requests, results and failures under its prefixes of the data bucket."""
    input_prefix, output_prefix, failure_prefix = serving.async_inference.prefixes(model.name)
    endpoint = AsyncEndpoint(
        stack,
        "Endpoint",
        endpoint_name=endpoint_name,
        model=served,
        settings=serving.async_inference,
        rollback=serving.rollback_alarms,
        key=data.key,
        bucket=data.data_bucket,
        input_prefix=input_prefix,
        output_prefix=output_prefix,
        failure_prefix=failure_prefix,
        capture_bucket=data.capture_bucket,
        capture_prefix=f"{model.name}/",
    )
    _acknowledge(stack, served, CAPTURE_REASON, [data.capture_bucket.arn_for_objects(f"{model.name}/*")])
    _acknowledge(
        stack,
        served,
        "Asynchronous requests are objects clients upload under the model's input prefix; SageMaker names each "
        "result and failure object itself under the output and failure prefixes; only those prefixes are granted.",
        [data.data_bucket.arn_for_objects(f"{prefix}*") for prefix in (input_prefix, output_prefix, failure_prefix)],
    )
    return endpoint


def shadow_tested_endpoint(
    stack: Construct,
    *,
    endpoint_name: str,
    model: ModelSettings,
    environment: EnvironmentSettings,
    serving: ServingSettings,
    promotion: ModelPromotion,
    candidate: ModelArtifactSource,
    data: DataStack,
) -> tuple[RealtimeEndpoint, ShadowVariant]:
    """A real-time endpoint serving ``serving.realtime.shadow.production_package_arn``, with ``candidate`` (the
    newly approved package, already promoted by ``promotion``) as its shadow variant."""
    shadow = serving.realtime.shadow
    assert shadow is not None
    production = promotion.promote_another("CopyProduction", shadow.production_package_arn)
    image = model.images.serving
    production_model = ServedModel(
        stack, "Model", artifact=production, network_isolation=True, vpc=environment.vpc, image=image
    )
    candidate_model = ServedModel(
        stack, "ShadowModel", artifact=candidate, network_isolation=True, vpc=environment.vpc, image=image
    )
    endpoint = realtime_endpoint(
        stack, endpoint_name=endpoint_name, model=model, served=production_model, serving=serving, data=data
    )
    variant = ShadowVariant(
        stack,
        "Shadow",
        endpoint=endpoint,
        candidate=candidate_model,
        settings=shadow,
        realtime=serving.realtime,
        key=data.key,
        capture_bucket=data.capture_bucket,
        capture_prefix=f"{model.name}/",
    )
    _acknowledge(stack, candidate_model, CAPTURE_REASON, [data.capture_bucket.arn_for_objects(f"{model.name}/*")])
    Tags.of(endpoint.resource).add("mlops:production-package-arn", shadow.production_package_arn)
    Tags.of(endpoint.resource).add("mlops:shadow-package-arn", candidate.package_arn)
    return endpoint, variant


def inference_component(
    stack: Construct,
    *,
    project: str,
    environment: EnvironmentSettings,
    model: ModelSettings,
    served: ServedModel,
    serving: ServingSettings,
) -> ModelInferenceComponent:
    """``model`` as its inference component on the environment's shared endpoint (``InferenceComponentsStack``)."""
    shared = environment.inference_components
    assert shared is not None  # mlops_config.mode_rules refuses mode 'components' without it
    return ModelInferenceComponent(
        stack,
        "Endpoint",
        endpoint_name=naming.shared_endpoint_name(project, environment.name, shared.instance_type),
        component_name=naming.inference_component_name(project, environment.name, model.name),
        model=served,
        settings=serving.inference_component,
        rollback=serving.rollback_alarms,
    )
