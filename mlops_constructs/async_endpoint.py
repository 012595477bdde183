"""Asynchronous endpoints: a queue in front of the model, results in S3, notifications on SNS, scaling to zero.

What AWS documents and this module relies on (SageMaker AI developer guide and API reference):

- ``AsyncInferenceConfig`` ("AWS::SageMaker::EndpointConfig AsyncInferenceConfig", CloudFormation template
  reference): ``OutputConfig`` (``S3OutputPath``, ``S3FailurePath``, ``KmsKeyId``, ``NotificationConfig`` with
  ``SuccessTopic`` / ``ErrorTopic``) and ``ClientConfig.MaxConcurrentInvocationsPerInstance``. SageMaker reads
  each request's ``InputLocation`` and writes results and failures with the model's execution role, and publishes
  the notifications with it too.
- "Autoscale an asynchronous endpoint": unlike other endpoints, an asynchronous one may scale to zero instances;
  target tracking on ``ApproximateBacklogSizePerInstance`` (``EndpointName`` dimension, ``Average``) is the
  recommended policy, and without the optional step policy that scales up from zero the endpoint only leaves
  zero once the backlog exceeds the target. "Auto scaling policy overview": scaling out from zero instances
  needs a step scaling policy; here it is driven by ``HasBacklogWithoutCapacity`` (1 while requests wait and no
  instance runs).
- "Alarms and logs for tracking metrics from asynchronous endpoints": ``Invocations`` (and so any invocation
  rate) is not published for asynchronous endpoints; ``Invocation4XXErrors``, ``Invocation5XXErrors`` and
  ``ModelLatency`` are; ``ApproximateBacklogSize``, ``ApproximateBacklogSizePerInstance`` and
  ``ApproximateAgeOfOldestRequest`` carry only ``EndpointName``; ``InvocationFailures``, ``ResponseUploadFailures``,
  ``NotificationFailures`` and ``RequestDownloadFailures`` carry ``EndpointName`` and ``VariantName``.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from mlops_config.inference_modes import AsyncAlarmSettings, AsyncInferenceSettings
from mlops_config.serving import RollbackAlarmSettings
from mlops_constructs.alarms import AlarmSpec, ModelAlarms
from mlops_constructs.endpoint import (
    DEFAULT_PERIOD,
    SAGEMAKER_NAMESPACE,
    EndpointMode,
    ServedModel,
    _Endpoint,
    data_capture_config,
    grant_data_capture,
    instance_variant,
    supports_volume_kms,
)
from mlops_constructs.metric_contract import ModelMetrics

BACKLOG_PER_INSTANCE = "ApproximateBacklogSizePerInstance"
HAS_BACKLOG_WITHOUT_CAPACITY = "HasBacklogWithoutCapacity"
OLDEST_REQUEST_AGE = "ApproximateAgeOfOldestRequest"
INVOCATION_FAILURES = "InvocationFailures"
DELIVERY_FAILURES = ("ResponseUploadFailures", "NotificationFailures")


class AsyncEndpoint(_Endpoint):
    """An asynchronous endpoint on instances, with the guardrails of a real-time one.

    Requests are read from ``input_prefix`` of ``bucket`` (the environment's data bucket); results go to
    ``output_prefix`` and failures to ``failure_prefix`` of the same bucket, encrypted with ``key``, and are
    announced on ``success_topic`` / ``error_topic`` (created here, encrypted with ``key``). Requests and responses
    are captured like a real-time endpoint's (``capture_bucket``/``capture_prefix``), so the drift monitor reads
    them the same way. Auto scaling: target tracking on the backlog per instance down to
    ``autoscaling.min_capacity`` (0 by default) plus the step policy on ``HasBacklogWithoutCapacity`` that starts
    the first instance. Updates are blue/green all at once, baked ``settings.baking_seconds`` under the rollback
    alarms (5XX errors, p99 model latency: both published for asynchronous endpoints).
    """

    mode: EndpointMode = "async"

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        model: ServedModel,
        settings: AsyncInferenceSettings,
        rollback: RollbackAlarmSettings,
        key: kms.IKey,
        bucket: s3.IBucket,
        input_prefix: str,
        output_prefix: str,
        failure_prefix: str,
        capture_bucket: s3.IBucket,
        capture_prefix: str,
    ) -> None:
        super().__init__(scope, construct_id, endpoint_name=endpoint_name, model=model, rollback=rollback)
        self.settings = settings
        self.bucket = bucket
        self.input_prefix, self.output_prefix, self.failure_prefix = input_prefix, output_prefix, failure_prefix
        self.success_topic = sns.Topic(
            self, "SuccessTopic", master_key=key, enforce_ssl=True, display_name=f"{endpoint_name} results"
        )
        self.error_topic = sns.Topic(
            self, "ErrorTopic", master_key=key, enforce_ssl=True, display_name=f"{endpoint_name} failed requests"
        )
        self._grant_model(model, key)
        grant_data_capture(model, bucket=capture_bucket, prefix=capture_prefix, key=key)

        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "Config",
            production_variants=[instance_variant(model, settings.instance_type, settings.initial_instance_count)],
            kms_key_id=key.key_arn if supports_volume_kms(settings.instance_type) else None,
            async_inference_config=sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty(
                output_config=sagemaker.CfnEndpointConfig.AsyncInferenceOutputConfigProperty(
                    s3_output_path=bucket.s3_url_for_object(output_prefix.rstrip("/")),
                    s3_failure_path=bucket.s3_url_for_object(failure_prefix.rstrip("/")),
                    kms_key_id=key.key_arn,
                    notification_config=sagemaker.CfnEndpointConfig.AsyncInferenceNotificationConfigProperty(
                        success_topic=self.success_topic.topic_arn, error_topic=self.error_topic.topic_arn
                    ),
                ),
                client_config=sagemaker.CfnEndpointConfig.AsyncInferenceClientConfigProperty(
                    max_concurrent_invocations_per_instance=settings.max_concurrent_invocations_per_instance
                ),
            ),
            data_capture_config=data_capture_config(
                percent=settings.data_capture_percent, bucket=capture_bucket, prefix=capture_prefix, key=key
            ),
        )
        # SageMaker checks the role's access when it creates the endpoint and uses it for every request.
        self.endpoint_config.node.add_dependency(*model.policies)

        self.resource = sagemaker.CfnEndpoint(
            self,
            "Resource",
            endpoint_name=endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            deployment_config=self._all_at_once(settings.baking_seconds),
            # Keep the instance count auto scaling chose (possibly zero) across model updates; apply capture changes.
            retain_all_variant_properties=True,
            exclude_retained_variant_properties=[
                sagemaker.CfnEndpoint.VariantPropertyProperty(variant_property_type="DataCaptureConfig")
            ],
        )
        self._autoscale(endpoint_name)

    def _grant_model(self, model: ServedModel, key: kms.IKey) -> None:
        """SageMaker reads requests, writes results and notifies with the model's execution role."""
        role = model.role
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadAsyncRequests",
                actions=["s3:GetObject"],
                resources=[self.bucket.arn_for_objects(f"{self.input_prefix}*")],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteAsyncResults",
                actions=["s3:PutObject"],
                resources=[
                    self.bucket.arn_for_objects(f"{self.output_prefix}*"),
                    self.bucket.arn_for_objects(f"{self.failure_prefix}*"),
                ],
            )
        )
        # Reading SSE-KMS requests, writing encrypted results and publishing to the encrypted topics all need
        # the data key's GenerateDataKey and Decrypt, nothing more.
        key.grant(role, "kms:Decrypt", "kms:GenerateDataKey")
        role.add_to_policy(
            iam.PolicyStatement(
                sid="NotifyAsyncResults",
                actions=["sns:Publish"],
                resources=[self.success_topic.topic_arn, self.error_topic.topic_arn],
            )
        )

    def _autoscale(self, endpoint_name: str) -> None:
        scaling = self.settings.autoscaling
        self.scalable_target = self._instance_count_target(self.resource, scaling.min_capacity, scaling.max_capacity)
        self.backlog_policy = self.scalable_target.scale_to_track_metric(
            "BacklogPerInstance",
            target_value=scaling.target_backlog_per_instance,
            custom_metric=self.metric_backlog_per_instance(),
            scale_in_cooldown=Duration.seconds(scaling.scale_in_cooldown_seconds),
            scale_out_cooldown=Duration.seconds(scaling.scale_out_cooldown_seconds),
        )
        # Target tracking cannot leave zero: with no instance the backlog per instance is undefined. AWS's step
        # policy adds one instance while requests wait without capacity.
        self.scale_up_from_zero = appscaling.StepScalingAction(
            self,
            "ScaleUpFromZero",
            scaling_target=self.scalable_target,
            adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            metric_aggregation_type=appscaling.MetricAggregationType.AVERAGE,
            cooldown=Duration.seconds(scaling.scale_up_from_zero_cooldown_seconds),
        )
        self.scale_up_from_zero.add_adjustment(adjustment=1, lower_bound=0)
        self.backlog_without_capacity_alarm = self.metric_has_backlog_without_capacity().create_alarm(
            self,
            "BacklogWithoutCapacity",
            alarm_description=f"{endpoint_name}: requests wait and no instance runs; starts the first instance",
            threshold=1,
            evaluation_periods=2,
            datapoints_to_alarm=2,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.MISSING,
        )
        self.backlog_without_capacity_alarm.add_alarm_action(
            cw_actions.ApplicationScalingAction(self.scale_up_from_zero)
        )

    def endpoint_metric(
        self, metric_name: str, *, statistic: str = "Average", period: Duration | None = None
    ) -> cloudwatch.Metric:
        """A queue metric of this endpoint (``EndpointName`` is its only dimension)."""
        return cloudwatch.Metric(
            namespace=SAGEMAKER_NAMESPACE,
            metric_name=metric_name,
            dimensions_map={"EndpointName": self.endpoint_name},
            statistic=statistic,
            period=period or DEFAULT_PERIOD,
        )

    def metric_backlog_per_instance(self) -> cloudwatch.Metric:
        """Queued requests per instance (average): what target tracking keeps at its target."""
        return self.endpoint_metric(BACKLOG_PER_INSTANCE)

    def metric_has_backlog_without_capacity(self) -> cloudwatch.Metric:
        """1 while requests wait and no instance runs (average)."""
        return self.endpoint_metric(HAS_BACKLOG_WITHOUT_CAPACITY)

    def metric_oldest_request_age(self, *, period: Duration | None = None) -> cloudwatch.Metric:
        """Age of the oldest queued request, in seconds (maximum)."""
        return self.endpoint_metric(OLDEST_REQUEST_AGE, statistic="Maximum", period=period)

    def metric_invocation_failures(self, *, period: Duration | None = None) -> cloudwatch.Metric:
        """Requests that failed for any reason (sum)."""
        return self.metric(INVOCATION_FAILURES, period=period)


def async_alarm_specs(
    metrics: ModelMetrics,
    settings: AsyncAlarmSettings,
    *,
    period: Duration,
    evaluation_periods: int,
    datapoints_to_alarm: int,
) -> list[AlarmSpec]:
    """The alarms of an asynchronous endpoint's queue and failed requests (next to the usual endpoint alarms)."""
    windows = (evaluation_periods, datapoints_to_alarm)
    oldest = cloudwatch.Metric(
        namespace=SAGEMAKER_NAMESPACE,
        metric_name=OLDEST_REQUEST_AGE,
        # The queue metrics carry only the endpoint's name.
        dimensions_map={"EndpointName": metrics.endpoint_name},
        statistic="Maximum",
        period=period,
    )
    return [
        AlarmSpec(
            "AsyncOldestRequestAge",
            f"{metrics.endpoint_name}: the oldest queued request waits over {settings.oldest_request_age_seconds}s "
            "(backlog not draining: too few instances, or none starting)",
            oldest,
            settings.oldest_request_age_seconds,
            cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            # An empty queue publishes nothing: that is the healthy case.
            cloudwatch.TreatMissingData.NOT_BREACHING,
            *windows,
        ),
        AlarmSpec(
            "AsyncInvocationFailures",
            f"{metrics.endpoint_name}: {settings.invocation_failures} or more asynchronous requests failed "
            f"per {int(period.to_seconds())}s (results under the failure prefix, error topic notified)",
            metrics.endpoint_metric(INVOCATION_FAILURES, statistic="Sum", period=period),
            settings.invocation_failures,
            cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            cloudwatch.TreatMissingData.NOT_BREACHING,
            *windows,
        ),
        AlarmSpec(
            "AsyncDeliveryFailures",
            f"{metrics.endpoint_name}: results or notifications could not be delivered (ResponseUploadFailures + "
            "NotificationFailures)",
            cloudwatch.MathExpression(
                expression="upload + notify",
                using_metrics={
                    "upload": metrics.endpoint_metric(DELIVERY_FAILURES[0], statistic="Sum", period=period),
                    "notify": metrics.endpoint_metric(DELIVERY_FAILURES[1], statistic="Sum", period=period),
                },
                label="Undelivered results and notifications",
                period=period,
            ),
            1,
            cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            cloudwatch.TreatMissingData.NOT_BREACHING,
            *windows,
        ),
    ]


def async_dashboard_row(metrics: ModelMetrics, alarms: ModelAlarms, period: Duration) -> list[cloudwatch.IWidget]:
    """The queue row of an asynchronous endpoint's dashboard: backlog, oldest request, failures."""
    backlog = cloudwatch.Metric(
        namespace=SAGEMAKER_NAMESPACE,
        metric_name="ApproximateBacklogSize",
        dimensions_map={"EndpointName": metrics.endpoint_name},
        statistic="Average",
        period=period,
    )
    return [
        cloudwatch.GraphWidget(
            title="Queued requests (backlog)",
            left=[backlog],
            right=[metrics.endpoint_metric("InvocationsProcesssed", statistic="Sum", period=period)],
            width=8,
            height=6,
        ),
        cloudwatch.AlarmWidget(alarm=alarms.alarms["AsyncOldestRequestAge"], title="Oldest request (s)", width=8),
        cloudwatch.AlarmWidget(alarm=alarms.alarms["AsyncInvocationFailures"], title="Failed requests", width=8),
    ]


def grant_async_requests(
    grantee: iam.IGrantable,
    *,
    endpoint_name: str,
    bucket: s3.IBucket,
    input_prefix: str,
    output_prefix: str,
    failure_prefix: str,
    key: kms.IKey,
) -> None:
    """Let ``grantee`` queue requests on the asynchronous endpoint ``endpoint_name`` and read their outcome.

    It may upload under ``input_prefix``, call ``InvokeEndpointAsync``, and read what SageMaker writes under
    ``output_prefix`` and ``failure_prefix``; listing those two prefixes lets S3 answer a result that is not
    there yet with 404 rather than 403 (API reference, "GetObject", Permissions). Objects are SSE-KMS with ``key``.
    """
    stack = Stack.of(bucket)
    principal = grantee.grant_principal
    principal.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["sagemaker:InvokeEndpointAsync"],
            resources=[
                stack.format_arn(
                    service="sagemaker",
                    resource="endpoint",
                    resource_name=endpoint_name.lower(),
                    arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                )
            ],
        )
    )
    principal.add_to_principal_policy(
        iam.PolicyStatement(actions=["s3:PutObject"], resources=[bucket.arn_for_objects(f"{input_prefix}*")])
    )
    principal.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["s3:GetObject"],
            resources=[bucket.arn_for_objects(f"{output_prefix}*"), bucket.arn_for_objects(f"{failure_prefix}*")],
        )
    )
    principal.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{output_prefix}*", f"{failure_prefix}*"]}},
        )
    )
    key.grant(grantee, "kms:GenerateDataKey", "kms:Decrypt")
