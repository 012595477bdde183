"""One served model in one environment, as one stack: its serving (endpoint, batch) and its monitoring.

Two stacks per model and environment (serving, then monitoring) made a platform of 50 models 357 stacks, each its
own CloudFormation deployment and release action. Here they are one, without coupling the endpoint to monitoring:

- ``serving`` (``stacks.serving_stack.ModelServing``) has the construct ID ``Default``, which CDK leaves out of the
  logical IDs it computes (aws-cdk-lib ``core/lib/private/uniqueid.ts``: ``HIDDEN_ID = 'Default'`` is filtered from
  the path before the human part and the hash are made). Every endpoint-side resource and output keeps the logical
  ID it had in the serving stack. The stack keeps that stack's construct ID (``Serving-<model>``: two physical
  names derive from the construct path, the scaling policy's ``PolicyName``, whose change replaces the policy, and
  the deployment-events queue policy's statement ID) and its CloudFormation name, so an existing deployment
  updates the serving stack with the monitoring added and every endpoint-side resource unchanged (docs/serving.md,
  "One stack per model: migrating a deployment").
- ``monitoring`` (``stacks.monitoring_stack.ModelMonitoring``) lives under its own construct ID ``Monitoring``; no
  endpoint-side resource reads anything of it, so a monitoring change (backend, schedule, thresholds, alarms)
  changes only resources below that path (tests/infra/test_model_stack.py diffs the endpoint side byte for byte).
  Its resources depend on the promotion (the baselines it reads) and the endpoint (schedules need a live
  endpoint): what the stack dependency on the serving stack ordered before.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from mlops_config import EnvironmentSettings, PlatformConfig
from mlops_config.platform import ModelSettings
from stacks.data_stack import DataStack
from stacks.monitoring_stack import ModelMonitoring
from stacks.serving_stack import ModelServing

# Construct IDs are a contract: "Default" keeps the serving stack's logical IDs (see the module docstring).
SERVING_ID = "Default"
MONITORING_ID = "Monitoring"


def model_stack_id(model: str) -> str:
    """The construct ID of ``model``'s stack in its stage: ``Serving-<model>``, the serving stack's (see above)."""
    return f"Serving-{model}"


def has_monitoring(model: ModelSettings, environment: str) -> bool:
    """Whether ``model`` is monitored in ``environment``: an endpoint to watch and monitoring enabled."""
    in_env = model.in_environment(environment)
    return in_env.serving.mode != "none" and in_env.monitoring.enabled


class ModelStack(Stack):
    """The serving (``serving``) and, where the model has an endpoint and monitoring on, the monitoring
    (``monitoring``, else None) of ``model`` in ``environment``, serving ``package_arn``."""

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
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.serving = ModelServing(
            self,
            SERVING_ID,
            config=config,
            environment=environment,
            model=model,
            data=data,
            package_arn=package_arn,
        )
        self.monitoring: ModelMonitoring | None = None
        if has_monitoring(model, environment.name):
            self.monitoring = ModelMonitoring(
                self,
                MONITORING_ID,
                config=config,
                environment=environment,
                model=model,
                data=data,
                serving=self.serving,
            )
            # Monitors read the promoted baselines and watch a live endpoint: both exist before any of them.
            self.monitoring.node.add_dependency(self.serving.promotion.resource)
            if self.serving.endpoint is not None:
                self.monitoring.node.add_dependency(self.serving.endpoint.resource)
