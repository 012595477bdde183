"""Serving an approved model package: the model, real-time and serverless endpoints, and their rollback alarms.

A new model version is an in-place update of the same endpoint: CloudFormation names the Model and the
EndpointConfig (a new package replaces both, so names never collide), the Endpoint keeps its derived name and
its variant ``AllTraffic``, and SageMaker shifts traffic blue/green, rolling back when an alarm fires.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct, IConstruct

from mlops_config.model_kind import XGBOOST_IMAGE, ImageSettings
from mlops_config.platform import VpcSettings
from mlops_config.serving import RealtimeSettings, RollbackAlarmSettings, ServerlessSettings
from mlops_constructs.images import ServingImage
from mlops_constructs.sagemaker_iam import grant_job_basics, vpc_interfaces_statement

VARIANT_NAME = "AllTraffic"
"""The one production variant of every endpoint (a contract with monitoring and the smoke test)."""

SAGEMAKER_NAMESPACE = "AWS/SageMaker"
# SageMaker endpoints publish one-minute metrics.
DEFAULT_PERIOD = Duration.minutes(1)

# Instance families with NVMe instance storage: SageMaker encrypts that storage in hardware and rejects a
# KmsKeyId (endpoint config) or VolumeKmsKeyId (transform job) for them. A "d" after the generation marks
# local disks (m5d, c6id, r5d, g4dn, p3dn, p4d, p4de, ...); the others have them in every size.
_LOCAL_STORAGE_SUFFIX = re.compile(r"^[a-z]+\d+[a-z]*d[a-z]*$")
_LOCAL_STORAGE_FAMILIES = re.compile(r"^(g5|g6|g6e|p5|p5e|p5en|inf\d+|trn\d+n?)$")


def supports_volume_kms(instance_type: str) -> bool:
    """Whether SageMaker accepts a KMS key for the storage volume of ``instance_type`` (``ml.<family>.<size>``)."""
    parts = instance_type.split(".")
    if len(parts) != 3 or parts[0] != "ml":
        raise ValueError(f"{instance_type!r} is not a SageMaker instance type; allowed: ml.<family>.<size>")
    family = parts[1]
    return not (_LOCAL_STORAGE_SUFFIX.match(family) or _LOCAL_STORAGE_FAMILIES.match(family))


@dataclass(frozen=True)
class ModelArtifactSource:
    """The promoted copy a model serves: its image and its tarball in this environment's own models bucket.

    ``model_data_url`` and ``image`` are the promotion custom resource's attributes (so a model made from them
    waits for the verified copy); ``object_key`` is the copy's key in ``bucket``, encrypted with ``key``;
    ``package_arn`` is the registry package it came from (lineage only: nothing reads the registry at run time).
    """

    bucket: s3.IBucket
    key: kms.IKey
    object_key: str
    model_data_url: str
    image: str
    package_arn: str

    def grant_read(self, grantee: iam.IGrantable) -> None:
        """Let ``grantee`` read the copy (that one object) and decrypt it with this environment's key."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadPromotedModel",
                actions=["s3:GetObject"],
                resources=[self.bucket.arn_for_objects(self.object_key)],
            )
        )
        self.key.grant_decrypt(grantee)


class ServedModel(Construct):
    """A SageMaker Model made from a promoted copy (image + ModelDataUrl in this account), with its own role.

    The role may read the copy (``artifact``), pull from exactly the repository of ``image`` (the model's
    ``images.serving``, default the AWS XGBoost 1.7-1 image; ``artifact.image`` is the promoted package's image,
    which promotion checked comes from that repository) and write its logs. The container gets no environment:
    the AWS XGBoost image serves a tarball in algorithm mode, and a SAGEMAKER_PROGRAM key (even empty) would switch
    it to script mode. ``network_isolation`` defaults
    to on (serverless endpoints reject it); ``vpc`` defaults to none. CloudFormation names the model, so a new
    version replaces it without a collision.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        artifact: ModelArtifactSource,
        network_isolation: bool = True,
        vpc: VpcSettings | None = None,
        image: ImageSettings = XGBOOST_IMAGE,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.artifact = artifact
        self.image = ServingImage.resolve(image, stack.region)
        self.model_package_arn = artifact.package_arn
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="Runs the containers of a served model",
        )
        artifact.grant_read(self.role)
        grant_job_basics(
            self.role,
            image_repositories=[self.image.repository_arn(stack)],
        )
        self.policies: list[IConstruct] = [self.role.node.find_child("DefaultPolicy")]
        if vpc is not None:
            # SageMaker attaches the model's ENIs in the VPC with the execution role's permissions.
            vpc_policy = iam.ManagedPolicy(
                self,
                "VpcAccess",
                statements=[vpc_interfaces_statement()],
            )
            self.role.add_managed_policy(vpc_policy)
            self.policies.append(vpc_policy)
        self.resource = sagemaker.CfnModel(
            self,
            "Resource",
            execution_role_arn=self.role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=artifact.image, model_data_url=artifact.model_data_url
            ),
            enable_network_isolation=network_isolation,
            vpc_config=(
                sagemaker.CfnModel.VpcConfigProperty(
                    subnets=list(vpc.subnet_ids), security_group_ids=list(vpc.security_group_ids)
                )
                if vpc is not None
                else None
            ),
        )
        # The role's permissions must be in place before SageMaker validates the model (the role itself is
        # already a dependency through its ARN).
        self.resource.node.add_dependency(*self.policies)
        self.model_name = self.resource.attr_model_name


def grant_data_capture(model: ServedModel, *, bucket: s3.IBucket, prefix: str, key: kms.IKey) -> None:
    """Let SageMaker write ``model``'s captured data under ``prefix`` of ``bucket`` (with the model's role)."""
    model.role.add_to_policy(
        iam.PolicyStatement(
            sid="WriteDataCapture",
            actions=["s3:PutObject"],
            resources=[bucket.arn_for_objects(f"{prefix.strip('/')}/*")],
        )
    )
    key.grant(model.role, "kms:GenerateDataKey", "kms:Encrypt")


def instance_variant(
    model: ServedModel, instance_type: str, instance_count: int, *, name: str = VARIANT_NAME, weight: float = 1.0
) -> sagemaker.CfnEndpointConfig.ProductionVariantProperty:
    """A variant of ``instance_count`` ``instance_type`` instances serving ``model`` (real-time, async, shadow)."""
    return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
        variant_name=name,
        model_name=model.model_name,
        instance_type=instance_type,
        initial_instance_count=instance_count,
        initial_variant_weight=weight,
    )


def data_capture_config(
    *, percent: float, bucket: s3.IBucket, prefix: str, key: kms.IKey
) -> sagemaker.CfnEndpointConfig.DataCaptureConfigProperty:
    """Capture ``percent`` of requests and responses (CSV) under ``prefix`` of ``bucket``, encrypted with ``key``."""
    return sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
        enable_capture=True,
        # The API takes whole percents; a configured fraction below 1% still samples something.
        initial_sampling_percentage=max(1, round(percent)),
        destination_s3_uri=bucket.s3_url_for_object(prefix.strip("/")),
        kms_key_id=key.key_arn,
        capture_options=[
            sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Input"),
            sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Output"),
        ],
        capture_content_type_header=sagemaker.CfnEndpointConfig.CaptureContentTypeHeaderProperty(
            csv_content_types=["text/csv"]
        ),
    )


def autoscaling_service_role(scope: Construct) -> iam.IRole:
    """Application Auto Scaling's service-linked role for SageMaker (created on first use), as ``scope``'s
    ``AutoScalingServiceRole``; without it CDK would create a scalable-target role with no permissions."""
    return iam.Role.from_role_arn(
        scope,
        "AutoScalingServiceRole",
        Stack.of(scope).format_arn(
            service="iam",
            region="",
            resource="role",
            resource_name="aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
            "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        ),
        mutable=False,
    )


EndpointMode = Literal["realtime", "serverless", "async", "components"]
"""The kinds of endpoint a model can be served by (``serving.mode`` other than ``none``)."""


class _Endpoint(Construct):
    """What both kinds of endpoint share: the named endpoint, its metrics and its rollback alarms."""

    mode: EndpointMode

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        model: ServedModel,
        rollback: RollbackAlarmSettings,
    ) -> None:
        super().__init__(scope, construct_id)
        self.endpoint_name = endpoint_name
        self.variant_name = VARIANT_NAME
        self.model = model
        # Alarm dimensions use the derived name, not the endpoint's Ref: the endpoint refers to the alarms.
        self.errors_5xx_alarm = self.metric_5xx_errors().create_alarm(
            self,
            "Rollback5xxErrors",
            alarm_description=f"{endpoint_name}: 5XX errors; rolls back an endpoint update while it bakes",
            threshold=rollback.errors_5xx_per_minute,
            evaluation_periods=rollback.evaluation_periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.latency_alarm = self.metric_model_latency_p99().create_alarm(
            self,
            "RollbackModelLatencyP99",
            alarm_description=(
                f"{endpoint_name}: p99 model latency above {rollback.latency_p99_ms} ms; rolls back an update"
            ),
            # ModelLatency is reported in microseconds.
            threshold=rollback.latency_p99_ms * 1000,
            evaluation_periods=rollback.evaluation_periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.rollback_alarms: tuple[cloudwatch.Alarm, ...] = (self.errors_5xx_alarm, self.latency_alarm)

    def metric(self, metric_name: str, *, statistic: str = "Sum", period: Duration | None = None) -> cloudwatch.Metric:
        """A metric of this endpoint's variant in ``AWS/SageMaker``."""
        return cloudwatch.Metric(
            namespace=SAGEMAKER_NAMESPACE,
            metric_name=metric_name,
            dimensions_map={"EndpointName": self.endpoint_name, "VariantName": self.variant_name},
            statistic=statistic,
            period=period or DEFAULT_PERIOD,
        )

    def metric_invocations(self, *, period: Duration | None = None) -> cloudwatch.Metric:
        """Requests sent to the model (sum)."""
        return self.metric("Invocations", period=period)

    def metric_5xx_errors(self, *, period: Duration | None = None) -> cloudwatch.Metric:
        """Requests the model failed with a 5XX (sum)."""
        return self.metric("Invocation5XXErrors", period=period)

    def metric_4xx_errors(self, *, period: Duration | None = None) -> cloudwatch.Metric:
        """Requests rejected with a 4XX (sum)."""
        return self.metric("Invocation4XXErrors", period=period)

    def metric_model_latency_p99(self, *, period: Duration | None = None) -> cloudwatch.Metric:
        """p99 of the time the model took to respond, in microseconds."""
        return self.metric("ModelLatency", statistic="p99", period=period)

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` invoke this endpoint (and no other)."""
        stack = Stack.of(self)
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:InvokeEndpoint"],
            resource_arns=[
                stack.format_arn(
                    service="sagemaker",
                    resource="endpoint",
                    # SageMaker lower-cases endpoint names in ARNs.
                    resource_name=self.endpoint_name.lower(),
                    arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                )
            ],
        )

    def _rollback_configuration(self) -> sagemaker.CfnEndpoint.AutoRollbackConfigProperty:
        return sagemaker.CfnEndpoint.AutoRollbackConfigProperty(
            alarms=[sagemaker.CfnEndpoint.AlarmProperty(alarm_name=alarm.alarm_name) for alarm in self.rollback_alarms]
        )

    def _instance_count_target(
        self, endpoint: sagemaker.CfnEndpoint, min_capacity: int, max_capacity: int
    ) -> appscaling.ScalableTarget:
        """The variant's instance count as an Application Auto Scaling target, registered once ``endpoint`` exists."""
        target = appscaling.ScalableTarget(
            self,
            "ScalableTarget",
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"endpoint/{self.endpoint_name}/variant/{self.variant_name}",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            min_capacity=min_capacity,
            max_capacity=max_capacity,
            role=autoscaling_service_role(self),
        )
        target.node.add_dependency(endpoint)
        return target

    def _all_at_once(self, baking_seconds: int) -> sagemaker.CfnEndpoint.DeploymentConfigProperty:
        """Blue/green, all traffic at once, baked ``baking_seconds`` under the rollback alarms (serverless, async)."""
        return sagemaker.CfnEndpoint.DeploymentConfigProperty(
            blue_green_update_policy=sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
                traffic_routing_configuration=sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
                    type="ALL_AT_ONCE", wait_interval_in_seconds=baking_seconds
                ),
            ),
            auto_rollback_configuration=self._rollback_configuration(),
        )


class RealtimeEndpoint(_Endpoint):
    """A real-time endpoint on instances: autoscaled, data-captured, encrypted, updated blue/green with rollback.

    ``settings`` gives instance type and count, autoscaling, the capture sampling and the deployment strategy;
    requests and responses are captured to ``capture_bucket`` under ``capture_prefix`` encrypted with ``key``,
    which also encrypts the instance volume where the instance type has one (see ``supports_volume_kms``).
    """

    mode: EndpointMode = "realtime"

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        model: ServedModel,
        settings: RealtimeSettings,
        rollback: RollbackAlarmSettings,
        key: kms.IKey,
        capture_bucket: s3.IBucket,
        capture_prefix: str,
    ) -> None:
        super().__init__(scope, construct_id, endpoint_name=endpoint_name, model=model, rollback=rollback)
        capture_prefix = capture_prefix.strip("/")
        grant_data_capture(model, bucket=capture_bucket, prefix=capture_prefix, key=key)

        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "Config",
            production_variants=[instance_variant(model, settings.instance_type, settings.initial_instance_count)],
            kms_key_id=key.key_arn if supports_volume_kms(settings.instance_type) else None,
            data_capture_config=data_capture_config(
                percent=settings.data_capture_percent, bucket=capture_bucket, prefix=capture_prefix, key=key
            ),
        )
        # Captured data is written as soon as the endpoint serves: the grants must be in place first.
        self.endpoint_config.node.add_dependency(*model.policies)

        deployment = settings.deployment
        routing = sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
            type=deployment.strategy.upper(),
            wait_interval_in_seconds=deployment.wait_interval_seconds,
            canary_size=(
                sagemaker.CfnEndpoint.CapacitySizeProperty(type="CAPACITY_PERCENT", value=deployment.canary_percent)
                if deployment.strategy == "canary"
                else None
            ),
            linear_step_size=(
                sagemaker.CfnEndpoint.CapacitySizeProperty(
                    type="CAPACITY_PERCENT", value=deployment.linear_step_percent
                )
                if deployment.strategy == "linear"
                else None
            ),
        )
        self.resource = sagemaker.CfnEndpoint(
            self,
            "Resource",
            endpoint_name=endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            deployment_config=sagemaker.CfnEndpoint.DeploymentConfigProperty(
                blue_green_update_policy=sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
                    traffic_routing_configuration=routing,
                    termination_wait_in_seconds=deployment.termination_wait_seconds,
                    maximum_execution_timeout_in_seconds=deployment.maximum_execution_timeout_seconds,
                ),
                auto_rollback_configuration=self._rollback_configuration(),
            ),
            # Keep the instance count auto scaling chose across model updates; apply capture changes.
            retain_all_variant_properties=True,
            exclude_retained_variant_properties=[
                sagemaker.CfnEndpoint.VariantPropertyProperty(variant_property_type="DataCaptureConfig")
            ],
        )

        scaling = settings.autoscaling
        self.scalable_target = self._instance_count_target(self.resource, scaling.min_capacity, scaling.max_capacity)
        self.scaling_policy = self.scalable_target.scale_to_track_metric(
            "InvocationsPerInstance",
            target_value=scaling.target_invocations_per_instance,
            predefined_metric=appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
            scale_in_cooldown=Duration.seconds(scaling.scale_in_cooldown_seconds),
            scale_out_cooldown=Duration.seconds(scaling.scale_out_cooldown_seconds),
        )


class ServerlessEndpoint(_Endpoint):
    """A serverless endpoint: memory and concurrency from ``settings``, optional provisioned concurrency.

    Serverless endpoints support neither data capture, nor a KMS key for a volume, nor VPC or network
    isolation, nor canary/linear traffic shifting (sizes are fractions of an instance fleet). Updates are
    blue/green all at once with a baking period of ``settings.baking_seconds`` watched by the rollback alarms.
    """

    mode: EndpointMode = "serverless"

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        model: ServedModel,
        settings: ServerlessSettings,
        rollback: RollbackAlarmSettings,
    ) -> None:
        super().__init__(scope, construct_id, endpoint_name=endpoint_name, model=model, rollback=rollback)
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "Config",
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=VARIANT_NAME,
                    model_name=model.model_name,
                    initial_variant_weight=1.0,
                    serverless_config=sagemaker.CfnEndpointConfig.ServerlessConfigProperty(
                        memory_size_in_mb=settings.memory_size_mb,
                        max_concurrency=settings.max_concurrency,
                        provisioned_concurrency=settings.provisioned_concurrency,
                    ),
                )
            ],
        )
        self.endpoint_config.node.add_dependency(*model.policies)
        self.resource = sagemaker.CfnEndpoint(
            self,
            "Resource",
            endpoint_name=endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            deployment_config=self._all_at_once(settings.baking_seconds),
        )

    def metric_model_setup_time(self, *, period: Duration | None = None) -> cloudwatch.Metric:
        """Cold-start time to launch compute for the model, in microseconds (average)."""
        return self.metric("ModelSetupTime", statistic="Average", period=period)


Endpoint = RealtimeEndpoint | ServerlessEndpoint
"""Either kind of endpoint (both expose ``endpoint_name``, ``variant_name``, ``mode`` and the metrics)."""
