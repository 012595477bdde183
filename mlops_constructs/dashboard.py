"""One CloudWatch dashboard per model and environment, built from the same metric definitions as the alarms."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from mlops_constructs.alarms import ModelAlarms
from mlops_constructs.metric_contract import FEATURE_DRIFT, FEATURE_DRIFT_SCORE, ModelMetrics

# Quality metric names in widget titles.
_TITLES = {"auc": "AUC", "accuracy": "accuracy", "f1": "F1", "rmse": "RMSE", "mae": "MAE", "r2": "R2"}
# Scores between 0 and 1 share a fixed axis; errors are in the target's unit, and R2 has no lower bound.
_UNIT_RANGE = frozenset({"auc", "accuracy", "f1"})
_WIDTH = 24
_HALF = 12
_HEIGHT = 6


class ModelDashboard(Construct):
    """Invocations, errors, latency, drift per feature, quality and pipeline executions of one model.

    ``dashboard_name`` is required so operators find it; the widgets take ``alarms``' metrics as they are, so
    what the dashboard shows is what the alarms evaluate. Per-feature drift is drawn for every feature the
    backend reports; ``pipeline_names`` drive the execution widget. ``quality_metrics`` are the model's quality
    metrics (``ModelSettings.quality_metrics``, default a binary classifier's): the alarmed one gets the alarm
    widget, the others one graph beside it. No account or region appears: widgets
    default to the stack's.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dashboard_name: str,
        metrics: ModelMetrics,
        alarms: ModelAlarms,
        mode: str,
        pipeline_names: Sequence[str],
        monitoring_period: Duration,
        quality_metrics: Sequence[str] = ("auc", "accuracy", "f1"),
        extra_rows: Sequence[Sequence[cloudwatch.IWidget]] = (),
    ) -> None:
        """``extra_rows`` (default none) follow the latency row: the serving mode's own (queue, shadow test)."""
        super().__init__(scope, construct_id)
        specs = {spec.construct_id: spec for spec in alarms.specs}
        endpoint_period = specs["Endpoint5xxErrors"].metric
        assert isinstance(endpoint_period, cloudwatch.Metric)
        period = endpoint_period.period

        def alarm_widget(alarm_id: str, title: str, width: int = _HALF) -> cloudwatch.AlarmWidget:
            return cloudwatch.AlarmWidget(alarm=alarms.alarms[alarm_id], title=title, width=width, height=_HEIGHT)

        traffic = [
            cloudwatch.GraphWidget(
                title="Invocations",
                left=[metrics.endpoint_metric("Invocations", statistic="Sum", period=period)],
                width=_HALF,
                height=_HEIGHT,
            ),
            cloudwatch.GraphWidget(
                title="Errors",
                left=[
                    specs["Endpoint5xxErrors"].metric,
                    metrics.endpoint_metric("Invocation4XXErrors", statistic="Sum", period=period),
                ],
                right=[specs["EndpointInvocationErrorRate"].metric] if "EndpointInvocationErrorRate" in specs else [],
                width=_HALF,
                height=_HEIGHT,
            ),
        ]
        latency: list[cloudwatch.IWidget] = [alarm_widget("EndpointModelLatencyP99", "Model latency p99 (us)")]
        if mode == "serverless":
            latency.append(alarm_widget("EndpointModelSetupTime", "Serverless model setup time (us)"))
        elif "EndpointInvocationErrorRate" in alarms.alarms:
            latency.append(alarm_widget("EndpointInvocationErrorRate", "Invocation error rate (%)"))
        else:
            latency.append(alarm_widget("Endpoint5xxErrors", "5XX errors"))
        # Without contract alarms (endpoint-only monitoring) nothing publishes drift or quality: endpoint rows only.
        monitoring_rows: list[list[cloudwatch.IWidget]] = []
        if "FeatureDrift" in alarms.alarms:
            drift: list[cloudwatch.IWidget] = [
                alarm_widget("FeatureDrift", "Drifted features"),
                cloudwatch.GraphWidget(
                    title="Captured records analysed",
                    left=[metrics.captured_records(monitoring_period)],
                    width=_HALF,
                    height=_HEIGHT,
                ),
            ]
            # Per-feature series come from a SEARCH over the contract, not one metric per configured feature: the
            # widgets stay two, and small, however many features a model has.
            per_feature: list[cloudwatch.IWidget] = [
                cloudwatch.GraphWidget(
                    title="Drift score per feature",
                    left=[metrics.every_feature(FEATURE_DRIFT_SCORE, monitoring_period)],
                    width=_HALF,
                    height=_HEIGHT,
                ),
                cloudwatch.GraphWidget(
                    title="Drifted (1) per feature",
                    left=[metrics.every_feature(FEATURE_DRIFT, monitoring_period)],
                    width=_HALF,
                    height=_HEIGHT,
                    stacked=True,
                ),
            ]
            quality: list[cloudwatch.IWidget] = [
                alarm_widget("ModelQuality", f"Model {_TITLES[alarms.quality.metric]} on labelled traffic"),
                self._other_quality(metrics, alarms.quality.metric, quality_metrics, monitoring_period),
            ]
            monitoring_rows = [drift, *[per_feature[i : i + 2] for i in range(0, len(per_feature), 2)], quality]
        pipelines = cloudwatch.GraphWidget(
            title="Pipeline executions",
            left=[
                metrics.pipeline_metric(name, kind, monitoring_period)
                for name in pipeline_names
                for kind in ("ExecutionSucceeded", "ExecutionFailed")
            ],
            width=_WIDTH,
            height=_HEIGHT,
        )
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=dashboard_name,
            default_interval=Duration.days(1),
            widgets=[
                [
                    cloudwatch.TextWidget(
                        markdown=f"# {dashboard_name}\nEndpoint `{metrics.endpoint_name}`", width=_WIDTH, height=2
                    )
                ],
                traffic,
                latency,
                *[list(row) for row in extra_rows],
                *monitoring_rows,
                [pipelines],
            ],
        )

    @staticmethod
    def _other_quality(
        metrics: ModelMetrics, alarmed: str, quality_metrics: Sequence[str], period: Duration
    ) -> cloudwatch.GraphWidget:
        others = [name for name in quality_metrics if name != alarmed]
        bounded = all(name in _UNIT_RANGE for name in others)
        title = " and ".join(_TITLES[name] for name in others) if others else "Quality"
        return cloudwatch.GraphWidget(
            title=title[:1].upper() + title[1:],
            left=[metrics.model_quality(name, period) for name in others],
            left_y_axis=cloudwatch.YAxisProps(min=0, max=1) if bounded else None,
            width=_HALF,
            height=_HEIGHT,
        )
