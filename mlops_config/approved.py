"""The served model versions: which approved model package each environment serves, per model.

Synth never asks AWS. In CI, ``scripts/resolve_approved_models.py`` asks the registry for the latest Approved
package of each model and writes this file; locally it is optional (no file: nothing is served yet, unless
the configuration pins a package). A served package's artifact and drift-check baselines are not inputs: each
environment's promotion copies them from the registry at deploy (``mlops_constructs.promotion``).
"""

from __future__ import annotations

import json
from pathlib import Path

from mlops_config.loader import ConfigError
from mlops_config.platform import PlatformConfig
from mlops_config.serving import MODEL_PACKAGE_ARN

ServedPackages = dict[str, dict[str, str]]
"""environment name -> model name -> model package ARN"""


def load_approved_models(path: Path | None, config: PlatformConfig) -> ServedPackages:
    """Read and check the resolver's output at ``path`` (``None`` or a missing file: nothing approved yet)."""
    if path is None or not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigError(f"{path}: not readable JSON: {error}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: (top level): expected {{environment: {{model: package ARN}}}}")
    env_names = {env.name for env in config.environments}
    model_names = {model.name for model in config.models}
    result: ServedPackages = {}
    for env_name, models in raw.items():
        if env_name not in env_names:
            raise ConfigError(f"{path}: {env_name}: not an environment; allowed: {', '.join(sorted(env_names))}")
        if not isinstance(models, dict):
            raise ConfigError(f"{path}: {env_name}: expected {{model: package ARN}}")
        for model_name, arn in models.items():
            if model_name not in model_names:
                raise ConfigError(
                    f"{path}: {env_name}.{model_name}: not a model; allowed: {', '.join(sorted(model_names))}"
                )
            if not isinstance(arn, str) or not MODEL_PACKAGE_ARN.match(arn):
                raise ConfigError(
                    f"{path}: {env_name}.{model_name}: {arn!r} is not a versioned model package ARN; allowed: "
                    "arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>"
                )
        result[env_name] = dict(models)
    return result


def served_package(config: PlatformConfig, approved: ServedPackages, environment: str, model: str) -> str | None:
    """The package ``model`` serves in ``environment``: a pin in the configuration wins over the resolver."""
    for settings in config.models:
        if settings.name == model:
            pinned = settings.in_environment(environment).serving.model_package_arn
            if pinned:
                return pinned
    return approved.get(environment, {}).get(model)
