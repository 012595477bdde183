"""Shadow tests: a newly approved version answers a copy of production's requests before it answers any client.

What AWS documents ("Create a shadow test", "Testing models with shadow variants", ``CreateEndpointConfig``):
an endpoint config with ``ShadowProductionVariants`` holds exactly one production variant and one shadow
variant; SageMaker copies a share of the requests the production variant receives to the shadow variant and
returns only the production variant's responses; both variants publish the usual endpoint metrics under their
own ``VariantName``. AWS's example config gives both variants ``InitialVariantWeight`` 1, the default here
(every request copied). A smaller share is written as the shadow's weight relative to production's 1; AWS
documents a sampling share only for ``AWS::SageMaker::InferenceExperiment`` (``SamplingPercentage``), not for this
weight, so that reading is unverified (docs/serving.md, "Shadow tests", says what it would change).

Promotion is deliberate: the candidate becomes production when the ``shadow`` block is removed from the
configuration (docs/serving.md, "Shadow tests").
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from mlops_config.inference_modes import ShadowSettings
from mlops_config.serving import RealtimeSettings
from mlops_constructs.endpoint import (
    SAGEMAKER_NAMESPACE,
    VARIANT_NAME,
    RealtimeEndpoint,
    ServedModel,
    grant_data_capture,
    instance_variant,
)

SHADOW_VARIANT_NAME = "Shadow"
"""The shadow variant of every shadow-tested endpoint (a contract with the comparison alarms)."""


class ShadowVariant(Construct):
    """Adds ``candidate`` to ``endpoint``'s config as its shadow variant, receiving ``settings.traffic_percent``.

    The candidate's requests and responses are captured with production's (the capture path names the variant),
    so its role may write the same capture prefix. ``endpoint`` must serve the production package.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint: RealtimeEndpoint,
        candidate: ServedModel,
        settings: ShadowSettings,
        realtime: RealtimeSettings,
        key: kms.IKey,
        capture_bucket: s3.IBucket,
        capture_prefix: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.endpoint = endpoint
        self.candidate = candidate
        self.settings = settings
        self.variant_name = SHADOW_VARIANT_NAME
        self.production_variant_name = VARIANT_NAME
        grant_data_capture(candidate, bucket=capture_bucket, prefix=capture_prefix, key=key)
        endpoint.endpoint_config.shadow_production_variants = [
            # Production's weight is 1: the shadow's weight is the share of requests copied to it.
            instance_variant(
                candidate,
                settings.instance_type or realtime.instance_type,
                settings.instance_count,
                name=SHADOW_VARIANT_NAME,
                weight=settings.traffic_percent / 100,
            )
        ]
        endpoint.endpoint_config.node.add_dependency(*candidate.policies)


def _variant_metric(
    endpoint_name: str, variant_name: str, metric_name: str, statistic: str, period: Duration
) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=SAGEMAKER_NAMESPACE,
        metric_name=metric_name,
        dimensions_map={"EndpointName": endpoint_name, "VariantName": variant_name},
        statistic=statistic,
        period=period,
    )


class ShadowComparison(Construct):
    """Alarms comparing the shadow variant with production, and the dashboard row that shows them.

    ``ShadowLatency``: the shadow's p99 model latency over production's above ``settings.latency_ratio``.
    ``ShadowErrorRate``: the shadow's 4XX+5XX share of its invocations above production's by more than
    ``settings.error_rate_margin_percent`` points. Both notify ``topic``; idle periods (no data) are not breaches.
    ``ShadowPredictionDrift`` (only when ``prediction_drift`` is given, i.e. the ``open`` backend publishes the
    contract's ``ShadowPredictionDrift``): the PSI of the shadow's predictions against production's above
    ``settings.prediction_drift_threshold`` in all of the last ``drift_evaluation_periods`` monitoring runs; a run
    that publishes nothing (no shadow capture) keeps the last verdict, like the feature-drift alarm.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        settings: ShadowSettings,
        topic: sns.ITopic,
        period: Duration,
        evaluation_periods: int,
        datapoints_to_alarm: int,
        prediction_drift: cloudwatch.IMetric | None = None,
        drift_evaluation_periods: int = 1,
    ) -> None:
        super().__init__(scope, construct_id)

        def metric(variant: str, name: str, statistic: str = "Sum") -> cloudwatch.Metric:
            return _variant_metric(endpoint_name, variant, name, statistic, period)

        self.latency_ratio = cloudwatch.MathExpression(
            expression="IF(production > 0, shadow / production, 0)",
            using_metrics={
                "shadow": metric(SHADOW_VARIANT_NAME, "ModelLatency", "p99"),
                "production": metric(VARIANT_NAME, "ModelLatency", "p99"),
            },
            label="Shadow / production p99 model latency",
            period=period,
        )
        self.error_rate_gap = cloudwatch.MathExpression(
            expression="100 * (s4 + s5) / MAX([sinv, 1]) - 100 * (p4 + p5) / MAX([pinv, 1])",
            using_metrics={
                "s4": metric(SHADOW_VARIANT_NAME, "Invocation4XXErrors"),
                "s5": metric(SHADOW_VARIANT_NAME, "Invocation5XXErrors"),
                "sinv": metric(SHADOW_VARIANT_NAME, "Invocations"),
                "p4": metric(VARIANT_NAME, "Invocation4XXErrors"),
                "p5": metric(VARIANT_NAME, "Invocation5XXErrors"),
                "pinv": metric(VARIANT_NAME, "Invocations"),
            },
            label="Shadow minus production error rate (points)",
            period=period,
        )
        self.latency_alarm = self.latency_ratio.create_alarm(
            self,
            "ShadowLatency",
            alarm_description=(
                f"{endpoint_name}: the shadow (candidate) p99 model latency is over {settings.latency_ratio:g}x "
                "production's; do not promote it"
            ),
            threshold=settings.latency_ratio,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm,
        )
        self.error_alarm = self.error_rate_gap.create_alarm(
            self,
            "ShadowErrorRate",
            alarm_description=(
                f"{endpoint_name}: the shadow (candidate) error rate exceeds production's by more than "
                f"{settings.error_rate_margin_percent:g} points; do not promote it"
            ),
            threshold=settings.error_rate_margin_percent,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm,
        )
        self.prediction_drift_alarm: cloudwatch.Alarm | None = None
        if prediction_drift is not None:
            self.prediction_drift_alarm = cloudwatch.Alarm(
                self,
                "ShadowPredictionDrift",
                metric=prediction_drift,
                alarm_description=(
                    f"{endpoint_name}: the shadow (candidate) predictions drifted from production's on the same "
                    f"traffic (PSI over {settings.prediction_drift_threshold:g}); review before promoting it"
                ),
                threshold=settings.prediction_drift_threshold,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                # Published once per monitoring run: between runs, or when a run had no shadow capture, the last
                # verdict stands (the feature-drift alarm's treatment, mlops_constructs/alarms.py).
                treat_missing_data=cloudwatch.TreatMissingData.IGNORE,
                evaluation_periods=drift_evaluation_periods,
                datapoints_to_alarm=drift_evaluation_periods,
            )
        action = cw_actions.SnsAction(topic)
        alarms = [self.latency_alarm, self.error_alarm]
        if self.prediction_drift_alarm is not None:
            alarms.append(self.prediction_drift_alarm)
        for alarm in alarms:
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)
        self.widgets: list[cloudwatch.IWidget] = [
            cloudwatch.GraphWidget(
                title="Shadow vs production: p99 model latency (us)",
                left=[
                    metric(VARIANT_NAME, "ModelLatency", "p99").with_(label="production"),
                    metric(SHADOW_VARIANT_NAME, "ModelLatency", "p99").with_(label="shadow (candidate)"),
                ],
                # Room for the prediction-drift alarm in the same 24-unit row when there is one.
                width=6 if self.prediction_drift_alarm is not None else 12,
                height=6,
            ),
            cloudwatch.AlarmWidget(alarm=self.error_alarm, title="Shadow minus production error rate", width=6),
            cloudwatch.AlarmWidget(alarm=self.latency_alarm, title="Shadow / production latency", width=6),
        ]
        if self.prediction_drift_alarm is not None:
            self.widgets.append(
                cloudwatch.AlarmWidget(
                    alarm=self.prediction_drift_alarm, title="Shadow vs production prediction drift (PSI)", width=6
                )
            )
