"""Build the whole CDK app from a validated configuration: one Stage per environment, the CI/CD stack, the gates."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from mlops_config import ConfigError, PlatformConfig
from mlops_config.approved import ServedPackages
from stacks.stage import MlopsStage


def select_environments(config: PlatformConfig, selected: str | None) -> Sequence[str]:
    """The environments to synthesize: all of them, or the one ``-c env=NAME`` names."""
    names = [env.name for env in config.environments]
    if selected is None:
        return names
    if selected not in names:
        raise ConfigError(f"-c env={selected}: not an environment; allowed: {', '.join(names)}")
    return [selected]


def build_platform(
    app: cdk.App,
    config: PlatformConfig,
    *,
    environments: Sequence[str],
    approved: ServedPackages,
) -> dict[str, MlopsStage]:
    """Add a Stage per selected environment to ``app`` and register cdk-nag as a synth-time validation."""
    stages = {
        name: MlopsStage(app, name, config=config, environment=config.environment(name), approved=approved)
        for name in environments
    }
    # cdk-nag 3.x runs as a policy-validation plugin: any unacknowledged finding fails synth.
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stages
