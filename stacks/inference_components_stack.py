"""An environment's endpoint of shared instances, on which models with ``serving.mode: components`` run.

One per environment that serves such a model. Each model's inference component lives in the model's own serving
stack (``stacks/serving_modes.py``) and names this endpoint by its derived name, so no stack imports another's
output; the stage orders the serving stacks after this one. Removing the last component model removes the
endpoint with this stack.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import ArnFormat, Stack
from constructs import Construct

from mlops_config import EnvironmentSettings, PlatformConfig
from mlops_config.model_kind import XGBOOST_IMAGE
from mlops_constructs import naming
from mlops_constructs.inference_components import SharedInferenceEndpoint
from mlops_constructs.nag import acknowledge, resource_finding
from stacks.data_stack import DataStack
from stacks.serving_modes import watch_endpoint


class InferenceComponentsStack(Stack):
    """The shared inference-component endpoint (``endpoint``) of ``environment``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PlatformConfig,
        environment: EnvironmentSettings,
        data: DataStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        settings = environment.inference_components
        if settings is None:
            raise ValueError(
                f"environments.{environment.name}.inference_components: not set; an inference-components stack "
                "needs the shared endpoint's settings"
            )
        self.endpoint = SharedInferenceEndpoint(
            self,
            "SharedEndpoint",
            endpoint_name=naming.shared_endpoint_name(config.project, environment.name, settings.instance_type),
            settings=settings,
            key=data.key,
            images=[
                model.images.serving
                for model in config.models
                if model.in_environment(environment.name).serving.mode == "components"
            ]
            or [XGBOOST_IMAGE],
        )
        # One watcher for the one endpoint, however many models it hosts.
        self.deployment_notifications, self.endpoint_log_groups = watch_endpoint(
            self, endpoint_name=self.endpoint.endpoint_name, environment=environment, data=data
        )
        log_groups = self.format_arn(
            service="logs",
            resource="log-group",
            resource_name="/aws/sagemaker/*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        acknowledge(
            self.endpoint.role,
            "AwsSolutions-IAM5",
            "ecr:GetAuthorizationToken takes no resource; SageMaker names log groups and streams per endpoint "
            "under /aws/sagemaker/.",
            applies_to=[resource_finding(self, r) for r in ("*", log_groups, f"{log_groups}:log-stream:*")],
        )
