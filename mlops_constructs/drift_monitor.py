"""The open monitoring backend: the monitoring SageMaker pipeline, its least-privilege role and its schedule.

The pipeline is rendered at synth from ``pipeline_defs/monitoring_pipeline.py`` (offline, cached) and deployed
with :class:`SageMakerPipeline`; EventBridge Scheduler starts it on the configured schedule. Needs neither Model
Monitor nor Clarify, so it works in accounts where those are closed.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from mlops_constructs.metric_contract import grant_put_metric_data
from mlops_constructs.sagemaker_iam import (
    grant_asset_read,
    grant_job_basics,
    grant_objects_read_write,
    image_repository_arns,
)
from mlops_constructs.sagemaker_pipeline import SageMakerPipeline
from pipeline_defs.monitoring_settings import MonitoringPipelineSettings
from pipeline_defs.monitoring_settings import MonitoringPlaceholders as P
from pipeline_defs.render import render_definition

STEPS_DIR = Path(__file__).resolve().parent.parent / "pipeline_defs" / "steps"
BUILDER = "pipeline_defs.monitoring_pipeline:build_monitoring_pipeline"


def render_monitoring_definition(settings: MonitoringPipelineSettings) -> str:
    """The monitoring pipeline's definition JSON, ready for ``Fn::Sub`` with its placeholders."""
    return render_definition(BUILDER, settings, placeholders=P.all() | P.own())


class DriftMonitorPipeline(Construct):
    """A scheduled monitoring pipeline: drift and model quality of one endpoint, published to the metric contract.

    The execution role (the pipeline's and the isolated analysis job's) reads ``capture_bucket`` (captured data
    and labels) and ``artifact_bucket`` (baselines), writes reports to ``monitoring_bucket`` under
    ``<model>/drift/`` (no deletes), uses ``key`` and runs processing jobs named by the pipeline. The publishing
    job, which is not network-isolated, runs as ``publish_role``: it reads only the reports and the scripts and
    may put metrics only into the contract's namespace. ``schedule_expression`` is an
    EventBridge Scheduler ``cron(...)``/``rate(...)`` in UTC. ``definition_key_arn`` is ``key``'s ARN as the
    pipeline definition gets it (default ``key.key_arn``, right only when ``key`` is in this stack: a cross-stack
    reference fails synth, see ``mlops_constructs.sagemaker_pipeline.key_arn_from_parameter``).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: MonitoringPipelineSettings,
        schedule_expression: str,
        capture_bucket: s3.IBucket,
        artifact_bucket: s3.IBucket,
        monitoring_bucket: s3.IBucket,
        key: kms.IKey,
        definition_key_arn: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        drift_script = s3_assets.Asset(self, "DriftScript", path=str(STEPS_DIR / "drift.py"))
        contract_script = s3_assets.Asset(self, "ContractScript", path=str(STEPS_DIR / "metric_contract.py"))
        self.script_assets = (drift_script, contract_script)

        definition_json = render_monitoring_definition(settings)
        images = image_repository_arns(stack, [definition_json])

        def arn(service: str, resource: str, name: str, fmt: ArnFormat = ArnFormat.SLASH_RESOURCE_NAME) -> str:
            return stack.format_arn(service=service, resource=resource, resource_name=name, arn_format=fmt)

        # The analysis reads captured customer data: it runs network-isolated, and its role (which is also the
        # pipeline's, creating both jobs) may not publish anything anywhere.
        self.role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"Runs the monitoring pipeline {settings.pipeline_name}",
        )
        capture_bucket.grant_read(self.role, f"{settings.capture_prefix}*")
        artifact_bucket.grant_read(self.role, f"{settings.baseline_prefix}*")
        grant_objects_read_write(monitoring_bucket, self.role, f"{settings.model}/drift/*")
        key.grant_encrypt_decrypt(self.role)
        for asset in self.script_assets:
            grant_asset_read(asset, self.role)
        grant_job_basics(self.role, image_repositories=images, log_group_name="/aws/sagemaker/ProcessingJobs")

        # The publishing step is not network-isolated (it calls CloudWatch): its own role reads only the drift
        # reports and the scripts, and may put metrics only into the contract's namespace. No captured data.
        self.publish_role = iam.Role(
            self,
            "PublishRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"Publishes the metrics of the monitoring pipeline {settings.pipeline_name}",
        )
        monitoring_bucket.grant_read(self.publish_role, f"{settings.model}/drift/*")
        # Reads KMS-encrypted reports; its volume is encrypted with the same key, as the analysis job's is.
        key.grant_encrypt_decrypt(self.publish_role)
        for asset in self.script_assets:
            grant_asset_read(asset, self.publish_role)
        grant_put_metric_data(self.publish_role)
        grant_job_basics(self.publish_role, image_repositories=images, log_group_name="/aws/sagemaker/ProcessingJobs")

        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="PipelineJobs",
                actions=[
                    "sagemaker:CreateProcessingJob",
                    "sagemaker:DescribeProcessingJob",
                    "sagemaker:StopProcessingJob",
                    "sagemaker:AddTags",
                ],
                resources=[arn("sagemaker", "processing-job", "*")],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="PassJobRolesToSageMaker",
                actions=["iam:PassRole"],
                resources=[self.role.role_arn, self.publish_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )

        self.pipeline = SageMakerPipeline(
            self,
            "Pipeline",
            pipeline_name=settings.pipeline_name,
            definition_json=definition_json,
            substitutions={
                P.EXECUTION_ROLE_NAME: self.role.role_name,
                P.PUBLISH_ROLE_NAME: self.publish_role.role_name,
                P.ARTIFACT_BUCKET: artifact_bucket.bucket_name,
                P.CAPTURE_BUCKET: capture_bucket.bucket_name,
                P.MONITORING_BUCKET: monitoring_bucket.bucket_name,
                P.KMS_KEY_ARN: definition_key_arn or key.key_arn,
                P.DRIFT_SCRIPT_BUCKET: drift_script.s3_bucket_name,
                P.DRIFT_SCRIPT_KEY: drift_script.s3_object_key,
                P.CONTRACT_SCRIPT_BUCKET: contract_script.s3_bucket_name,
                P.CONTRACT_SCRIPT_KEY: contract_script.s3_object_key,
            },
            role=self.role,
            description=f"Drift and model quality of {settings.endpoint_name} (open backend)",
        )
        for role in (self.role, self.publish_role):
            policy = role.node.try_find_child("DefaultPolicy")
            if policy is not None:
                self.pipeline.node.add_dependency(policy)

        self.scheduler_role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": stack.account}}
            ),
            description=f"Starts the monitoring pipeline {settings.pipeline_name} on schedule",
        )
        self.pipeline.grant_start_execution(self.scheduler_role)
        self.schedule = scheduler.CfnSchedule(
            self,
            "Schedule",
            description=f"Runs {settings.pipeline_name}",
            schedule_expression=schedule_expression,
            schedule_expression_timezone="UTC",
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            target=scheduler.CfnSchedule.TargetProperty(
                arn=self.pipeline.pipeline_arn,
                role_arn=self.scheduler_role.role_arn,
                # Default parameters: the window ends now and the baseline is the promoted one.
                sage_maker_pipeline_parameters=scheduler.CfnSchedule.SageMakerPipelineParametersProperty(
                    pipeline_parameter_list=[]
                ),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_event_age_in_seconds=3600, maximum_retry_attempts=3
                ),
            ),
        )
        self.schedule.node.add_dependency(self.pipeline)
        self.pipeline_name = settings.pipeline_name
