"""Build the whole CDK app from a validated configuration: one Stage per environment, the CI/CD stack, the gates."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from mlops_config import ConfigError, PlatformConfig
from mlops_config.approved import ServedPackages
from stacks.cicd_stack import add_cicd
from stacks.stage import MlopsStage

_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")


def select_environments(config: PlatformConfig, selected: str | None) -> Sequence[str]:
    """The environments to synthesize: all of them, or the one ``-c env=NAME`` names."""
    names = [env.name for env in config.environments]
    if selected is None:
        return names
    if selected not in names:
        raise ConfigError(f"-c env={selected}: not an environment; allowed: {', '.join(names)}")
    return [selected]


def cicd_enabled(config: PlatformConfig, requested: object, selected: str | None) -> bool:
    """Whether to synthesize the pipeline stack, from ``-c cicd=...`` (``requested``) and ``-c env=...``.

    Default: on when the config has a tooling section with a connection ARN and every environment is selected.
    """
    if requested is None:
        return selected is None and config.tooling is not None and config.tooling.connection_arn is not None
    value = str(requested).lower()
    if value in _FALSE:
        return False
    if value not in _TRUE:
        raise ConfigError(f"-c cicd={requested}: allowed: true or false")
    if selected is not None:
        raise ConfigError(f"-c cicd=true with -c env={selected}: the pipeline deploys every environment; drop one")
    if config.tooling is None or config.tooling.connection_arn is None:
        raise ConfigError("-c cicd=true: tooling.connection_arn is not set in the configuration")
    return True


def build_platform(
    app: cdk.App,
    config: PlatformConfig,
    *,
    environments: Sequence[str],
    approved: ServedPackages,
    with_cicd: bool = False,
) -> dict[str, MlopsStage]:
    """Add a Stage per selected environment to ``app`` and register cdk-nag as a synth-time validation.

    With ``with_cicd`` the release pipeline stack (stacks/cicd_stack.py) deploys those stages; it needs every
    environment selected and ``tooling.connection_arn`` set.
    """
    stages = {
        name: MlopsStage(app, name, config=config, environment=config.environment(name), approved=approved)
        for name in environments
    }
    if with_cicd:
        # Last: CDK Pipelines reads each stage's stacks when it adds the stage.
        add_cicd(app, config, stages)
    # cdk-nag 3.x runs as a policy-validation plugin: any unacknowledged finding fails synth.
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stages
