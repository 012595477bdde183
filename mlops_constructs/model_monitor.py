"""SageMaker Model Monitor schedules of one real-time endpoint: data quality, model quality, bias, explainability.

Each enabled kind is a job definition plus an ``AWS::SageMaker::MonitoringSchedule``. Baselines are inputs
(S3 URIs, see :class:`MonitorBaselines`): synth never asks AWS for them. Outputs and volumes are encrypted with
the environment key, jobs are network-isolated where the container allows it and run in the VPC if one is given,
and every job publishes Model Monitor's own CloudWatch metrics; the metric *contract* comes from the bridge
Lambda reading the jobs' output files (``lambda/monitor_bridge``).

AWS closed Model Monitor to new customers (SageMaker developer guide, "Amazon SageMaker Model Monitor availability
change"): this backend is for accounts that still have it; the ``open`` backend (``drift_monitor.py``) is the default.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from aws_cdk import ArnFormat, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from mlops_config.model_kind import ProblemType
from mlops_constructs.dead_letters import EventDeadLetters
from mlops_constructs.lambda_runtime import (
    python_function,
    reserve_concurrency,
)
from mlops_constructs.metric_contract import grant_put_metric_data
from mlops_constructs.nag import acknowledge
from mlops_constructs.sagemaker_iam import (
    grant_job_basics,
    grant_objects_read_write,
    image_repository_arns,
)

MonitorKind = Literal["data-quality", "model-quality", "bias", "explainability"]
MONITOR_KINDS: tuple[MonitorKind, ...] = ("data-quality", "model-quality", "bias", "explainability")
# Short suffixes keep schedule names within 63 characters (endpoint names are at most 50).
SCHEDULE_SUFFIX: dict[MonitorKind, str] = {
    "data-quality": "data",
    "model-quality": "quality",
    "bias": "bias",
    "explainability": "explain",
}

# Image registries per region, from the sagemaker SDK's bundled image_uri_config (model-monitor.json and
# clarify.json, versions "" and "1.0"). A test checks this table against the installed SDK, so synth needs
# neither the SDK import (~2 s) nor the network.
MODEL_MONITOR_REGISTRIES: dict[str, str] = {
    "af-south-1": "875698925577",
    "ap-east-1": "001633400207",
    "ap-northeast-1": "574779866223",
    "ap-northeast-2": "709848358524",
    "ap-northeast-3": "990339680094",
    "ap-south-1": "126357580389",
    "ap-southeast-1": "245545462676",
    "ap-southeast-2": "563025443158",
    "ap-southeast-3": "669540362728",
    "ca-central-1": "536280801234",
    "eu-central-1": "048819808253",
    "eu-central-2": "590183933784",
    "eu-north-1": "895015795356",
    "eu-south-1": "933208885752",
    "eu-south-2": "437450045455",
    "eu-west-1": "468650794304",
    "eu-west-2": "749857270468",
    "eu-west-3": "680080141114",
    "il-central-1": "843974653677",
    "me-central-1": "588750061953",
    "me-south-1": "607024016150",
    "sa-east-1": "539772159869",
    "us-east-1": "156813124566",
    "us-east-2": "777275614652",
    "us-west-1": "890145073186",
    "us-west-2": "159807026194",
}
CLARIFY_REGISTRIES: dict[str, str] = {
    "af-south-1": "811711786498",
    "ap-east-1": "098760798382",
    "ap-northeast-1": "377024640650",
    "ap-northeast-2": "263625296855",
    "ap-northeast-3": "912233562940",
    "ap-south-1": "452307495513",
    "ap-southeast-1": "834264404009",
    "ap-southeast-2": "007051062584",
    "ap-southeast-3": "705930551576",
    "ca-central-1": "675030665977",
    "eu-central-1": "017069133835",
    "eu-central-2": "730335477804",
    "eu-north-1": "763603941244",
    "eu-south-1": "638885417683",
    "eu-west-1": "131013547314",
    "eu-west-2": "440796970383",
    "eu-west-3": "341593696636",
    "me-south-1": "835444307964",
    "sa-east-1": "520018980103",
    "us-east-1": "205585389593",
    "us-east-2": "211330385671",
    "us-west-1": "740489534195",
    "us-west-2": "306415355426",
}


def _struct(value: Any) -> Any:
    """A nested props dict with snake_case keys as the camelCase struct jsii expects (tokens pass through)."""
    if isinstance(value, dict):
        return {
            re.sub(r"_([a-z])", lambda m: m.group(1).upper(), key): (
                # Environment variable names are data, not struct keys: they stay as they are.
                item if key == "environment" else _struct(item)
            )
            for key, item in value.items()
            if item is not None
        }
    if isinstance(value, list):
        return [_struct(item) for item in value]
    return value


MODEL_MONITOR_REPOSITORY = "sagemaker-model-monitor-analyzer"
CLARIFY_REPOSITORY = "sagemaker-clarify-processing:1.0"


def model_monitor_image_uri(region: str) -> str:
    """The Model Monitor analyzer image of ``region``; ``ValueError`` where SageMaker offers none."""
    return _image(MODEL_MONITOR_REGISTRIES, MODEL_MONITOR_REPOSITORY, region, "Model Monitor")


def clarify_image_uri(region: str) -> str:
    """The SageMaker Clarify processing image of ``region``; ``ValueError`` where SageMaker offers none."""
    return _image(CLARIFY_REGISTRIES, CLARIFY_REPOSITORY, region, "Clarify")


def _image(registries: dict[str, str], repository: str, region: str, what: str) -> str:
    account = registries.get(region)
    if account is None:
        raise ValueError(f"{what} has no image in {region}; allowed regions: {', '.join(sorted(registries))}")
    return f"{account}.dkr.ecr.{region}.amazonaws.com/{repository}"


@dataclass(frozen=True)
class MonitorBaselines:
    """S3 URIs of the baselines the schedules compare against (``None``: that kind cannot run).

    The training pipeline attaches data-quality statistics/constraints and model-quality constraints to each
    model package (DriftCheckBaselines); bias and explainability need a Clarify analysis config and constraints
    of their own. These are inputs, known without any AWS call at synth: the monitoring stack takes the served
    package's DriftCheckBaselines from the resolver's baselines file, and falls back per kind to the
    environment's baseline prefix.
    """

    data_statistics_uri: str | None = None
    data_constraints_uri: str | None = None
    model_quality_constraints_uri: str | None = None
    bias_config_uri: str | None = None
    bias_constraints_uri: str | None = None
    explainability_config_uri: str | None = None
    explainability_constraints_uri: str | None = None


# Longest run per kind on an hourly schedule (API reference, MonitoringStoppingCondition: "For data quality and model
# explainability, this can be up to 3600 seconds for an hourly schedule. For model bias and model quality hourly
# schedules, this can be up to 1800 seconds"; "Schedule model quality monitoring jobs": the ground-truth merge job
# and the monitoring job share one run). Also valid for daily schedules, which allow more.
MAX_RUNTIME_SECONDS: dict[MonitorKind, int] = {
    "data-quality": 3600,
    "model-quality": 1800,
    "bias": 1800,
    "explainability": 3600,
}
MONITORING_TYPES: dict[MonitorKind, str] = {
    "data-quality": "DataQuality",
    "model-quality": "ModelQuality",
    "bias": "ModelBias",
    "explainability": "ModelExplainability",
}
# The kinds that merge late-arriving ground truth with captured predictions, and so need time offsets.
GROUND_TRUTH_KINDS: tuple[MonitorKind, ...] = ("model-quality", "bias")


# ModelQualityAppSpecification.ProblemType (CreateModelQualityJobDefinition; botocore MonitoringProblemType enum:
# BinaryClassification | MulticlassClassification | Regression) of each problem type of the configuration.
MONITOR_PROBLEM_TYPES: dict[str, str] = {
    "binary_classification": "BinaryClassification",
    "multiclass_classification": "MulticlassClassification",
    "regression": "Regression",
}


class ModelMonitorSchedules(Construct):
    """Model Monitor job definitions and hourly/daily schedules on one real-time endpoint.

    ``kinds`` picks the monitors (default all four); each needs its baselines in ``baselines`` or synth fails with
    the missing one named. ``ground_truth_uri`` is required for model quality and bias, whose runs analyse the
    requests captured between ``start_time_offset`` and ``end_time_offset`` before the run (negative ISO 8601
    durations, default ``-P2D`` to ``-P1D``: labels arrive late). ``max_runtime_seconds`` caps every job (default:
    the most each kind may run on an hourly schedule, :data:`MAX_RUNTIME_SECONDS`; more fails synth). Reports go to
    ``output_bucket`` under ``<output_prefix><kind>/``. ``subnet_ids``/``security_group_ids``: run in that VPC
    (default: none). Network isolation is on except for explainability, whose Clarify job must call a shadow
    endpoint to compute SHAP values; ``served_model_arn`` (the Model the endpoint serves, default unknown: any model)
    limits ``sagemaker:DescribeModel`` to it. ``problem_type`` (default binary classification) sets the model
    quality job's ``ProblemType`` and where it reads the prediction: a binary model's probability in output column
    0, cut at ``probability_threshold``; a regression model's number, or a multiclass model's predicted label, in
    output column 0 (``InferenceAttribute``).

    Roles: the isolated jobs share ``role``; explainability runs as ``explainability_role``, which writes only its
    own reports (``<output_prefix>explainability``) and reads ``explainability_config_pattern`` of
    ``output_bucket`` (its analysis config). Both read ``capture_bucket`` under ``capture_prefix`` (the isolated
    jobs also under ``ground_truth_prefix``, where the labels arrive, when it lies elsewhere) and
    ``baseline_bucket`` under ``baseline_prefix`` (defaults "": the whole bucket) and pull only their own images
    from the pinned AWS accounts. No role may delete, lock or tag an object.

    Job definitions get CloudFormation-generated names: every one of their properties is create-only, so a new
    baseline or setting replaces the definition, which a fixed name would forbid. Schedules keep their derived
    names (``<endpoint>-data|quality|bias|explain``) and are updated in place to the new definition.
    """

    def __init__(  # noqa: PLR0915 - one flat definition per monitor kind
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        schedule_expression: str,
        baselines: MonitorBaselines,
        capture_bucket: s3.IBucket,
        baseline_bucket: s3.IBucket,
        output_bucket: s3.IBucket,
        output_prefix: str,
        key: kms.IKey,
        ground_truth_uri: str | None = None,
        kinds: Sequence[MonitorKind] = MONITOR_KINDS,
        instance_type: str = "ml.m5.large",
        instance_count: int = 1,
        volume_size_gb: int = 20,
        max_runtime_seconds: int | None = None,
        start_time_offset: str = "-P2D",
        end_time_offset: str = "-P1D",
        subnet_ids: Sequence[str] = (),
        security_group_ids: Sequence[str] = (),
        probability_threshold: float = 0.5,
        problem_type: ProblemType = "binary_classification",
        served_model_arn: str | None = None,
        capture_prefix: str = "",
        ground_truth_prefix: str | None = None,
        baseline_prefix: str = "",
        explainability_config_pattern: str = "*",
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.endpoint_name = endpoint_name
        self.served_model_arn = served_model_arn
        self.output_bucket = output_bucket
        self.output_prefix = output_prefix
        self.capture_prefix = capture_prefix
        self.baseline_prefix = baseline_prefix
        self.explainability_config_pattern = explainability_config_pattern
        self._missing_inputs(kinds, baselines, ground_truth_uri)
        self._runtime_within_limits(kinds, max_runtime_seconds)

        # The network-isolated jobs (data quality, model quality, bias) share one role; the explainability job,
        # which is not isolated (it calls Clarify's shadow endpoint), gets its own: it writes only its own reports.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"Runs the network-isolated Model Monitor jobs of {endpoint_name}",
        )
        capture_bucket.grant_read(self.role, f"{capture_prefix}*")
        if ground_truth_prefix is not None and not ground_truth_prefix.startswith(capture_prefix):
            # Labels configured outside the endpoint's capture prefix: only the isolated jobs merge them.
            capture_bucket.grant_read(self.role, f"{ground_truth_prefix}*")
        baseline_bucket.grant_read(self.role, f"{baseline_prefix}*")
        grant_objects_read_write(output_bucket, self.role, f"{output_prefix}*")
        key.grant_encrypt_decrypt(self.role)
        self.explainability_role: iam.Role | None = None
        if "explainability" in kinds:
            self.explainability_role = iam.Role(
                self,
                "ExplainabilityRole",
                assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
                description=f"Runs the Model Monitor explainability job of {endpoint_name}",
            )
            capture_bucket.grant_read(self.explainability_role, f"{capture_prefix}*")
            baseline_bucket.grant_read(self.explainability_role, f"{baseline_prefix}*")
            output_bucket.grant_read(self.explainability_role, explainability_config_pattern)
            grant_objects_read_write(output_bucket, self.explainability_role, f"{output_prefix}explainability*")
            key.grant_encrypt_decrypt(self.explainability_role)
        self._grant_job_basics(stack, kinds)

        cluster = {
            "instance_count": instance_count,
            "instance_type": instance_type,
            "volume_size_in_gb": volume_size_gb,
            "volume_kms_key_id": key.key_arn,
        }
        resources = {"cluster_config": cluster}

        def stopping(kind: MonitorKind) -> dict[str, int]:
            return {"max_runtime_in_seconds": max_runtime_seconds or MAX_RUNTIME_SECONDS[kind]}

        vpc = {"subnets": list(subnet_ids), "security_group_ids": list(security_group_ids)} if subnet_ids else None

        def network(isolated: bool) -> dict[str, object]:
            return {
                "enable_inter_container_traffic_encryption": True,
                "enable_network_isolation": isolated,
                "vpc_config": vpc,
            }

        def output(kind: MonitorKind) -> dict[str, object]:
            return {
                "kms_key_id": key.key_arn,
                "monitoring_outputs": [
                    {
                        "s3_output": {
                            "local_path": "/opt/ml/processing/output",
                            "s3_uri": output_bucket.s3_url_for_object(f"{output_prefix}{kind}"),
                            "s3_upload_mode": "EndOfJob",
                        }
                    }
                ],
            }

        def endpoint_input(*, with_probability: bool, ground_truth: bool = False) -> dict[str, object]:
            value: dict[str, object] = {
                "endpoint_name": endpoint_name,
                "local_path": "/opt/ml/processing/input/endpoint",
                "s3_data_distribution_type": "FullyReplicated",
                "s3_input_mode": "File",
            }
            if with_probability and problem_type == "binary_classification":
                # The built-in XGBoost binary:logistic output is one probability per CSV line: column 0.
                value["probability_attribute"] = "0"
                value["probability_threshold_attribute"] = probability_threshold
            elif with_probability:
                # Regression: the prediction is column 0 of the output (EndpointInput.InferenceAttribute, "the
                # attribute ... that represents the" prediction); multiclass: the predicted label there.
                value["inference_attribute"] = "0"
            if ground_truth:
                # Labels arrive late ("Schedule model quality monitoring jobs", Model monitor offsets): analyse the
                # requests captured between the two offsets before the run, whose labels have had time to arrive.
                value["start_time_offset"] = start_time_offset
                value["end_time_offset"] = end_time_offset
            return value

        # Model Monitor publishes its own CloudWatch metrics only with this variable set (the SDK's
        # enable_cloudwatch_metrics=True does the same).
        publish_metrics = {"publish_cloudwatch_metrics": "Enabled"}
        mm_image = model_monitor_image_uri(stack.region)
        self.job_definitions: dict[MonitorKind, Any] = {}

        def make(cfn_class: Any, construct_id: str, kind: MonitorKind, **specific: Any) -> Any:
            role = self.explainability_role if kind == "explainability" and self.explainability_role else self.role
            props = {"role_arn": role.role_arn, "job_resources": resources, "stopping_condition": stopping(kind)}
            return cfn_class(
                self, construct_id, **{name: _struct(value) for name, value in {**props, **specific}.items()}
            )

        if "data-quality" in kinds:
            self.job_definitions["data-quality"] = make(
                sagemaker.CfnDataQualityJobDefinition,
                "DataQualityJob",
                "data-quality",
                data_quality_app_specification={"image_uri": mm_image, "environment": publish_metrics},
                data_quality_baseline_config={
                    "constraints_resource": {"s3_uri": baselines.data_constraints_uri},
                    "statistics_resource": {"s3_uri": baselines.data_statistics_uri},
                },
                data_quality_job_input={"endpoint_input": endpoint_input(with_probability=False)},
                data_quality_job_output_config=output("data-quality"),
                network_config=network(True),
            )
        if "model-quality" in kinds:
            self.job_definitions["model-quality"] = make(
                sagemaker.CfnModelQualityJobDefinition,
                "ModelQualityJob",
                "model-quality",
                model_quality_app_specification={
                    "image_uri": mm_image,
                    "problem_type": MONITOR_PROBLEM_TYPES[problem_type],
                    "environment": publish_metrics,
                },
                model_quality_baseline_config={
                    "constraints_resource": {"s3_uri": baselines.model_quality_constraints_uri}
                },
                model_quality_job_input={
                    "endpoint_input": endpoint_input(with_probability=True, ground_truth=True),
                    "ground_truth_s3_input": {"s3_uri": ground_truth_uri},
                },
                model_quality_job_output_config=output("model-quality"),
                network_config=network(True),
            )
        if "bias" in kinds:
            self.job_definitions["bias"] = make(
                sagemaker.CfnModelBiasJobDefinition,
                "BiasJob",
                "bias",
                model_bias_app_specification={
                    "config_uri": baselines.bias_config_uri,
                    "image_uri": clarify_image_uri(stack.region),
                    "environment": publish_metrics,
                },
                model_bias_baseline_config={"constraints_resource": {"s3_uri": baselines.bias_constraints_uri}},
                model_bias_job_input={
                    "endpoint_input": endpoint_input(with_probability=True, ground_truth=True),
                    "ground_truth_s3_input": {"s3_uri": ground_truth_uri},
                },
                model_bias_job_output_config=output("bias"),
                # Post-training bias is computed from captured predictions and labels: no endpoint call.
                network_config=network(True),
            )
        if "explainability" in kinds:
            self.job_definitions["explainability"] = make(
                sagemaker.CfnModelExplainabilityJobDefinition,
                "ExplainabilityJob",
                "explainability",
                model_explainability_app_specification={
                    "config_uri": baselines.explainability_config_uri,
                    "image_uri": clarify_image_uri(stack.region),
                    "environment": publish_metrics,
                },
                model_explainability_baseline_config={
                    "constraints_resource": {"s3_uri": baselines.explainability_constraints_uri}
                },
                model_explainability_job_input={"endpoint_input": endpoint_input(with_probability=False)},
                model_explainability_job_output_config=output("explainability"),
                # SHAP needs model predictions on perturbed records: Clarify calls a shadow endpoint, which an
                # isolated container cannot reach. Still in the VPC when one is given.
                network_config=network(False),
            )

        self.schedules: dict[MonitorKind, sagemaker.CfnMonitoringSchedule] = {}
        self.schedule_names: list[str] = []
        for kind, definition in self.job_definitions.items():
            name = f"{endpoint_name}-{SCHEDULE_SUFFIX[kind]}"
            schedule = sagemaker.CfnMonitoringSchedule(
                self,
                f"{MONITORING_TYPES[kind]}Schedule",
                monitoring_schedule_name=name,
                endpoint_name=endpoint_name,
                monitoring_schedule_config=sagemaker.CfnMonitoringSchedule.MonitoringScheduleConfigProperty(
                    # The generated name, from the definition's ARN (its Ref): ".../<type>-job-definition/<name>".
                    monitoring_job_definition_name=Fn.select(1, Fn.split("/", definition.ref)),
                    monitoring_type=MONITORING_TYPES[kind],
                    schedule_config=sagemaker.CfnMonitoringSchedule.ScheduleConfigProperty(
                        schedule_expression=schedule_expression
                    ),
                ),
            )
            for role in (self.role, self.explainability_role):
                policy = role.node.try_find_child("DefaultPolicy") if role else None
                if policy is not None:
                    schedule.node.add_dependency(policy)
            self.schedules[kind] = schedule
            self.schedule_names.append(name)

    @staticmethod
    def _runtime_within_limits(kinds: Sequence[MonitorKind], max_runtime_seconds: int | None) -> None:
        too_long = [kind for kind in kinds if max_runtime_seconds and max_runtime_seconds > MAX_RUNTIME_SECONDS[kind]]
        if too_long:
            raise ValueError(
                f"ModelMonitorSchedules: max_runtime_seconds {max_runtime_seconds} exceeds what {', '.join(too_long)} "
                f"may run on an hourly schedule; allowed: at most "
                f"{', '.join(f'{kind} {MAX_RUNTIME_SECONDS[kind]}' for kind in too_long)}"
            )

    @staticmethod
    def _missing_inputs(
        kinds: Sequence[MonitorKind], baselines: MonitorBaselines, ground_truth_uri: str | None
    ) -> None:
        needs: dict[MonitorKind, tuple[str, ...]] = {
            "data-quality": ("data_statistics_uri", "data_constraints_uri"),
            "model-quality": ("model_quality_constraints_uri",),
            "bias": ("bias_config_uri", "bias_constraints_uri"),
            "explainability": ("explainability_config_uri", "explainability_constraints_uri"),
        }
        missing = [
            f"{kind}: baselines.{field}" for kind in kinds for field in needs[kind] if not getattr(baselines, field)
        ]
        missing += [
            f"{kind}: ground_truth_uri" for kind in kinds if kind in ("model-quality", "bias") and not ground_truth_uri
        ]
        if missing:
            raise ValueError(f"ModelMonitorSchedules: missing inputs: {', '.join(missing)}")

    def _grant_job_basics(self, stack: Stack, kinds: Sequence[MonitorKind]) -> None:
        """Logs, image pulls, and (explainability only) the shadow endpoint Clarify manages."""
        # The Model Monitor and Clarify images live in AWS-owned accounts that vary by region: each role pulls
        # exactly the images its jobs run, from the pinned accounts of MODEL_MONITOR_REGISTRIES/CLARIFY_REGISTRIES.
        isolated_images = (
            [model_monitor_image_uri(stack.region)] if {"data-quality", "model-quality"} & set(kinds) else []
        )
        if "bias" in kinds:
            isolated_images.append(clarify_image_uri(stack.region))
        if isolated_images:
            grant_job_basics(
                self.role,
                image_repositories=image_repository_arns(stack, isolated_images),
                log_group_name="/aws/sagemaker/ProcessingJobs",
            )
        if self.explainability_role is not None:
            role = self.explainability_role
            grant_job_basics(
                role,
                image_repositories=image_repository_arns(stack, [clarify_image_uri(stack.region)]),
                log_group_name="/aws/sagemaker/ProcessingJobs",
            )

            def arn(resource: str, name: str) -> str:
                return stack.format_arn(
                    service="sagemaker", resource=resource, resource_name=name, arn_format=ArnFormat.SLASH_RESOURCE_NAME
                )

            # Clarify computes SHAP values on a shadow endpoint it creates from the served model and deletes after
            # the run, named with its "sm-clarify" prefix (endpoint_name_prefix in the analysis config's predictor).
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="ClarifyShadowEndpoint",
                    actions=[
                        "sagemaker:CreateEndpointConfig",
                        "sagemaker:DescribeEndpointConfig",
                        "sagemaker:DeleteEndpointConfig",
                        "sagemaker:CreateEndpoint",
                        "sagemaker:DescribeEndpoint",
                        "sagemaker:DeleteEndpoint",
                        "sagemaker:InvokeEndpoint",
                    ],
                    resources=[arn("endpoint", "sm-clarify-*"), arn("endpoint-config", "sm-clarify-*")],
                )
            )
            # The served endpoint is only looked at and called, never changed.
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="ClarifyServedEndpoint",
                    actions=["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"],
                    resources=[arn("endpoint", self.endpoint_name.lower())],
                )
            )
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="ClarifyServedModel",
                    actions=["sagemaker:DescribeModel"],
                    resources=[self.served_model_arn or arn("model", "*")],
                )
            )


BRIDGE_CODE_DIR = Path(__file__).resolve().parent.parent / "lambda" / "monitor_bridge"


class MonitorBridgeFunction(Construct):
    """The Lambda that turns Model Monitor's report files into the metric contract.

    Triggered by EventBridge "Object Created" events of ``report_bucket`` under ``report_prefix`` (the bucket must
    send its notifications to EventBridge). The rule matches the prefix only: a ``wildcard`` pattern would count
    against the 30 rules with wildcards an event bus may have, not adjustable ("Amazon EventBridge quotas"), one per
    Model Monitor model; ``prefix`` is a separate operator that does not ("Comparison operators for use in event
    patterns in Amazon EventBridge"). The function ignores the files under the prefix that are not reports.
    Deliveries that fail after ``retry_attempts`` go to a dead-letter queue encrypted with ``key`` (the key policy
    lets EventBridge use it, ``stacks.data_stack``), with an alarm to ``alarm_topic``; so do invocations that still
    fail after Lambda's two retries (a report the function cannot trust: nothing is published from it). Reads the
    object, publishes contract metrics for ``model``/``environment``/``endpoint_name`` and one per-feature point for
    each of ``features``. arm64, structured logs, logs kept ``log_retention_days``. Reserved concurrency is an opt-in
    (``reserved_concurrency``, default none).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model: str,
        environment: str,
        endpoint_name: str,
        features: Sequence[str],
        report_bucket: s3.IBucket,
        report_prefix: str,
        key: kms.IKey,
        log_retention_days: int,
        alarm_topic: sns.ITopic,
        reserved_concurrency: int | None = None,
        retry_attempts: int = 4,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        """``reserved_concurrency`` defaults to none; ``retry_attempts`` (EventBridge deliveries) to 4;
        ``removal_policy`` (the dead-letter queue) to RETAIN."""
        super().__init__(scope, construct_id)
        if not report_prefix or not report_prefix.endswith("/"):
            raise ValueError(f"report_prefix {report_prefix!r}: expected a prefix ending with '/'")
        self.log_group = logs.LogGroup(self, "Logs", encryption_key=key)
        # The configuration already checked the days against the periods CloudWatch Logs accepts; set them as
        # they are rather than through the RetentionDays enum.
        log_group_resource = self.log_group.node.default_child
        assert isinstance(log_group_resource, logs.CfnLogGroup)
        log_group_resource.retention_in_days = log_retention_days
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Publishes the metric contract of {endpoint_name} from Model Monitor reports",
        )
        # Not AWSLambdaBasicExecutionRole: that managed policy writes to every log group of the account.
        self.log_group.grant_write(self.role)
        report_bucket.grant_read(self.role, f"{report_prefix}*")
        key.grant_decrypt(self.role)
        grant_put_metric_data(self.role)
        self.dead_letters = EventDeadLetters(
            self,
            "DeadLetters",
            key=key,
            purpose=f"Model Monitor reports of {endpoint_name} for the bridge function",
            alarm_topic=alarm_topic,
            removal_policy=removal_policy,
        )
        self.dead_letter_queue = self.dead_letters.queue
        self.function = python_function(
            self,
            "Function",
            description=f"Model Monitor reports of {endpoint_name} -> metric contract",
            code_dir=BRIDGE_CODE_DIR,
            role=self.role,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            memory_size=256,
            timeout=Duration.seconds(60),
            # A report the function cannot trust raises (nothing is published): after Lambda's retries the event
            # goes to the same dead-letter queue and its alarm. The rule target's dead-letter queue alone would
            # never see it: EventBridge has delivered once Lambda queued the asynchronous invocation ("Using
            # dead-letter queues to process undelivered events in EventBridge"; function errors follow the
            # function's own on-failure destination, Lambda "Asynchronous invocation").
            retry_attempts=2,
            on_failure=destinations.SqsDestination(self.dead_letter_queue),
            environment={
                "MODEL_NAME": model,
                "ENVIRONMENT_NAME": environment,
                "ENDPOINT_NAME": endpoint_name,
                "REPORT_BUCKET": report_bucket.bucket_name,
                "REPORT_PREFIX": report_prefix,
                "FEATURES": json.dumps(list(features)),
                "POWERTOOLS_SERVICE_NAME": "monitor-bridge",
            },
        )
        function_resource = self.function.node.default_child
        assert isinstance(function_resource, lambda_.CfnFunction)
        # W3005: CDK adds an explicit DependsOn on the role next to the GetAtt of it, to order the role's default
        # policy before the function too; harmless.
        function_resource.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})
        reserve_concurrency(self.function, reserved_concurrency)
        self.rule = events.Rule(
            self,
            "ReportWritten",
            description=f"Model Monitor wrote a report for {endpoint_name}",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [report_bucket.bucket_name]},
                    "object": {"key": events.Match.prefix(report_prefix)},
                },
            ),
        )
        self.rule.add_target(
            targets.LambdaFunction(
                self.function, retry_attempts=retry_attempts, dead_letter_queue=self.dead_letter_queue
            )
        )
        self.dead_letter_alarm = self.dead_letters.alarm
        acknowledge(
            self.role,
            "AwsSolutions-IAM5",
            "The KMS grant CDK adds for sending to the KMS-encrypted dead-letter queue: data-key actions on the "
            "one environment key only.",
            applies_to=["Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*"],
        )
