"""The alarms and failure notifications of one served model, all on the DataStack's topic.

Alarms are declared as data (:class:`AlarmSpec`) and created in one loop: the list is what a reviewer reads.
Plain ``cloudwatch.Alarm`` rather than cdk-monitoring-constructs: two alarms need exact derived names (the
retraining Lambda matches them), the contract metrics are not a resource type that library knows, and each alarm
needs its own missing-data treatment; the library's facade names alarms and picks treatments by its own scheme.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from mlops_config import AlarmSettings
from mlops_config.model_kind import QualityGate
from mlops_constructs import naming
from mlops_constructs.metric_contract import ModelMetrics

# Alarm kinds with derived names (``naming.alarm_name``): the retraining Lambda reacts to exactly these.
FEATURE_DRIFT_ALARM = "feature-drift"
MODEL_QUALITY_ALARM = "model-quality"

PIPELINE_STATUS_DETAIL_TYPE = "SageMaker Model Building Pipeline Execution Status Change"
PROCESSING_JOB_DETAIL_TYPE = "SageMaker Processing Job State Change"


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm as data: what it watches, when it fires, and what missing data means for it."""

    construct_id: str
    description: str
    metric: cloudwatch.IMetric
    threshold: float
    comparison: cloudwatch.ComparisonOperator
    missing_data: cloudwatch.TreatMissingData
    evaluation_periods: int
    datapoints_to_alarm: int
    alarm_name: str | None = None


def endpoint_alarm_specs(metrics: ModelMetrics, mode: str, settings: AlarmSettings) -> list[AlarmSpec]:
    """The alarms on the endpoint's own metrics (``AWS/SageMaker``); ``mode`` is the endpoint's serving mode."""
    period = Duration.seconds(settings.period_seconds)
    endpoint_windows = (settings.evaluation_periods, settings.datapoints_to_alarm)
    errors = cloudwatch.MathExpression(
        expression="100 * (e4 + e5) / MAX([inv, 1])",
        using_metrics={
            "e4": metrics.endpoint_metric("Invocation4XXErrors", statistic="Sum", period=period),
            "e5": metrics.endpoint_metric("Invocation5XXErrors", statistic="Sum", period=period),
            "inv": metrics.endpoint_metric("Invocations", statistic="Sum", period=period),
        },
        label="Invocation error rate (%)",
        period=period,
    )
    specs = [
        AlarmSpec(
            "Endpoint5xxErrors",
            f"{metrics.endpoint_name}: 5XX errors per {settings.period_seconds}s at or above "
            f"{settings.error_5xx_threshold:g}",
            metrics.endpoint_metric("Invocation5XXErrors", statistic="Sum", period=period),
            settings.error_5xx_threshold,
            cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            # No traffic means no errors: SageMaker emits nothing then, and that must not alarm.
            cloudwatch.TreatMissingData.NOT_BREACHING,
            *endpoint_windows,
        ),
        AlarmSpec(
            "EndpointInvocationErrorRate",
            f"{metrics.endpoint_name}: 4XX+5XX (throttles included) above "
            f"{settings.invocation_error_rate_percent:g}% of invocations",
            errors,
            settings.invocation_error_rate_percent,
            cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            # Same as 5XX: an idle endpoint is healthy.
            cloudwatch.TreatMissingData.NOT_BREACHING,
            *endpoint_windows,
        ),
        AlarmSpec(
            "EndpointModelLatencyP99",
            f"{metrics.endpoint_name}: p99 model latency above {settings.latency_p99_ms:g} ms",
            metrics.endpoint_metric("ModelLatency", statistic="p99", period=period),
            # ModelLatency is in microseconds.
            settings.latency_p99_ms * 1000,
            cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            # Latency exists only when requests do; silence is not slowness.
            cloudwatch.TreatMissingData.NOT_BREACHING,
            *endpoint_windows,
        ),
    ]
    if mode == "async":
        # Asynchronous endpoints publish no Invocations, so no invocation error rate ("Alarms and logs for tracking
        # metrics from asynchronous endpoints"); their failures are alarmed on InvocationFailures instead.
        specs = [spec for spec in specs if spec.construct_id != "EndpointInvocationErrorRate"]
    if mode == "serverless":
        specs.append(
            AlarmSpec(
                "EndpointModelSetupTime",
                f"{metrics.endpoint_name}: serverless cold start (model setup) above "
                f"{settings.model_setup_time_ms:g} ms",
                metrics.endpoint_metric("ModelSetupTime", statistic="Maximum", period=period),
                settings.model_setup_time_ms * 1000,
                cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                # Only cold starts emit it; a warm endpoint reports nothing, which is the good case.
                cloudwatch.TreatMissingData.NOT_BREACHING,
                *endpoint_windows,
            )
        )
    return specs


# How each quality metric reads in an alarm description.
_QUALITY_LABELS = {
    "auc": "AUC",
    "accuracy": "accuracy",
    "f1": "F1",
    "rmse": "RMSE",
    "mae": "MAE",
    "r2": "R2",
}


def contract_alarm_specs(
    project: str, metrics: ModelMetrics, settings: AlarmSettings, quality: QualityGate | None = None
) -> list[AlarmSpec]:
    """The named drift and model-quality alarms, on the metric contract only (the same for every backend).

    ``quality`` is the metric and threshold of the model-quality alarm (``mlops_config.monitoring.quality_alarm``;
    default AUC below ``settings.min_model_quality``): it fires below the threshold, or above it for an error
    metric (RMSE, MAE).
    """
    quality = quality or QualityGate(metric="auc", threshold=settings.min_model_quality)
    label = _QUALITY_LABELS[quality.metric]
    period = Duration.seconds(settings.monitoring_period_seconds)
    # Every monitoring run counts: alarm when all of the last N runs breach.
    runs = settings.monitoring_evaluation_periods
    return [
        AlarmSpec(
            "FeatureDrift",
            f"{metrics.model} ({metrics.environment}): {settings.drifted_features_threshold} or more features drifted "
            "from the training baseline",
            metrics.drifted_features(period),
            settings.drifted_features_threshold,
            cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            # Runs publish once per schedule; between runs (or when a run fails, which notifies on its own)
            # the last verdict stands. NOT_BREACHING would flip a drift alarm back to OK without evidence and
            # re-trigger retraining on the next run.
            cloudwatch.TreatMissingData.IGNORE,
            alarm_name=naming.alarm_name(project, metrics.environment, metrics.model, FEATURE_DRIFT_ALARM),
            evaluation_periods=runs,
            datapoints_to_alarm=runs,
        ),
        AlarmSpec(
            "ModelQuality",
            f"{metrics.model} ({metrics.environment}): {label} on labelled traffic "
            f"{'above' if quality.lower_is_better else 'below'} {quality.threshold:g}",
            metrics.model_quality(quality.metric, period),
            quality.threshold,
            (
                cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
                if quality.lower_is_better
                else cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
            ),
            # Labels arrive late and in batches: most windows have none. Keep the last verdict.
            cloudwatch.TreatMissingData.IGNORE,
            alarm_name=naming.alarm_name(project, metrics.environment, metrics.model, MODEL_QUALITY_ALARM),
            evaluation_periods=runs,
            datapoints_to_alarm=runs,
        ),
    ]


class ModelAlarms(Construct):
    """Alarms on one model's endpoint and metric contract, and notifications of its failed pipelines and jobs.

    Every alarm and failure event goes to ``topic``; events EventBridge cannot deliver there go to
    ``dead_letter_queue`` (a standard queue, see ``mlops_constructs/dead_letters.py``). ``pipeline_names`` are
    the model's SageMaker pipelines whose failed executions notify; ``monitoring_schedule_names`` (Model Monitor
    only; default none) add a notification of their failed processing jobs. ``drift_alarms`` holds the two named
    alarms the retraining Lambda watches; ``contract`` (default on) off leaves them out, for an endpoint whose
    monitoring publishes no contract metrics. ``quality`` is the model-quality alarm's metric and threshold
    (default AUC below ``settings.min_model_quality``, a binary classifier's).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        project: str,
        metrics: ModelMetrics,
        mode: str,
        settings: AlarmSettings,
        topic: sns.ITopic,
        dead_letter_queue: sqs.IQueue,
        pipeline_names: Sequence[str],
        monitoring_schedule_names: Sequence[str] = (),
        contract: bool = True,
        quality: QualityGate | None = None,
        extra_specs: Sequence[AlarmSpec] = (),
    ) -> None:
        """``extra_specs`` (default none) are alarms of the serving mode (asynchronous queue age and failures)."""
        super().__init__(scope, construct_id)
        self.metrics = metrics
        self.quality = quality or QualityGate(metric="auc", threshold=settings.min_model_quality)
        action = cw_actions.SnsAction(topic)
        self.specs = [
            *endpoint_alarm_specs(metrics, mode, settings),
            *extra_specs,
            *(contract_alarm_specs(project, metrics, settings, self.quality) if contract else ()),
        ]
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        for spec in self.specs:
            alarm = cloudwatch.Alarm(
                self,
                spec.construct_id,
                alarm_name=spec.alarm_name,
                alarm_description=spec.description,
                metric=spec.metric,
                threshold=spec.threshold,
                comparison_operator=spec.comparison,
                treat_missing_data=spec.missing_data,
                evaluation_periods=spec.evaluation_periods,
                datapoints_to_alarm=spec.datapoints_to_alarm,
            )
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)
            self.alarms[spec.construct_id] = alarm
        self.drift_alarms: tuple[cloudwatch.Alarm, ...] = (
            (self.alarms["FeatureDrift"], self.alarms["ModelQuality"]) if contract else ()
        )

        stack = Stack.of(self)

        def arn(resource: str, name: str) -> str:
            # SageMaker lower-cases names in pipeline and schedule ARNs.
            return stack.format_arn(
                service="sagemaker",
                resource=resource,
                resource_name=name.lower(),
                arn_format=ArnFormat.SLASH_RESOURCE_NAME,
            )

        self.pipeline_failed = events.Rule(
            self,
            "PipelineFailed",
            description=f"{metrics.model} ({metrics.environment}): a training, batch or monitoring pipeline failed",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=[PIPELINE_STATUS_DETAIL_TYPE],
                detail={
                    "currentPipelineExecutionStatus": ["Failed"],
                    "pipelineArn": [arn("pipeline", name) for name in pipeline_names],
                },
            ),
        )
        self.pipeline_failed.add_target(
            targets.SnsTopic(
                topic,
                message=events.RuleTargetInput.from_text(
                    f"SageMaker pipeline execution failed: {events.EventField.from_path('$.detail.pipelineArn')} "
                    f"execution {events.EventField.from_path('$.detail.pipelineExecutionArn')}"
                ),
                dead_letter_queue=dead_letter_queue,
            )
        )
        self.monitoring_job_failed: events.Rule | None = None
        if monitoring_schedule_names:
            self.monitoring_job_failed = events.Rule(
                self,
                "MonitoringJobFailed",
                description=f"{metrics.model} ({metrics.environment}): a Model Monitor job failed",
                event_pattern=events.EventPattern(
                    source=["aws.sagemaker"],
                    detail_type=[PROCESSING_JOB_DETAIL_TYPE],
                    detail={
                        "ProcessingJobStatus": ["Failed"],
                        "MonitoringScheduleArn": [
                            arn("monitoring-schedule", name) for name in monitoring_schedule_names
                        ],
                    },
                ),
            )
            self.monitoring_job_failed.add_target(
                targets.SnsTopic(
                    topic,
                    message=events.RuleTargetInput.from_text(
                        f"Model Monitor job failed: {events.EventField.from_path('$.detail.ProcessingJobName')} "
                        f"({events.EventField.from_path('$.detail.FailureReason')})"
                    ),
                    dead_letter_queue=dead_letter_queue,
                )
            )

    @property
    def drift_alarm_names(self) -> tuple[str, ...]:
        """The derived names of the drift and model-quality alarms."""
        # From the specs, not ``alarm.alarm_name``: that is a CloudFormation token, these are plain strings.
        return tuple(spec.alarm_name for spec in self.specs if spec.alarm_name)
