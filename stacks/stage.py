"""One environment (dev, staging, prod): its own account and region, deployed as one CDK Stage."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from mlops_config import EnvironmentSettings, PlatformConfig
from mlops_config.approved import ServedPackages, served_package
from mlops_constructs import naming
from stacks.data_stack import DataStack
from stacks.inference_components_stack import InferenceComponentsStack
from stacks.monitoring_stack import MonitoringStack
from stacks.serving_stack import ServingStack
from stacks.tagging import tag_resources
from stacks.training_stack import TrainingStack


class MlopsStage(cdk.Stage):
    """The stateful core of an environment plus one stack per model.

    Each served model's package is promoted into this environment's own bucket by its serving stack; the
    monitoring stack reads the baselines promoted with it.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PlatformConfig,
        environment: EnvironmentSettings,
        approved: ServedPackages,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            env=cdk.Environment(account=environment.account, region=environment.region),
            **kwargs,
        )
        tag_resources(self, {"project": config.project, "environment": environment.name})
        self.data = DataStack(
            self,
            "Data",
            config=config,
            environment=environment,
            stack_name=naming.stack_name(config.project, environment.name, "data"),
            description=f"{config.project} {environment.name}: KMS key, buckets, notifications and model registry",
            termination_protection=environment.production,
        )

        self.training: dict[str, TrainingStack] = {}
        if environment.trains:
            for model in config.models:
                self.training[model.name] = TrainingStack(
                    self,
                    f"Training-{model.name}",
                    config=config,
                    environment=environment,
                    model=model,
                    data=self.data,
                    stack_name=naming.stack_name(config.project, environment.name, f"{model.name}-training"),
                    description=f"{config.project} {environment.name}: training and retraining of {model.name}",
                )
                tag_resources(self.training[model.name], {"model": model.name})
        # The shared endpoint of models served as inference components, once one of them has a package to serve.
        self.inference_components: InferenceComponentsStack | None = None
        if any(
            model.in_environment(environment.name).serving.mode == "components"
            and served_package(config, approved, environment.name, model.name)
            for model in config.models
        ):
            self.inference_components = InferenceComponentsStack(
                self,
                "InferenceComponents",
                config=config,
                environment=environment,
                data=self.data,
                stack_name=naming.stack_name(config.project, environment.name, "inference-components"),
                description=f"{config.project} {environment.name}: shared endpoint of inference components",
            )
        # One serving stack per model that has a package to serve here (none until the first approval).
        self.serving: dict[str, ServingStack] = {}
        for model in config.models:
            package = served_package(config, approved, environment.name, model.name)
            serving = model.in_environment(environment.name).serving
            if package and (serving.mode != "none" or serving.batch.enabled):
                self.serving[model.name] = ServingStack(
                    self,
                    f"Serving-{model.name}",
                    config=config,
                    environment=environment,
                    model=model,
                    data=self.data,
                    package_arn=package,
                    stack_name=naming.stack_name(config.project, environment.name, f"{model.name}-serving"),
                    description=f"{config.project} {environment.name}: endpoint and batch inference of {model.name}",
                )
                tag_resources(self.serving[model.name], {"model": model.name})
                if serving.mode == "components" and self.inference_components is not None:
                    self.serving[model.name].add_stack_dependency(self.inference_components)
        # Monitoring, alarms and a dashboard per served endpoint (monitoring needs an endpoint to watch).
        self.monitoring: dict[str, MonitoringStack] = {}
        for model in config.models:
            in_env = model.in_environment(environment.name)
            serving_stack = self.serving.get(model.name)
            if serving_stack is None or in_env.serving.mode == "none" or not in_env.monitoring.enabled:
                continue
            monitoring = MonitoringStack(
                self,
                f"Monitoring-{model.name}",
                config=config,
                environment=environment,
                model=model,
                data=self.data,
                serving=serving_stack,
                stack_name=naming.stack_name(config.project, environment.name, f"{model.name}-monitoring"),
                description=f"{config.project} {environment.name}: monitoring and alarms of {model.name}",
            )
            tag_resources(monitoring, {"model": model.name})
            monitoring.add_stack_dependency(serving_stack)
            self.monitoring[model.name] = monitoring
