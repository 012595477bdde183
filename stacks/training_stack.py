"""The training side of one model in an environment that trains: its SageMaker pipeline and retraining triggers."""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from mlops_config import EnvironmentSettings, ModelSettings, PlatformConfig
from mlops_config.model_kind import ImageSettings
from mlops_constructs import naming
from mlops_constructs.nag import acknowledge, objects_finding
from mlops_constructs.retraining import RetrainOnDrift, log_retention, retrain_alarm_sources
from mlops_constructs.sagemaker_iam import image_repository_arns
from mlops_constructs.sagemaker_pipeline import PipelineExecutionRole, SageMakerPipeline, key_arn_from_parameter
from pipeline_defs.builder_code import BuilderCode, builder_code
from pipeline_defs.render import render_definition
from pipeline_defs.settings import ImageRef, Placeholders, TrainingPipelineSettings
from stacks.data_stack import DataStack


def image_ref(image: ImageSettings) -> ImageRef:
    """The pipeline definition's view of a configured image."""
    return ImageRef(framework=image.framework, version=image.version, uri=image.uri)


def training_pipeline_settings(
    config: PlatformConfig, environment: EnvironmentSettings, model: ModelSettings
) -> TrainingPipelineSettings:
    """Map the validated configuration onto the pipeline definition's own settings (its render cache key)."""
    training = model.training
    vpc = environment.vpc
    return TrainingPipelineSettings(
        pipeline_name=naming.pipeline_name(config.project, environment.name, model.name, "training"),
        region=environment.region,
        model_package_group_name=naming.model_package_group_name(config.project, model.name),
        processing_instance_type=training.processing_instance_type,
        processing_instance_count=training.processing_instance_count,
        training_instance_type=training.training_instance_type,
        training_instance_count=training.training_instance_count,
        max_runtime_seconds=training.max_runtime_seconds,
        problem_type=model.problem_type,
        quality_metric=model.quality_gate.metric,
        quality_threshold=model.quality_gate.threshold,
        training_image=image_ref(model.images.training),
        processing_image=image_ref(model.images.processing) if model.images.processing else None,
        serving_image=image_ref(model.images.serving),
        step_caching=training.enable_step_cache,
        cache_expire_after=training.cache_expire_after,
        subnet_ids=vpc.subnet_ids if vpc else (),
        security_group_ids=vpc.security_group_ids if vpc else (),
        # Overrides only: the builder owns its defaults (pipeline_defs/steps/hyperparameters.py for XGBoost).
        hyperparameters=dict(training.hyperparameters),
        input_data_uri=f"s3://{Placeholders.ref(Placeholders.DATA_BUCKET)}/{model.training_data_prefix}",
        output_prefix=model.name,
    )


class TrainingStack(Stack):
    """A model's training pipeline (rendered from ``pipeline_defs/`` at synth) and what restarts it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PlatformConfig,
        environment: EnvironmentSettings,
        model: ModelSettings,
        data: DataStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.environment_settings = environment
        self.model = model
        self.data = data
        self.pipeline_settings = training_pipeline_settings(config, environment, model)

        self.builder_code: BuilderCode = builder_code(model.training.builder, environment.region)
        # One file asset per step script the builder ships ("preprocess" -> PreprocessScript): the construct IDs of
        # the sample's two scripts are unchanged.
        self.script_assets = tuple(
            s3_assets.Asset(self, f"{script.name.capitalize()}Script", path=str(script.path))
            for script in self.builder_code.scripts
        )
        definition_json = render_definition(
            model.training.builder, self.pipeline_settings, placeholders=self.builder_code.placeholders()
        )
        self.execution_role = PipelineExecutionRole(
            self,
            "ExecutionRole",
            data_bucket=data.data_bucket,
            artifact_bucket=data.artifact_bucket,
            key=data.key,
            script_assets=self.script_assets,
            # Exactly the repositories the rendered jobs pull, in the AWS image accounts they name.
            image_repositories=image_repository_arns(self, [definition_json]),
            model_package_group_name=self.pipeline_settings.model_package_group_name,
        )
        self._acknowledge_execution_role()
        self.pipeline = SageMakerPipeline(
            self,
            "TrainingPipeline",
            pipeline_name=self.pipeline_settings.pipeline_name,
            definition_json=definition_json,
            substitutions={
                Placeholders.EXECUTION_ROLE_NAME: self.execution_role.role.role_name,
                Placeholders.DATA_BUCKET: data.data_bucket.bucket_name,
                Placeholders.ARTIFACT_BUCKET: data.artifact_bucket.bucket_name,
                # The key's ARN without a cross-stack reference (none may sit in the Fn::Sub variable map).
                Placeholders.KMS_KEY_ARN: key_arn_from_parameter(self, data.key_arn_parameter_name, written_by=data),
                **self._script_substitutions(),
            },
            role=self.execution_role.role,
            description=f"Trains, evaluates and registers {model.name} ({environment.name})",
        )
        # The role's policy must exist before SageMaker checks the role's permissions at pipeline creation; the
        # role itself is already a dependency through the Fn::Sub reference.
        policy = self.execution_role.role.node.try_find_child("DefaultPolicy")
        if policy is not None:
            self.pipeline.node.add_dependency(policy)
        self.retraining = self._add_retraining()

    def _script_substitutions(self) -> dict[str, str]:
        substitutions: dict[str, str] = {}
        for script, asset in zip(self.builder_code.scripts, self.script_assets, strict=True):
            # A job finds a script under its key's last segment; builders may name it by the key (the diabetes
            # builder's sagemaker_program), so the key must be one segment (the default synthesizer's <hash>.py).
            if "/" in asset.s3_object_key:
                raise ValueError(
                    f"step script {script.name!r}: asset object key {asset.s3_object_key!r} has a '/'; "
                    "the stack synthesizer must not set a bucket prefix for file assets"
                )
            substitutions[script.bucket_placeholder] = asset.s3_bucket_name
            substitutions[script.key_placeholder] = asset.s3_object_key
        return substitutions

    def _add_retraining(self) -> RetrainOnDrift:
        """The Lambda that restarts this pipeline on drift alarms, new training data and the configured schedule."""
        config, environment, model = self.config, self.environment_settings, self.model
        return RetrainOnDrift(
            self,
            "Retraining",
            model_name=model.name,
            environment_name=environment.name,
            pipeline_name=self.pipeline.pipeline_name,
            pipeline_arn=self.pipeline.pipeline_arn,
            data_bucket=self.data.data_bucket,
            data_prefix=model.training_data_prefix,
            key=self.data.key,
            alarm_topic=self.data.topic,
            settings=model.in_environment(environment.name).retraining,
            schedule_name=naming.pipeline_name(config.project, environment.name, model.name, "retrain"),
            alarm_sources=retrain_alarm_sources(config, model, environment.name),
            log_retention=log_retention(environment.log_retention_days),
            removal_policy=RemovalPolicy.RETAIN if environment.retain_data else RemovalPolicy.DESTROY,
        )

    def _acknowledge_execution_role(self) -> None:
        role = self.execution_role.role
        # cdk-nag names a finding by the resolved ARN: a literal partition where the feature flag gives one.
        resolved = self.resolve(self.partition)
        partition = resolved if isinstance(resolved, str) else "<AWS::Partition>"
        prefix = f"Resource::arn:{partition}"
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "S3 and KMS grant methods: object-level access to this environment's data and artifact buckets and "
            "the CDK asset objects, and the KMS data-key actions on the one environment key.",
            applies_to=[
                "Action::s3:GetObject*",
                "Action::s3:GetBucket*",
                "Action::s3:List*",
                "Action::kms:GenerateDataKey*",
                "Action::kms:ReEncrypt*",
                objects_finding(self.data.data_bucket),
                objects_finding(self.data.artifact_bucket),
            ],
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "Pipeline jobs get generated names at run time (processing-job/*, training-job/*), write to "
            "/aws/sagemaker/* log groups, register versions under this model's package group only; "
            "ecr:GetAuthorizationToken has no resource.",
            applies_to=[
                "Resource::*",
                f"{prefix}:sagemaker:{self.region}:{self.account}:processing-job/*",
                f"{prefix}:sagemaker:{self.region}:{self.account}:training-job/*",
                f"{prefix}:sagemaker:{self.region}:{self.account}:model-package/"
                f"{self.pipeline_settings.model_package_group_name}/*",
                f"{prefix}:logs:{self.region}:{self.account}:log-group:/aws/sagemaker/*",
                f"{prefix}:logs:{self.region}:{self.account}:log-group:/aws/sagemaker/*:log-stream:*",
            ],
        )
