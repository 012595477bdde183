"""Serving of one model in one environment: its endpoint and/or its batch inference.

The endpoint is real-time or serverless here; asynchronous endpoints, shadow tests and inference components are
built by ``stacks/serving_modes.py``.

A construct of the model's stack (``stacks.model_stack.ModelStack``), where it has the construct ID ``Default``:
every resource keeps the logical ID it had when serving was a stack of its own.

Only created once a model package is approved for the environment (or pinned in the configuration). The
package is first promoted: copied, verified, into this environment's own models bucket
(``mlops_constructs.promotion``); the Model and the batch pipeline read only that copy, so nothing here reads the
registry's account at run time. A new approved version changes the Model and EndpointConfig (replaced,
CloudFormation-named) and updates the same endpoint in place, blue/green, with automatic rollback on the
endpoint's alarms. Lineage (package, artifact hash, copy location) is in the stack outputs and the endpoint's tags.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import ArnFormat, Duration, Stack, Tags
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from mlops_config import EnvironmentSettings, PlatformConfig
from mlops_config.platform import ModelSettings
from mlops_config.serving import overlapping
from mlops_constructs import naming
from mlops_constructs.async_endpoint import AsyncEndpoint
from mlops_constructs.batch import BatchInference
from mlops_constructs.endpoint import (
    Endpoint,
    ModelArtifactSource,
    ServedModel,
    ServerlessEndpoint,
    supports_volume_kms,
)
from mlops_constructs.inference_components import ModelInferenceComponent
from mlops_constructs.nag import acknowledge, resource_finding
from mlops_constructs.promotion import ModelPromotion, RegistrySource, required_baselines
from mlops_constructs.sagemaker_pipeline import key_arn_from_parameter
from mlops_constructs.shadow import ShadowVariant
from pipeline_defs.batch_settings import BatchPipelineSettings, render_batch_definition
from stacks import serving_modes
from stacks.data_stack import DataStack
from stacks.monitoring_stack import monitor_kinds


class ModelServing(Construct):
    """The endpoint (``endpoint``, or None) and batch inference (``batch_pipeline``, or None) of ``model``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PlatformConfig,
        environment: EnvironmentSettings,
        model: ModelSettings,
        data: DataStack,
        package_arn: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self._data = data
        serving = model.in_environment(environment.name).serving
        self.package_arn = package_arn
        self.mode = serving.mode
        monitoring = model.in_environment(environment.name).monitoring
        monitored_kinds = (
            monitor_kinds(monitoring)
            if monitoring.enabled and monitoring.backend == "model_monitor" and serving.mode in ("realtime", "async")
            else []
        )
        self.promotion = ModelPromotion(
            self,
            "Promotion",
            project=config.project,
            environment=environment.name,
            model=model.name,
            package_arn=package_arn,
            bucket=data.artifact_bucket,
            key=data.key,
            registry=self._registry_source(config, environment, data),
            required=required_baselines(monitored_kinds),
            image=model.images.serving,
            log_retention_days=environment.log_retention_days,
        )
        self.promotion.add_outputs(self)
        artifact = self.promotion.artifact

        self.endpoint: Endpoint | AsyncEndpoint | ModelInferenceComponent | None = None
        self.shadow: ShadowVariant | None = None
        endpoint_name = naming.served_endpoint_name(
            config.project, environment.name, model.name, serving, environment.inference_components
        )
        if endpoint_name is not None:
            if serving.mode == "realtime" and serving.realtime.shadow is not None:
                # A shadow test: the approved package shadows the configured production one (stacks/serving_modes.py).
                self.endpoint, self.shadow = serving_modes.shadow_tested_endpoint(
                    self,
                    endpoint_name=endpoint_name,
                    model=model,
                    environment=environment,
                    serving=serving,
                    promotion=self.promotion,
                    candidate=artifact,
                    data=data,
                )
                served = self.endpoint.model
                self._acknowledge_common(self.shadow.candidate)
            else:
                served = ServedModel(
                    self,
                    "Model",
                    artifact=artifact,
                    # Serverless endpoints support neither network isolation nor a VPC.
                    network_isolation=serving.mode != "serverless",
                    vpc=environment.vpc if serving.mode != "serverless" else None,
                    image=model.images.serving,
                )
            if serving.mode == "async":
                self.endpoint = serving_modes.async_endpoint(
                    self, endpoint_name=endpoint_name, model=model, served=served, serving=serving, data=data
                )
            elif serving.mode == "components":
                self.endpoint = serving_modes.inference_component(
                    self, project=config.project, environment=environment, model=model, served=served, serving=serving
                )
            elif serving.mode == "realtime" and self.shadow is None:
                self.endpoint = serving_modes.realtime_endpoint(
                    self, endpoint_name=endpoint_name, model=model, served=served, serving=serving, data=data
                )
            elif serving.mode == "serverless":
                self.endpoint = ServerlessEndpoint(
                    self,
                    "Endpoint",
                    endpoint_name=endpoint_name,
                    model=served,
                    settings=serving.serverless,
                    rollback=serving.rollback_alarms,
                )
            # The name follows the endpoint's shape (naming.endpoint_shape); clients look the current one up here.
            self.endpoint_name_parameter = ssm.StringParameter(
                self,
                "EndpointNameParameter",
                parameter_name=naming.endpoint_parameter_name(config.project, environment.name, model.name),
                string_value=endpoint_name,
                description=f"Current SageMaker endpoint name of {model.name} in {environment.name}",
            )
            assert self.endpoint is not None  # every mode with an endpoint name built one above
            self._acknowledge_common(served)
            self._tag_lineage(self.endpoint.resource)
            # An inference component's endpoint is shared: its stack (InferenceComponentsStack) watches it.
            if serving.mode != "components":
                self.deployment_notifications, self.endpoint_log_groups = serving_modes.watch_endpoint(
                    self, endpoint_name=endpoint_name, environment=environment, data=data
                )

        self.batch_pipeline: BatchInference | None = None
        batch = serving.batch
        if batch.enabled:
            input_prefix, output_prefix = batch.prefixes(model.name)
            manifest_prefix = batch.manifest_prefix_for(model.name)
            # Defaults filled in, the three prefixes may still overlap (the config only sees what was written).
            for first, second in ((input_prefix, output_prefix), (input_prefix, manifest_prefix)):
                if overlapping(first, second):
                    raise ValueError(
                        f"models[{model.name}].environments.{environment.name}.serving.batch: prefixes {first!r} "
                        f"and {second!r} overlap; allowed: disjoint input, output and manifest prefixes"
                    )
            vpc = environment.vpc
            settings = BatchPipelineSettings(
                pipeline_name=naming.pipeline_name(config.project, environment.name, model.name, "batch"),
                region=environment.region,
                model_package_arn=package_arn,
                input_prefix=input_prefix,
                output_prefix=output_prefix,
                capture_prefix=f"{model.name}/batch/",
                instance_type=batch.instance_type,
                instance_count=batch.instance_count,
                volume_kms=supports_volume_kms(batch.instance_type),
                subnet_ids=vpc.subnet_ids if vpc else (),
                security_group_ids=vpc.security_group_ids if vpc else (),
            )
            self.batch_pipeline = BatchInference(
                self,
                "Batch",
                pipeline_name=settings.pipeline_name,
                definition_json=render_batch_definition(settings),
                artifact=artifact,
                data_bucket=data.data_bucket,
                capture_bucket=data.capture_bucket,
                key=data.key,
                input_prefix=input_prefix,
                output_prefix=output_prefix,
                capture_prefix=settings.capture_prefix,
                manifest_prefix=manifest_prefix,
                schedule=batch.schedule,
                arrival_window=Duration.minutes(batch.arrival_window_minutes) if batch.run_on_new_data else None,
                alarm_topic=data.topic,
                in_vpc=vpc is not None,
                definition_key_arn=key_arn_from_parameter(self, data.key_arn_parameter_name, written_by=data),
                image=model.images.serving,
            )
            self._acknowledge_batch(self.batch_pipeline, (input_prefix, output_prefix, manifest_prefix))

    def _tag_lineage(self, resource: Any) -> None:
        """The endpoint answers "what do you run, from where" itself: ``aws sagemaker list-tags`` (docs/serving.md)."""
        promotion = self.promotion
        for key, value in (
            ("mlops:model-package-arn", promotion.package_arn),
            ("mlops:model-artifact-sha256", promotion.artifact_sha256),
            ("mlops:model-data-url", promotion.model_data_url),
        ):
            Tags.of(resource).add(key, value)

    @property
    def artifact(self) -> ModelArtifactSource:
        """The promoted copy this stack serves."""
        return self.promotion.artifact

    def _registry_source(
        self, config: PlatformConfig, environment: EnvironmentSettings, data: DataStack
    ) -> RegistrySource:
        """The registry environment's artifact bucket and key: this environment's own, or read across accounts."""
        registry = config.registry
        if registry.name == environment.name:
            return RegistrySource(bucket=data.artifact_bucket, key=data.key)
        bucket = s3.Bucket.from_bucket_attributes(
            self,
            "RegistryArtifacts",
            bucket_name=naming.artifact_bucket_name(config.project, registry.name, registry.account, registry.region),
            account=registry.account,
            region=registry.region,
        )
        return RegistrySource(
            bucket=bucket,
            key_account=registry.account,
            key_region=registry.region,
            key_alias=naming.key_alias_name(config.project, registry.name),
        )

    # --- cdk-nag acknowledgements: each names the exact wildcard it accepts and why ---

    def _acknowledge(self, scope: Construct, reason: str, resources: list[str]) -> None:
        acknowledge(scope, "AwsSolutions-IAM5", reason, applies_to=[resource_finding(self, r) for r in resources])

    def _acknowledge_common(self, scope: Construct) -> None:
        log_groups = Stack.of(self).format_arn(
            service="logs",
            resource="log-group",
            resource_name="/aws/sagemaker/*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self._acknowledge(
            scope,
            "ecr:GetAuthorizationToken (and, in a VPC, the ec2 network-interface calls SageMaker makes for the "
            "role) take no resource; SageMaker names log groups and streams per endpoint or job under /aws/sagemaker/.",
            ["*", log_groups, f"{log_groups}:log-stream:*"],
        )

    def _acknowledge_batch(self, batch: BatchInference, prefixes: tuple[str, str, str]) -> None:
        self._acknowledge_common(batch)
        input_prefix, output_prefix, manifest_prefix = prefixes
        data = self._data

        def sagemaker_arn(resource: str, name: str) -> str:
            return Stack.of(self).format_arn(
                service="sagemaker", resource=resource, resource_name=name, arn_format=ArnFormat.SLASH_RESOURCE_NAME
            )

        self._acknowledge(
            batch,
            "Batch inputs are any files landing under the configured input prefix (and the window manifests listing "
            "them); transform outputs and batch capture are written under generated per-execution keys of their "
            "prefixes; only those prefixes are granted.",
            [
                data.data_bucket.arn_for_objects(f"{input_prefix}*"),
                data.data_bucket.arn_for_objects(f"{manifest_prefix}*"),
                data.data_bucket.arn_for_objects(f"{output_prefix}*"),
                data.capture_bucket.arn_for_objects(f"{batch.capture_prefix}*"),
            ],
        )
        self._acknowledge(
            batch,
            "The pipeline service names each model and transform job per execution; the role may create and "
            "describe them in this account and region only. Triggers may start executions (generated IDs) of this "
            "one pipeline only.",
            [
                sagemaker_arn("model", "*"),
                sagemaker_arn("transform-job", "*"),
                sagemaker_arn("pipeline", f"{batch.pipeline.pipeline_name.lower()}/execution/*"),
            ],
        )
        acknowledge(
            batch.dead_letter_queue,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the batch schedule, the new-data rule, the new-data queue "
            "and the window schedule.",
        )
