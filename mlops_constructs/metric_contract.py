"""The metric contract on the CDK side: ``cloudwatch.Metric`` builders for alarms, dashboards and retraining.

The names live once, in ``pipeline_defs/steps/metric_contract.py`` (dependency-free, so the drift job and the
bridge Lambda run the same file); this module imports them and adds what CDK needs. Alarms and dashboards read
only these metrics, never a backend's own (``aws/sagemaker/Endpoints/data-metrics`` and friends).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam

from mlops_config.model_kind import LOWER_IS_BETTER
from pipeline_defs.steps import metric_contract as contract

NAMESPACE = contract.NAMESPACE
DIMENSION_MODEL = contract.MODEL
DIMENSION_ENVIRONMENT = contract.ENVIRONMENT
DIMENSION_ENDPOINT = contract.ENDPOINT
DIMENSION_FEATURE = contract.FEATURE
DRIFTED_FEATURES = contract.DRIFTED_FEATURES
FEATURE_DRIFT = contract.FEATURE_DRIFT
FEATURE_DRIFT_SCORE = contract.FEATURE_DRIFT_SCORE
CAPTURED_RECORDS = contract.CAPTURED_RECORDS
MODEL_AUC = contract.MODEL_AUC
MODEL_ACCURACY = contract.MODEL_ACCURACY
MODEL_F1 = contract.MODEL_F1
MODEL_RMSE = contract.MODEL_RMSE
MODEL_MAE = contract.MODEL_MAE
MODEL_R2 = contract.MODEL_R2
SHADOW_PREDICTION_DRIFT = contract.SHADOW_PREDICTION_DRIFT
QUALITY_METRICS = contract.QUALITY_METRICS
METRICS = contract.METRICS

# Errors: lower is better, so the worst run of a period is its maximum.
ERROR_METRICS = LOWER_IS_BETTER

# The endpoint's own metrics (AWS/SageMaker, per variant); latencies are reported in microseconds.
SAGEMAKER_NAMESPACE = "AWS/SageMaker"
PIPELINE_NAMESPACE = "AWS/Sagemaker/ModelBuildingPipeline"


def grant_put_metric_data(grantee: iam.IGrantable) -> iam.Grant:
    """Let ``grantee`` put metrics into the contract's namespace only (PutMetricData has no resource ARN)."""
    return iam.Grant.add_to_principal(
        grantee=grantee,
        actions=["cloudwatch:PutMetricData"],
        resource_arns=["*"],
        conditions={"StringEquals": {"cloudwatch:namespace": NAMESPACE}},
    )


@dataclass(frozen=True)
class ModelMetrics:
    """The contract metrics of one model's endpoint in one environment, and the endpoint's own metrics."""

    model: str
    environment: str
    endpoint_name: str
    variant_name: str = "AllTraffic"
    inference_component_name: str | None = None
    """Set for a model served as an inference component: its endpoint metrics carry that dimension instead."""

    def _dimensions(self, feature: str | None = None) -> dict[str, str]:
        dimensions = {
            DIMENSION_MODEL: self.model,
            DIMENSION_ENVIRONMENT: self.environment,
            DIMENSION_ENDPOINT: self.endpoint_name,
        }
        if feature is not None:
            dimensions[DIMENSION_FEATURE] = feature
        return dimensions

    def contract_metric(
        self, metric_name: str, *, statistic: str, period: Duration, feature: str | None = None
    ) -> cloudwatch.Metric:
        """A metric of the contract; ``feature`` exactly where the contract says the metric has one."""
        if metric_name not in METRICS:
            raise ValueError(f"{metric_name!r} is not a contract metric; allowed: {', '.join(sorted(METRICS))}")
        needs_feature = DIMENSION_FEATURE in METRICS[metric_name][0]
        if needs_feature != (feature is not None):
            raise ValueError(f"{metric_name} {'needs' if needs_feature else 'takes no'} feature")
        return cloudwatch.Metric(
            namespace=NAMESPACE,
            metric_name=metric_name,
            dimensions_map=self._dimensions(feature),
            statistic=statistic,
            period=period,
            label=f"{metric_name} {feature}" if feature else metric_name,
        )

    def every_feature(self, metric_name: str, period: Duration) -> cloudwatch.MathExpression:
        """``metric_name`` of every feature of this endpoint: one CloudWatch SEARCH over the contract's schema.

        One expression whatever the number of features, so a dashboard needs no feature list and stays small; each
        series is labelled with its feature.
        """
        dimensions, _, _ = METRICS[metric_name]
        if DIMENSION_FEATURE not in dimensions:
            raise ValueError(f"{metric_name} has no {DIMENSION_FEATURE} dimension")
        schema = ",".join((NAMESPACE, *dimensions))
        filters = " ".join(f'{name}="{value}"' for name, value in self._dimensions().items())
        seconds = int(period.to_seconds())
        return cloudwatch.MathExpression(
            expression=f"SEARCH('{{{schema}}} MetricName=\"{metric_name}\" {filters}', 'Maximum', {seconds})",
            label="${PROP('Dim.Feature')}",
            period=period,
        )

    def drifted_features(self, period: Duration) -> cloudwatch.Metric:
        """How many features drifted in a monitoring run (maximum over the period)."""
        return self.contract_metric(DRIFTED_FEATURES, statistic="Maximum", period=period)

    def feature_drift(self, feature: str, period: Duration) -> cloudwatch.Metric:
        """1 when ``feature`` drifted in a run (maximum over the period)."""
        return self.contract_metric(FEATURE_DRIFT, statistic="Maximum", period=period, feature=feature)

    def feature_drift_score(self, feature: str, period: Duration) -> cloudwatch.Metric:
        """The size of ``feature``'s drift (maximum over the period)."""
        return self.contract_metric(FEATURE_DRIFT_SCORE, statistic="Maximum", period=period, feature=feature)

    def captured_records(self, period: Duration) -> cloudwatch.Metric:
        """Captured records analysed (sum over the period)."""
        return self.contract_metric(CAPTURED_RECORDS, statistic="Sum", period=period)

    def model_auc(self, period: Duration) -> cloudwatch.Metric:
        """ROC AUC on labelled traffic (minimum over the period: the worst run counts)."""
        return self.contract_metric(MODEL_AUC, statistic="Minimum", period=period)

    def model_accuracy(self, period: Duration) -> cloudwatch.Metric:
        """Accuracy on labelled traffic (minimum over the period)."""
        return self.contract_metric(MODEL_ACCURACY, statistic="Minimum", period=period)

    def model_f1(self, period: Duration) -> cloudwatch.Metric:
        """F1 on labelled traffic (minimum over the period)."""
        return self.contract_metric(MODEL_F1, statistic="Minimum", period=period)

    def model_quality(self, metric: str, period: Duration) -> cloudwatch.Metric:
        """Quality ``metric`` (a configuration name: ``auc``, ``rmse``, ...) on labelled traffic over the period.

        The worst run counts: the minimum of a score, the maximum of an error (``rmse``, ``mae``).
        """
        if metric not in QUALITY_METRICS:
            raise ValueError(f"{metric!r} is not a quality metric; allowed: {', '.join(QUALITY_METRICS)}")
        worst = "Maximum" if metric in ERROR_METRICS else "Minimum"
        return self.contract_metric(QUALITY_METRICS[metric], statistic=worst, period=period)

    def shadow_prediction_drift(self, period: Duration) -> cloudwatch.Metric:
        """PSI of the shadow variant's predictions against production's (maximum over the period)."""
        return self.contract_metric(SHADOW_PREDICTION_DRIFT, statistic="Maximum", period=period)

    def endpoint_metric(self, metric_name: str, *, statistic: str, period: Duration) -> cloudwatch.Metric:
        """A metric of the endpoint's variant (or of the model's inference component) in ``AWS/SageMaker``."""
        return cloudwatch.Metric(
            namespace=SAGEMAKER_NAMESPACE,
            metric_name=metric_name,
            dimensions_map=(
                {"InferenceComponentName": self.inference_component_name}
                if self.inference_component_name
                else {"EndpointName": self.endpoint_name, "VariantName": self.variant_name}
            ),
            statistic=statistic,
            period=period,
        )

    def pipeline_metric(self, pipeline_name: str, metric_name: str, period: Duration) -> cloudwatch.Metric:
        """A SageMaker pipeline's execution count metric (``ExecutionStarted``, ``ExecutionFailed``, ...)."""
        return cloudwatch.Metric(
            namespace=PIPELINE_NAMESPACE,
            metric_name=metric_name,
            dimensions_map={"PipelineName": pipeline_name},
            statistic="Sum",
            period=period,
            label=f"{pipeline_name} {metric_name}",
        )
