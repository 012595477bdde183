"""Inference components: several models (or one large one) packed on an environment's shared instances.

What AWS documents and this module relies on (SageMaker AI developer guide, API and CloudFormation references):

- An endpoint that hosts inference components has an endpoint config whose production variant names no model
  but an instance type, an ``ExecutionRoleArn`` on the config, and ``ManagedInstanceScaling`` (``Status``,
  ``MinInstanceCount``, ``MaxInstanceCount``), by which SageMaker adds and releases instances as copies need them
  ("Deploy models for real-time inference", ``ProductionVariantManagedInstanceScaling``).
- Each model is an ``AWS::SageMaker::InferenceComponent`` on that endpoint and variant, with
  ``Specification.ModelName``, ``Specification.ComputeResourceRequirements`` (``MinMemoryRequiredInMb``,
  ``NumberOfCpuCoresRequired``, ``NumberOfAcceleratorDevicesRequired``: what one copy reserves on an instance)
  and ``RuntimeConfig.CopyCount``.
- Auto scaling of copies: scalable target ``inference-component/<name>`` with dimension
  ``sagemaker:inference-component:DesiredCopyCount``; target tracking on the predefined metric
  ``SageMakerInferenceComponentInvocationsPerCopy``.
- "Scale an endpoint to zero instances": only endpoints that host inference components can; it needs
  ``MinInstanceCount`` 0, copies registered with a minimum of 0, and a step scaling policy on an alarm over
  ``NoCapacityInvocationFailures`` (``InferenceComponentName`` dimension) that adds a copy when a request found
  none; requests fail while the first instance starts (several minutes). AWS's example step policy (+1 copy,
  ``ChangeInCapacity``, ``MetricAggregationType`` ``Maximum``, lower bound 0) and alarm (``AWS/SageMaker``, ``Sum``,
  60 s, one datapoint) are followed, with the threshold at one failed request instead of more than one.
  https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-zero-instances.html
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from mlops_config.inference_modes import InferenceComponentSettings, SharedEndpointSettings
from mlops_config.model_kind import XGBOOST_IMAGE, ImageSettings
from mlops_config.serving import RollbackAlarmSettings
from mlops_constructs.endpoint import (
    DEFAULT_PERIOD,
    SAGEMAKER_NAMESPACE,
    VARIANT_NAME,
    EndpointMode,
    ServedModel,
    autoscaling_service_role,
    supports_volume_kms,
)
from mlops_constructs.images import ServingImage
from mlops_constructs.sagemaker_iam import grant_job_basics

NO_CAPACITY_FAILURES = "NoCapacityInvocationFailures"


class SharedInferenceEndpoint(Construct):
    """The environment's endpoint of shared instances (``settings``) on which models run as inference components.

    The endpoint's name is ``endpoint_name`` (derived: ``naming.shared_endpoint_name``); its variant is
    ``AllTraffic``. Instances are managed by SageMaker between ``min_instances`` and ``max_instances``; the volume
    is encrypted with ``key`` where the instance type has one. The config's execution role may only write the
    endpoint's logs and pull from exactly the repositories of ``images`` (the ``images.serving`` of the models it
    hosts; default the AWS XGBoost 1.7-1 image): each component's model reads its own artifact.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        settings: SharedEndpointSettings,
        key: kms.IKey,
        images: Sequence[ImageSettings] = (XGBOOST_IMAGE,),
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.endpoint_name = endpoint_name
        self.variant_name = VARIANT_NAME
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="Runs the shared instances of an inference-component endpoint",
        )
        grant_job_basics(
            self.role,
            image_repositories=sorted(
                {ServingImage.resolve(image, stack.region).repository_arn(stack) for image in images}
            ),
        )
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "Config",
            execution_role_arn=self.role.role_arn,
            kms_key_id=key.key_arn if supports_volume_kms(settings.instance_type) else None,
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=VARIANT_NAME,
                    instance_type=settings.instance_type,
                    initial_instance_count=settings.initial_instance_count,
                    managed_instance_scaling=sagemaker.CfnEndpointConfig.ManagedInstanceScalingProperty(
                        status="ENABLED",
                        min_instance_count=settings.min_instances,
                        max_instance_count=settings.max_instances,
                    ),
                    routing_config=sagemaker.CfnEndpointConfig.RoutingConfigProperty(
                        routing_strategy="LEAST_OUTSTANDING_REQUESTS"
                    ),
                )
            ],
        )
        self.endpoint_config.node.add_dependency(self.role.node.find_child("DefaultPolicy"))
        self.resource = sagemaker.CfnEndpoint(
            self,
            "Resource",
            endpoint_name=endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
        )


class ModelInferenceComponent(Construct):
    """``model`` as the inference component ``component_name`` of the shared endpoint ``endpoint_name``.

    Each copy reserves ``settings.compute``; copies scale between ``autoscaling.min_copies`` and ``max_copies`` on
    invocations per copy, and, when ``min_copies`` is 0, come back from zero through the step policy on
    ``NoCapacityInvocationFailures``. Updates roll one copy at a time and roll back on ``rollback`` alarms
    (5XX errors, p99 model latency of this component). Exposes what monitoring reads of an endpoint
    (``endpoint_name``, ``variant_name``, ``mode``, ``model``, ``resource``) and ``metric(...)`` per component.
    """

    mode: EndpointMode = "components"

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        component_name: str,
        model: ServedModel,
        settings: InferenceComponentSettings,
        rollback: RollbackAlarmSettings,
    ) -> None:
        super().__init__(scope, construct_id)
        self.endpoint_name = endpoint_name
        self.variant_name = VARIANT_NAME
        self.component_name = component_name
        self.model = model
        compute = settings.compute
        self.errors_5xx_alarm = self.metric("Invocation5XXErrors").create_alarm(
            self,
            "Rollback5xxErrors",
            alarm_description=f"{component_name}: 5XX errors; rolls back a component update",
            threshold=rollback.errors_5xx_per_minute,
            evaluation_periods=rollback.evaluation_periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.latency_alarm = self.metric("ModelLatency", statistic="p99").create_alarm(
            self,
            "RollbackModelLatencyP99",
            alarm_description=f"{component_name}: p99 model latency above {rollback.latency_p99_ms} ms; rolls back",
            threshold=rollback.latency_p99_ms * 1000,
            evaluation_periods=rollback.evaluation_periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.rollback_alarms = (self.errors_5xx_alarm, self.latency_alarm)
        self.resource = sagemaker.CfnInferenceComponent(
            self,
            "Resource",
            endpoint_name=endpoint_name,
            variant_name=VARIANT_NAME,
            inference_component_name=component_name,
            specification=sagemaker.CfnInferenceComponent.InferenceComponentSpecificationProperty(
                model_name=model.model_name,
                compute_resource_requirements=(
                    sagemaker.CfnInferenceComponent.InferenceComponentComputeResourceRequirementsProperty(
                        min_memory_required_in_mb=compute.min_memory_mb,
                        number_of_cpu_cores_required=compute.cpu_cores,
                        number_of_accelerator_devices_required=compute.accelerator_devices,
                    )
                ),
            ),
            runtime_config=sagemaker.CfnInferenceComponent.InferenceComponentRuntimeConfigProperty(
                copy_count=settings.initial_copies
            ),
            deployment_config=sagemaker.CfnInferenceComponent.InferenceComponentDeploymentConfigProperty(
                rolling_update_policy=sagemaker.CfnInferenceComponent.InferenceComponentRollingUpdatePolicyProperty(
                    maximum_batch_size=sagemaker.CfnInferenceComponent.InferenceComponentCapacitySizeProperty(
                        type="COPY_COUNT", value=1
                    ),
                    wait_interval_in_seconds=rollback.evaluation_periods * 60,
                ),
                auto_rollback_configuration=sagemaker.CfnInferenceComponent.AutoRollbackConfigurationProperty(
                    alarms=[
                        sagemaker.CfnInferenceComponent.AlarmProperty(alarm_name=alarm.alarm_name)
                        for alarm in self.rollback_alarms
                    ]
                ),
            ),
        )
        self.resource.node.add_dependency(*model.policies)
        self._autoscale(settings)

    def _autoscale(self, settings: InferenceComponentSettings) -> None:
        scaling = settings.autoscaling
        self.scalable_target = appscaling.ScalableTarget(
            self,
            "ScalableTarget",
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"inference-component/{self.component_name}",
            scalable_dimension="sagemaker:inference-component:DesiredCopyCount",
            min_capacity=scaling.min_copies,
            max_capacity=scaling.max_copies,
            role=autoscaling_service_role(self),
        )
        self.scalable_target.node.add_dependency(self.resource)
        self.scaling_policy = self.scalable_target.scale_to_track_metric(
            "InvocationsPerCopy",
            target_value=scaling.target_invocations_per_copy,
            predefined_metric=appscaling.PredefinedMetric.SAGEMAKER_INFERENCE_COMPONENT_INVOCATIONS_PER_COPY,
            scale_in_cooldown=Duration.seconds(scaling.scale_in_cooldown_seconds),
            scale_out_cooldown=Duration.seconds(scaling.scale_out_cooldown_seconds),
        )
        self.scale_up_from_zero: appscaling.StepScalingAction | None = None
        if scaling.min_copies == 0:
            self.scale_up_from_zero = appscaling.StepScalingAction(
                self,
                "ScaleUpFromZero",
                scaling_target=self.scalable_target,
                adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
                metric_aggregation_type=appscaling.MetricAggregationType.MAXIMUM,
                cooldown=Duration.seconds(scaling.scale_out_cooldown_seconds),
            )
            self.scale_up_from_zero.add_adjustment(adjustment=1, lower_bound=0)
            # AWS's example alarm: Sum over 60 s of NoCapacityInvocationFailures; "greater than 1" there would
            # leave a single request unserved and unanswered, so the first failed request is enough here.
            alarm = self.metric(NO_CAPACITY_FAILURES, statistic="Sum").create_alarm(
                self,
                "NoCapacity",
                alarm_description=f"{self.component_name}: a request found no copy; adds the first copy",
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.MISSING,
            )
            alarm.add_alarm_action(cw_actions.ApplicationScalingAction(self.scale_up_from_zero))

    def metric(self, metric_name: str, *, statistic: str = "Sum", period: Duration | None = None) -> cloudwatch.Metric:
        """A metric of this inference component in ``AWS/SageMaker`` (``InferenceComponentName`` dimension)."""
        return cloudwatch.Metric(
            namespace=SAGEMAKER_NAMESPACE,
            metric_name=metric_name,
            dimensions_map={"InferenceComponentName": self.component_name},
            statistic=statistic,
            period=period or DEFAULT_PERIOD,
        )
