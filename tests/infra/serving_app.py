"""Build serving stacks in isolation: the data stack and one serving stack per environment, with cdk-nag on."""

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
from stacks.serving_stack import ServingStack
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
) -> tuple[cdk.App, dict[str, ServingStack | None]]:
    """An app with, per environment, a Stage holding the DataStack and (if a package is served) the ServingStack."""
    app = cdk.App(context=cdk_feature_flags(), outdir=str(outdir) if outdir else None)
    result: dict[str, ServingStack | None] = {}
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
        result[name] = (
            ServingStack(
                stage,
                f"Serving-{MODEL}",
                config=config,
                environment=env,
                model=model,
                data=data,
                package_arn=package,
                stack_name=naming.stack_name(config.project, name, f"{MODEL}-serving"),
            )
            if package
            else None
        )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, result


def template_of(stack: Any) -> dict[str, Any]:
    """The synthesized template of ``stack`` as plain data."""
    return dict(cdk.assertions.Template.from_stack(stack).to_json())
