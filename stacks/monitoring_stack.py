"""Monitoring of one served model in one environment: the chosen backend, alarms and a dashboard.

A construct of the model's stack (``stacks.model_stack.ModelStack``), next to the serving it watches; nothing
here is a property of an endpoint-side resource, so a monitoring change never updates the endpoint.

Backends: ``open`` (the drift pipeline), ``model_monitor`` (for accounts that still have Model Monitor) and
``endpoint_only`` (serverless endpoints, which capture no data: endpoint alarms and dashboard only). The two
monitoring backends publish the same metric contract (``mlops_constructs/metric_contract.py``); alarms and the
dashboard read only the contract and the endpoint's own metrics, so switching the backend changes the resources
here and nothing downstream.

Baselines are never looked up at synth and never read across accounts: promotion copies the served package's
baselines into this environment's artifact bucket, and every monitor reads them there, at the keys
``mlops_constructs.promotion.promoted_paths`` decides (the one naming function: the copier writes there too) in
the layout of :data:`BASELINE_FILES`. See docs/monitoring.md.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlops_config import EnvironmentSettings, ModelSettings, PlatformConfig
from mlops_config.monitoring import AlarmSettings, MonitoringSettings, quality_alarm
from mlops_config.serving import ServingSettings
from mlops_constructs import naming
from mlops_constructs.alarms import ModelAlarms
from mlops_constructs.async_endpoint import async_alarm_specs, async_dashboard_row
from mlops_constructs.clarify_config import ServedModelAnalysisConfig
from mlops_constructs.dashboard import ModelDashboard
from mlops_constructs.dead_letters import EventDeadLetters
from mlops_constructs.drift_monitor import DriftMonitorPipeline
from mlops_constructs.lambda_runtime import acknowledge_pinned_runtime
from mlops_constructs.metric_contract import ModelMetrics
from mlops_constructs.model_monitor import (
    ModelMonitorSchedules,
    MonitorBaselines,
    MonitorBridgeFunction,
    MonitorKind,
)
from mlops_constructs.nag import acknowledge, resource_finding
from mlops_constructs.promotion import BASELINE_FILES, KIND_BASELINES, PromotedPaths, package_version, promoted_paths
from mlops_constructs.retraining import AlarmForwarder, retrain_alarm_sources
from mlops_constructs.sagemaker_pipeline import key_arn_from_parameter
from mlops_constructs.shadow import SHADOW_VARIANT_NAME, ShadowComparison
from pipeline_defs.monitoring_settings import MonitoringPipelineSettings
from stacks.data_stack import DataStack

VARIANT_NAME = "AllTraffic"
ENDPOINT_MODES = ("realtime", "serverless", "async", "components")
# BASELINE_FILES (the layout below a promoted version's baselines prefix) and KIND_BASELINES (the baselines each
# Model Monitor kind reads) live with the copier that writes them, in mlops_constructs.promotion.
__all__ = ["BASELINE_FILES", "KIND_BASELINES", "ModelMonitoring", "monitor_kinds"]
PIPELINE_KINDS = ("training", "batch", "monitoring")


def monitor_kinds(settings: MonitoringSettings) -> list[MonitorKind]:
    """The Model Monitor kinds the configuration turns on."""
    flags: list[tuple[bool, MonitorKind]] = [
        (settings.data_quality, "data-quality"),
        (settings.model_quality, "model-quality"),
        (settings.bias, "bias"),
        (settings.explainability, "explainability"),
    ]
    return [kind for enabled, kind in flags if enabled]


def _resolved(settings: MonitoringSettings, mode: str, path: str) -> MonitoringSettings:
    """``settings`` with the backend for ``mode`` (the configuration resolved and checked it already; again here for
    settings built in code); ``ValueError`` naming ``path`` otherwise."""
    try:
        return settings.for_serving_mode(mode)
    except ValueError as error:
        raise ValueError(f"{path}.{error}") from None


class ModelMonitoring(Construct):
    """Drift and quality monitoring, alarms and a dashboard of ``model`` in ``environment``.

    ``serving`` is the model's ModelServing; the endpoint's name, variant and mode come from its ``endpoint``
    (without one they are derived from naming and the configuration, which is what the serving stack uses).
    ``drift_alarms`` / ``drift_alarm_names`` are the named alarms the retraining Lambda watches.
    Baselines are read from the served package's promoted copy (``baseline_paths``), which the serving stack's
    promotion writes; ``package_arn`` is the served package (default: the serving stack's).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PlatformConfig,
        environment: EnvironmentSettings,
        model: ModelSettings,
        data: DataStack,
        serving: Any = None,
        package_arn: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        in_env = model.in_environment(environment.name)
        settings = in_env.monitoring
        endpoint = getattr(serving, "endpoint", None)
        # The Model the endpoint serves now (a ServedModel), when the serving stack is given.
        served_model = getattr(endpoint, "model", None)
        if endpoint is not None:
            endpoint_name, variant_name, mode = endpoint.endpoint_name, endpoint.variant_name, endpoint.mode
        else:
            derived = naming.served_endpoint_name(
                config.project, environment.name, model.name, in_env.serving, environment.inference_components
            )
            endpoint_name = derived or ""  # mode "none" is refused just below
            variant_name, mode = VARIANT_NAME, in_env.serving.mode
        if mode not in ENDPOINT_MODES:
            raise ValueError(
                f"ModelMonitoring {model.name} ({environment.name}): serving mode {mode!r} has no endpoint to "
                f"monitor; allowed: {', '.join(ENDPOINT_MODES)}"
            )
        self.mode: str = mode
        settings = _resolved(settings, mode, f"models[{model.name}].environments.{environment.name}.monitoring")
        self.backend = settings.backend
        self.metrics = ModelMetrics(
            model=model.name,
            environment=environment.name,
            endpoint_name=endpoint_name,
            variant_name=variant_name,
            # A model served as an inference component reports under its component's name.
            inference_component_name=getattr(endpoint, "component_name", None)
            or (
                naming.inference_component_name(config.project, environment.name, model.name)
                if mode == "components"
                else None
            ),
        )
        self.pipeline_names = [
            naming.pipeline_name(config.project, environment.name, model.name, kind) for kind in PIPELINE_KINDS
        ]
        package_arn = package_arn or getattr(serving, "package_arn", None)
        if package_arn is None:
            raise ValueError(
                f"ModelMonitoring {model.name} ({environment.name}): no served package; monitoring reads the "
                "baselines of the package promoted into this environment"
            )
        self.baseline_paths: PromotedPaths = promoted_paths(model.name, package_version(package_arn))
        baseline_prefix = self.baseline_paths.baselines_prefix
        vpc = environment.vpc

        self.drift_pipeline: DriftMonitorPipeline | None = None
        self.model_monitor: ModelMonitorSchedules | None = None
        self.bridge: MonitorBridgeFunction | None = None
        self.explainability_config: ServedModelAnalysisConfig | None = None
        if settings.backend == "open":
            self.drift_pipeline_settings = MonitoringPipelineSettings(
                pipeline_name=naming.pipeline_name(config.project, environment.name, model.name, "monitoring"),
                region=environment.region,
                model=model.name,
                environment=environment.name,
                endpoint_name=endpoint_name,
                variant_name=variant_name,
                # A shadow test's candidate is captured under its own variant: the drift job compares its outputs.
                shadow_variant_name=(
                    SHADOW_VARIANT_NAME if mode == "realtime" and in_env.serving.realtime.shadow is not None else None
                ),
                capture_prefix=f"{model.name}/",
                baseline_prefix=baseline_prefix,
                ground_truth_prefix=settings.ground_truth_prefix_for(model.name),
                target_column=settings.target_column,
                problem_type=model.problem_type,
                categorical_features=settings.categorical_features,
                psi_threshold=settings.psi_threshold,
                p_value_threshold=settings.p_value_threshold,
                instance_type=settings.instance_type,
                instance_count=settings.instance_count,
                publish_instance_type=settings.publish_instance_type,
                subnet_ids=vpc.subnet_ids if vpc else (),
                security_group_ids=vpc.security_group_ids if vpc else (),
            )
            self.drift_pipeline = DriftMonitorPipeline(
                self,
                "DriftMonitor",
                settings=self.drift_pipeline_settings,
                schedule_expression=settings.schedule,
                capture_bucket=data.capture_bucket,
                artifact_bucket=data.artifact_bucket,
                monitoring_bucket=data.monitoring_bucket,
                key=data.key,
                definition_key_arn=key_arn_from_parameter(self, data.key_arn_parameter_name, written_by=data),
            )
            self._acknowledge_drift_pipeline(data, self.drift_pipeline_settings)
        elif settings.backend == "model_monitor":
            kinds = monitor_kinds(settings)

            def uri(name: str) -> str:
                # Promotion copied the package's baselines here and refused to promote a package lacking one an
                # enabled kind needs (mlops_constructs.promotion.required_baselines).
                return self._object_url(data.artifact_bucket, self.baseline_paths.baseline_key(name))

            report_prefix = f"{model.name}/model-monitor/"
            if "explainability" in kinds and served_model is not None:
                # Clarify's analysis config names the served Model, which every approval replaces under a new name.
                self.explainability_config = self._served_model_analysis_config(
                    data,
                    environment=environment,
                    model=model,
                    source_key=self.baseline_paths.baseline_key("explainability_config"),
                    model_name=served_model.model_name,
                )
            self.model_monitor = ModelMonitorSchedules(
                self,
                "ModelMonitor",
                endpoint_name=endpoint_name,
                schedule_expression=settings.schedule,
                baselines=MonitorBaselines(
                    data_statistics_uri=uri("data_statistics"),
                    data_constraints_uri=uri("data_constraints"),
                    model_quality_constraints_uri=uri("model_quality_constraints"),
                    bias_config_uri=uri("bias_config"),
                    bias_constraints_uri=uri("bias_constraints"),
                    explainability_config_uri=(
                        self.explainability_config.config_uri
                        if self.explainability_config
                        else uri("explainability_config")
                    ),
                    explainability_constraints_uri=uri("explainability_constraints"),
                ),
                capture_bucket=data.capture_bucket,
                baseline_bucket=data.artifact_bucket,
                output_bucket=data.monitoring_bucket,
                output_prefix=report_prefix,
                key=data.key,
                ground_truth_uri=self._object_url(data.capture_bucket, settings.ground_truth_prefix_for(model.name)),
                kinds=kinds,
                instance_type=settings.instance_type,
                instance_count=settings.instance_count,
                start_time_offset=settings.start_time_offset,
                end_time_offset=settings.end_time_offset,
                subnet_ids=vpc.subnet_ids if vpc else (),
                security_group_ids=vpc.security_group_ids if vpc else (),
                problem_type=model.problem_type,
                served_model_arn=served_model.resource.attr_model_arn if served_model is not None else None,
                capture_prefix=f"{model.name}/",
                ground_truth_prefix=settings.ground_truth_prefix_for(model.name),
                baseline_prefix=self.baseline_paths.baselines_prefix,
                explainability_config_pattern=f"{model.name}/clarify/explainability/*",
            )
            self.bridge = MonitorBridgeFunction(
                self,
                "MonitorBridge",
                model=model.name,
                environment=environment.name,
                endpoint_name=endpoint_name,
                features=settings.features,
                report_bucket=data.monitoring_bucket,
                report_prefix=report_prefix,
                key=data.key,
                log_retention_days=environment.log_retention_days,
                alarm_topic=data.topic,
                reserved_concurrency=settings.bridge_reserved_concurrency,
                removal_policy=RemovalPolicy.RETAIN if environment.retain_data else RemovalPolicy.DESTROY,
            )
            self._acknowledge_model_monitor(data, report_prefix)
            if self.explainability_config is not None:
                self.model_monitor.job_definitions["explainability"].node.add_dependency(
                    self.explainability_config.resource
                )

        # One dead-letter queue for every EventBridge target of this stack (failure notifications, forwarded alarms).
        self.dead_letters = EventDeadLetters(
            self,
            "EventDeadLetters",
            key=data.key,
            purpose=f"failure notifications and forwarded alarms of {model.name}",
            alarm_topic=data.topic,
            removal_policy=RemovalPolicy.RETAIN if environment.retain_data else RemovalPolicy.DESTROY,
        )
        self.alarms = ModelAlarms(
            self,
            "Alarms",
            project=config.project,
            metrics=self.metrics,
            mode=mode,
            settings=settings.alarms,
            topic=data.topic,
            dead_letter_queue=self.dead_letters.queue,
            pipeline_names=self.pipeline_names,
            monitoring_schedule_names=self.model_monitor.schedule_names if self.model_monitor else (),
            # Endpoint-only monitoring publishes no drift or quality: no alarms on them, none for retraining.
            contract=settings.backend != "endpoint_only",
            quality=quality_alarm(model.problem_type, settings.alarms, model.quality_gate),
            extra_specs=(
                async_alarm_specs(
                    self.metrics,
                    in_env.serving.async_inference.alarms,
                    period=Duration.seconds(settings.alarms.period_seconds),
                    evaluation_periods=settings.alarms.evaluation_periods,
                    datapoints_to_alarm=settings.alarms.datapoints_to_alarm,
                )
                if mode == "async"
                else ()
            ),
        )
        mode_rows = self._mode_rows(in_env.serving, endpoint_name, data, settings.alarms)
        self.drift_alarms = self.alarms.drift_alarms
        self.drift_alarm_names = self.alarms.drift_alarm_names
        self.dashboard = ModelDashboard(
            self,
            "Dashboard",
            dashboard_name=naming.dashboard_name(config.project, environment.name, model.name),
            metrics=self.metrics,
            alarms=self.alarms,
            mode=mode,
            pipeline_names=self.pipeline_names,
            monitoring_period=Duration.seconds(settings.alarms.monitoring_period_seconds),
            quality_metrics=model.quality_metrics,
            extra_rows=mode_rows,
        )
        self.alarm_forwarder = self._forward_drift_alarms_to_training(config, environment, model)

    def _mode_rows(
        self, serving: ServingSettings, endpoint_name: str, data: DataStack, alarms: AlarmSettings
    ) -> list[list[cloudwatch.IWidget]]:
        """Dashboard rows of the serving mode: an asynchronous endpoint's queue, a shadow test's comparison."""
        period = Duration.seconds(alarms.period_seconds)
        rows: list[list[cloudwatch.IWidget]] = []
        if self.mode == "async":
            rows.append(async_dashboard_row(self.metrics, self.alarms, period))
        shadow = serving.realtime.shadow
        self.shadow_comparison: ShadowComparison | None = None
        if self.mode == "realtime" and shadow is not None:
            self.shadow_comparison = ShadowComparison(
                self,
                "ShadowComparison",
                endpoint_name=endpoint_name,
                settings=shadow,
                topic=data.topic,
                period=period,
                evaluation_periods=alarms.evaluation_periods,
                datapoints_to_alarm=alarms.datapoints_to_alarm,
                # Only the open backend's drift job compares the two variants' captured predictions.
                prediction_drift=(
                    self.metrics.shadow_prediction_drift(Duration.seconds(alarms.monitoring_period_seconds))
                    if self.backend == "open"
                    else None
                ),
                drift_evaluation_periods=alarms.monitoring_evaluation_periods,
            )
            rows.append(self.shadow_comparison.widgets)
        return rows

    def _forward_drift_alarms_to_training(
        self, config: PlatformConfig, environment: EnvironmentSettings, model: ModelSettings
    ) -> AlarmForwarder | None:
        """Drift here retrains in the registry environment, in its own account: send it these alarms."""
        if environment.name == config.registry_environment:
            return None
        sources = [
            source
            for source in retrain_alarm_sources(config, model, config.registry_environment)
            if source.environment == environment.name
        ]
        if not sources:
            return None
        return AlarmForwarder(
            self,
            "ForwardDriftAlarms",
            alarm_names=sources[0].alarm_names,
            target_account=config.registry.account,
            target_region=config.registry.region,
            dead_letter_queue=self.dead_letters.queue,
        )

    def _served_model_analysis_config(
        self,
        data: DataStack,
        *,
        environment: EnvironmentSettings,
        model: ModelSettings,
        source_key: str,
        model_name: str,
    ) -> ServedModelAnalysisConfig:
        """The promoted explainability analysis config (``source_key`` of this environment's artifact bucket),
        rewritten for the served model at every deploy that changes it, in the reports bucket
        (``<model>/clarify/explainability/analysis_config.json``)."""
        target_key = f"{model.name}/clarify/explainability/analysis_config.json"
        writer = ServedModelAnalysisConfig(
            self,
            "ExplainabilityConfig",
            source_bucket=data.artifact_bucket,
            source_key=source_key,
            target_bucket=data.monitoring_bucket,
            target_key=target_key,
            key=data.key,
            model_name=model_name,
            log_retention_days=environment.log_retention_days,
        )
        acknowledge(
            writer.role,
            "AwsSolutions-IAM5",
            "S3 and KMS grant methods on exactly the source analysis config and the one object written (their action "
            "wildcards), and the KMS data-key actions on the one environment key.",
            applies_to=[
                "Action::s3:GetObject*",
                "Action::s3:GetBucket*",
                "Action::s3:List*",
                "Action::kms:GenerateDataKey*",
                "Action::kms:ReEncrypt*",
            ],
        )
        acknowledge_pinned_runtime(writer.function)
        return writer

    @staticmethod
    def _object_url(bucket: s3.IBucket, key: str) -> str:
        return bucket.s3_url_for_object(key)

    def _resource(self, arn: str) -> str:
        return resource_finding(self, arn)

    def _common_wildcards(self) -> list[str]:
        """Findings every SageMaker job role here has: job logs, AWS image pulls, the untargetable APIs."""
        return [
            "Resource::*",
            self._resource(
                Stack.of(self).format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name="/aws/sagemaker/ProcessingJobs:log-stream:*",
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            ),
        ]

    def _sagemaker(self, resource: str, name: str) -> str:
        return self._resource(
            Stack.of(self).format_arn(
                service="sagemaker", resource=resource, resource_name=name, arn_format=ArnFormat.SLASH_RESOURCE_NAME
            )
        )

    def _acknowledge_drift_pipeline(self, data: DataStack, settings: MonitoringPipelineSettings) -> None:
        assert self.drift_pipeline is not None
        pipeline = self.drift_pipeline
        acknowledge(
            pipeline.role,
            "AwsSolutions-IAM5",
            "S3 and KMS grant methods scoped to this model's prefixes (captured data and labels, promoted baselines, "
            "drift reports) and the CDK asset objects of the two step scripts, plus the KMS data-key actions on the "
            "one environment key.",
            applies_to=[
                "Action::s3:GetObject*",
                "Action::s3:GetBucket*",
                "Action::s3:List*",
                "Action::kms:GenerateDataKey*",
                "Action::kms:ReEncrypt*",
                self._resource(data.capture_bucket.arn_for_objects(f"{settings.capture_prefix}*")),
                self._resource(data.artifact_bucket.arn_for_objects(f"{settings.baseline_prefix}*")),
                self._resource(data.monitoring_bucket.arn_for_objects(f"{settings.model}/drift/*")),
            ],
        )
        acknowledge(
            pipeline.role,
            "AwsSolutions-IAM5",
            "Processing jobs get generated names at run time and log to /aws/sagemaker/ProcessingJobs streams; "
            "ecr:GetAuthorizationToken has no resource.",
            applies_to=[*self._common_wildcards(), self._sagemaker("processing-job", "*")],
        )
        acknowledge(
            pipeline.publish_role,
            "AwsSolutions-IAM5",
            "S3 read grant on this model's drift reports only (keys generated per execution) and the KMS data-key "
            "actions on the one environment key; job logs go to /aws/sagemaker/ProcessingJobs streams; "
            "ecr:GetAuthorizationToken has no resource and cloudwatch:PutMetricData has none either (limited to the "
            "metric contract's namespace by condition).",
            applies_to=[
                "Action::s3:GetObject*",
                "Action::s3:GetBucket*",
                "Action::s3:List*",
                "Action::kms:GenerateDataKey*",
                "Action::kms:ReEncrypt*",
                self._resource(data.monitoring_bucket.arn_for_objects(f"{settings.model}/drift/*")),
                *self._common_wildcards(),
            ],
        )
        acknowledge(
            pipeline.scheduler_role,
            "AwsSolutions-IAM5",
            "StartPipelineExecution and DescribePipelineExecution name executions by generated IDs under this one "
            "pipeline's ARN.",
            applies_to=[self._sagemaker("pipeline", f"{settings.pipeline_name.lower()}/execution/*")],
        )

    def _acknowledge_model_monitor(self, data: DataStack, report_prefix: str) -> None:
        assert self.model_monitor is not None and self.bridge is not None
        for role in (self.model_monitor.role, self.model_monitor.explainability_role):
            if role is None:
                continue
            acknowledge(
                role,
                "AwsSolutions-IAM5",
                "S3 and KMS grant methods: Model Monitor reads the endpoint's capture folders and labels (its own "
                "date-partitioned layout) and the baselines under their prefixes, writes reports under its own "
                "prefix; KMS data-key actions on the one environment key.",
                applies_to=[
                    "Action::s3:GetObject*",
                    "Action::s3:GetBucket*",
                    "Action::s3:List*",
                    "Action::kms:GenerateDataKey*",
                    "Action::kms:ReEncrypt*",
                    self._resource(data.capture_bucket.arn_for_objects(f"{self.model_monitor.capture_prefix}*")),
                    self._resource(data.artifact_bucket.arn_for_objects(f"{self.model_monitor.baseline_prefix}*")),
                    self._resource(data.monitoring_bucket.arn_for_objects(f"{report_prefix}*")),
                    self._resource(data.monitoring_bucket.arn_for_objects(f"{report_prefix}explainability*")),
                    self._resource(
                        data.monitoring_bucket.arn_for_objects(self.model_monitor.explainability_config_pattern)
                    ),
                ],
            )
        for role in (self.model_monitor.role, self.model_monitor.explainability_role):
            if role is None:
                continue
            acknowledge(
                role,
                "AwsSolutions-IAM5",
                "Model Monitor jobs log to /aws/sagemaker/ProcessingJobs streams; Clarify's shadow endpoint and its "
                "endpoint config get generated names with Clarify's sm-clarify- prefix (created and deleted per run); "
                "ecr:GetAuthorizationToken has no resource.",
                applies_to=[
                    *self._common_wildcards(),
                    self._sagemaker("endpoint", "sm-clarify-*"),
                    self._sagemaker("endpoint-config", "sm-clarify-*"),
                ],
            )
        acknowledge(
            self.bridge.role,
            "AwsSolutions-IAM5",
            "Reads only this model's Model Monitor reports (its prefix), whose keys Model Monitor generates per run; "
            "cloudwatch:PutMetricData has no resource and is limited to the metric contract's namespace.",
            applies_to=[
                "Action::s3:GetObject*",
                "Action::s3:GetBucket*",
                "Action::s3:List*",
                "Resource::*",
                self._resource(data.monitoring_bucket.arn_for_objects(f"{report_prefix}*")),
            ],
        )
        acknowledge_pinned_runtime(self.bridge.function)
