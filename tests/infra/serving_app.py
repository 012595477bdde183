"""Build serving in isolation: the data stack and, per environment, a stack holding only the model's serving (as the
model stack holds it: construct ID ``Default``, the stack named as the model stack), with cdk-nag on."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from mlops_config import PlatformConfig
from mlops_config.approved import served_package
from mlops_constructs import naming
from stacks.data_stack import DataStack
from stacks.model_stack import SERVING_ID, model_stack_id
from stacks.serving_stack import ModelServing
from tests.conftest import cdk_feature_flags

MODEL = "breast-cancer"


def package_arn(version: int, account: str = "111111111111", group: str = "mlops-breast-cancer") -> str:
    """A versioned model package ARN of the registry (dev) account."""
    return f"arn:aws:sagemaker:eu-west-1:{account}:model-package/{group}/{version}"


def build_serving(
    config: PlatformConfig,
    approved: Mapping[str, Mapping[str, str]],
    *,
    environments: tuple[str, ...] = ("dev", "staging", "prod"),
    outdir: Path | None = None,
) -> tuple[cdk.App, dict[str, ModelServing | None]]:
    """An app with, per environment, a Stage holding the DataStack and (if a package is served) the ModelServing."""
    app = cdk.App(context=cdk_feature_flags(), outdir=str(outdir) if outdir else None)
    result: dict[str, ModelServing | None] = {}
    for name in environments:
        env = config.environment(name)
        stage = cdk.Stage(app, name, env=cdk.Environment(account=env.account, region=env.region))
        data = DataStack(
            stage,
            "Data",
            config=config,
            environment=env,
            stack_name=naming.stack_name(config.project, name, "data"),
        )
        model = next(m for m in config.models if m.name == MODEL)
        package = served_package(config, {k: dict(v) for k, v in approved.items()}, name, MODEL)
        result[name] = None
        if package:
            stack = cdk.Stack(
                stage,
                model_stack_id(MODEL),
                stack_name=naming.stack_name(config.project, name, f"{MODEL}-serving"),
            )
            result[name] = ModelServing(
                stack, SERVING_ID, config=config, environment=env, model=model, data=data, package_arn=package
            )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, result


def stack_template(scope: Any) -> cdk.assertions.Template:
    """The synthesized template of the stack ``scope`` is in (a stack, or the serving built here)."""
    return cdk.assertions.Template.from_stack(cdk.Stack.of(scope))


def template_of(scope: Any) -> dict[str, Any]:
    """``stack_template(scope)`` as plain data."""
    return dict(stack_template(scope).to_json())
