"""What the release pipeline may do in each environment's account: the stack it deploys there first.

In the registry environment: a read-only registry role for the synth step's resolver and the rule that forwards
approved model packages to the tooling account (with its dead-letter queue). In smoke-tested environments: a role
that may only invoke that environment's endpoints. The pipeline stack (``stacks.cicd_stack``) names these roles by
the same derived names, so neither stack needs the other's outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from mlops_config import EnvironmentSettings, PlatformConfig, ToolingSettings
from mlops_constructs import naming
from mlops_constructs.async_endpoint import grant_async_requests
from mlops_constructs.cicd import EndpointInvokerRole, ModelApprovalForwarder, RegistryReaderRole
from mlops_constructs.dead_letters import EventDeadLetters
from mlops_constructs.nag import acknowledge, nag_text
from mlops_constructs.registry import ModelPackageGroup

# Construct ID is a contract: renaming it replaces the per-environment access stack.
ACCESS_STACK_ID = "CicdAccess"
# Purposes of the derived CI/CD role names (naming.cicd_role_name) shared by both sides of a trust.
REGISTRY_READER = "registry-reader"
SYNTH = "synth"


def smoke_test_role_purpose(environment: str) -> str:
    """The ``naming.cicd_role_name`` purpose of the smoke-test roles of ``environment`` (both accounts)."""
    return f"smoke-test-{environment}"


def smoke_tested_endpoints(config: PlatformConfig, environment: EnvironmentSettings) -> list[str]:
    """Endpoints the pipeline smoke-tests after deploying ``environment``: none in the registry environment.

    Models are trained, evaluated and approved in the registry environment; its endpoints are development
    endpoints. The smoke test guards the promotion path: every later environment that serves a model.
    """
    if environment.name == config.registry_environment:
        return []
    names = (
        naming.served_endpoint_name(
            config.project,
            environment.name,
            model.name,
            model.in_environment(environment.name).serving,
            environment.inference_components,
        )
        for model in config.models
    )
    # Models served as inference components share their environment's endpoint: name it once.
    return list(dict.fromkeys(name for name in names if name is not None))


class CicdAccessStack(Stack):
    """What the tooling account may do in one environment's account, and the registry's approval forwarding.

    In the registry environment: a read-only registry role for the synth step's resolver and a rule that
    forwards Approved model packages to the tooling account. In smoke-tested environments: a role that may
    only invoke that environment's endpoints.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PlatformConfig,
        environment: EnvironmentSettings,
        tooling: ToolingSettings,
        package_groups: Mapping[str, ModelPackageGroup],
        key: kms.IKey,
        topic: sns.ITopic,
        **kwargs: Any,
    ) -> None:
        """``key`` and ``topic`` are the environment's (data stack): they encrypt and announce undelivered events."""
        super().__init__(scope, construct_id, **kwargs)
        self.registry_reader: RegistryReaderRole | None = None
        self.approval_forwarder: ModelApprovalForwarder | None = None
        self.endpoint_invoker: EndpointInvokerRole | None = None
        if environment.name == config.registry_environment:
            groups = [package_groups[model.name] for model in config.models]
            self.registry_reader = RegistryReaderRole(
                self,
                "RegistryReader",
                role_name=naming.cicd_role_name(config.project, REGISTRY_READER),
                tooling_account=tooling.account,
                tooling_role_name=naming.cicd_role_name(config.project, SYNTH),
                package_groups=groups,
                policy_path=naming.managed_policy_path(config.project),
            )
            acknowledge(
                self.registry_reader,
                "AwsSolutions-IAM5",
                "The resolver lists and describes the versions of the project's package group; versions are "
                "numbered as they are registered, so only a group-scoped wildcard can name them.",
                applies_to=[f"Resource::{nag_text(self, group.packages_arn)}" for group in groups],
            )
            self.approval_dead_letters = EventDeadLetters(
                self,
                "ApprovalDeadLetters",
                key=key,
                purpose="model approvals forwarded to the CI/CD account",
                alarm_topic=topic,
                removal_policy=RemovalPolicy.RETAIN if environment.retain_data else RemovalPolicy.DESTROY,
            )
            self.approval_forwarder = ModelApprovalForwarder(
                self,
                "ModelApprovalForwarder",
                package_group_names=[group.group_name for group in groups],
                tooling_account=tooling.account,
                tooling_region=tooling.region,
                dead_letter_queue=self.approval_dead_letters.queue,
            )
        endpoints = smoke_tested_endpoints(config, environment)
        if endpoints:
            purpose = smoke_test_role_purpose(environment.name)
            self.endpoint_invoker = EndpointInvokerRole(
                self,
                "SmokeTestInvoker",
                role_name=naming.cicd_role_name(config.project, purpose),
                tooling_account=tooling.account,
                tooling_role_name=naming.cicd_role_name(config.project, purpose),
                endpoint_names=endpoints,
                policy_path=naming.managed_policy_path(config.project),
            )
            self._grant_async_smoke_tests(config, environment, key)

    def _grant_async_smoke_tests(self, config: PlatformConfig, environment: EnvironmentSettings, key: kms.IKey) -> None:
        """The smoke test queues its rows on asynchronous endpoints through S3 and reads the result back."""
        assert self.endpoint_invoker is not None
        bucket = s3.Bucket.from_bucket_name(
            self,
            "DataBucket",
            naming.bucket_name(config.project, environment.name, "data", environment.account, environment.region),
        )
        for model in config.models:
            serving = model.in_environment(environment.name).serving
            if serving.mode != "async":
                continue
            endpoint_name = naming.endpoint_name(
                config.project,
                environment.name,
                model.name,
                mode="async",
                instance_type=serving.async_inference.instance_type,
            )
            input_prefix, output_prefix, failure_prefix = serving.async_inference.prefixes(model.name)
            grant_async_requests(
                self.endpoint_invoker.role,
                endpoint_name=endpoint_name,
                bucket=bucket,
                input_prefix=input_prefix,
                output_prefix=output_prefix,
                failure_prefix=failure_prefix,
                key=key,
            )
            acknowledge(
                self.endpoint_invoker.role,
                "AwsSolutions-IAM5",
                "The smoke test uploads its request under a generated key below the model's asynchronous input "
                "prefix and reads the result and failure objects SageMaker names below their prefixes; only those "
                "prefixes are granted.",
                applies_to=[
                    f"Resource::{nag_text(self, bucket.arn_for_objects(f'{prefix}*'))}"
                    for prefix in (input_prefix, output_prefix, failure_prefix)
                ],
            )
