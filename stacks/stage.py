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
from stacks.model_stack import ModelStack, model_stack_id
from stacks.monitoring_stack import ModelMonitoring
from stacks.serving_stack import ModelServing
from stacks.tagging import tag_resources
from stacks.training_stack import TrainingStack


class MlopsStage(cdk.Stage):
    """The stateful core of an environment plus, per model, a training stack (where it trains) and a model stack.

    Each served model's package is promoted into this environment's own bucket by its model stack's serving; its
    monitoring reads the baselines promoted with it. At most 2 stacks per model and environment, 4 across dev
    (training), staging and prod.
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
        # One stack per model that has a package to serve here (none until the first approval): its serving and,
        # where it has an endpoint and monitoring on, its monitoring (stacks/model_stack.py). It keeps the
        # CloudFormation name the serving stack had, so existing deployments update that stack in place.
        self.models: dict[str, ModelStack] = {}
        for model in config.models:
            package = served_package(config, approved, environment.name, model.name)
            serving = model.in_environment(environment.name).serving
            if package and (serving.mode != "none" or serving.batch.enabled):
                stack = ModelStack(
                    self,
                    model_stack_id(model.name),
                    config=config,
                    environment=environment,
                    model=model,
                    data=self.data,
                    package_arn=package,
                    stack_name=naming.stack_name(config.project, environment.name, f"{model.name}-serving"),
                    description=f"{config.project} {environment.name}: endpoint, batch inference and monitoring of "
                    f"{model.name}",
                )
                tag_resources(stack, {"model": model.name})
                if serving.mode == "components" and self.inference_components is not None:
                    stack.add_stack_dependency(self.inference_components)
                self.models[model.name] = stack
        # The two halves of each model stack, by model, for wiring and tests.
        self.serving: dict[str, ModelServing] = {name: stack.serving for name, stack in self.models.items()}
        self.monitoring: dict[str, ModelMonitoring] = {
            name: stack.monitoring for name, stack in self.models.items() if stack.monitoring is not None
        }
