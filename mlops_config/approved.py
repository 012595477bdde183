"""The served model versions: which approved model package each environment serves, per model.

Synth never asks AWS. In CI, ``scripts/resolve_approved_models.py`` asks the registry for the latest Approved
package of each model and writes this file; locally it is optional (no file: nothing is served yet, unless
the configuration pins a package). A served package's artifact and drift-check baselines are not inputs: each
environment's promotion copies them from the registry at deploy (``mlops_constructs.promotion``).
"""

from __future__ import annotations

from pathlib import Path

from mlops_config.base import ascii_fullmatch, shown
from mlops_config.loader import ConfigError, read_json
from mlops_config.platform import PlatformConfig
from mlops_config.serving import MODEL_PACKAGE_ARN
from mlops_constructs.naming import model_package_group_name

ServedPackages = dict[str, dict[str, str]]
"""environment name -> model name -> model package ARN"""


def _entry(name: str) -> str:
    """An entry name as written when it is short and printable, else its bounded repr."""
    return name if len(name) <= 64 and name.isprintable() else shown(name)


def _partition(region: str) -> str:
    return "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"


def package_arn_problem(arn: object, config: PlatformConfig, model: str) -> str | None:
    """What is wrong with ``arn`` as the served package of ``model`` (``None`` if nothing).

    A package the environments serve comes from the registry: its account and region, the model's own package
    group (``mlops_constructs.naming.model_package_group_name``), a version of at least 1 (SageMaker AI developer
    guide, "Model Registry Models, Model Versions, and Model Groups": versions start at 1 and count up).
    """
    if not isinstance(arn, str) or not ascii_fullmatch(MODEL_PACKAGE_ARN, arn):
        return "is not a versioned model package ARN"
    parts = MODEL_PACKAGE_ARN.fullmatch(arn)
    assert parts is not None
    registry = config.registry
    expected = {
        "partition": _partition(registry.region),
        "region": registry.region,
        "account": registry.account,
        "group": model_package_group_name(config.project, model),
    }
    for part, wanted in expected.items():
        if parts[part] != wanted:
            return f"{part} {parts[part]!r} is not the registry's {wanted!r}"
    version = parts["version"]
    if version.startswith("0"):
        return f"version {version!r} is not a package version (1 or more, no leading zeros)"
    return None


def load_approved_models(path: Path | None, config: PlatformConfig) -> ServedPackages:
    """Read and check the resolver's output at ``path`` (``None`` or a missing file: nothing approved yet).

    The file is JSON as the resolver writes it (UTF-8; a byte-order mark or UTF-16 from a hand edit on Windows is
    read too). Every entry names a configured environment and model and a package of that model in the registry;
    anything else fails naming the file and the entry.
    """
    if path is None or not path.exists():
        return {}
    raw = read_json(path, "approved-models file")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: (top level): expected {{environment: {{model: package ARN}}}}")
    env_names = {env.name for env in config.environments}
    model_names = {model.name for model in config.models}
    result: ServedPackages = {}
    for env_name, models in raw.items():
        if env_name not in env_names:
            raise ConfigError(
                f"{path}: {_entry(env_name)}: not an environment; allowed: {', '.join(sorted(env_names))}"
            )
        if not isinstance(models, dict):
            raise ConfigError(f"{path}: {env_name}: expected {{model: package ARN}}, got {type(models).__name__}")
        for model_name, arn in models.items():
            if model_name not in model_names:
                raise ConfigError(
                    f"{path}: {env_name}.{_entry(model_name)}: not a model; allowed: {', '.join(sorted(model_names))}"
                )
            problem = package_arn_problem(arn, config, model_name)
            if problem is not None:
                registry = config.registry
                raise ConfigError(
                    f"{path}: {env_name}.{model_name}: {shown(arn)} {problem}; allowed: "
                    f"arn:{_partition(registry.region)}:sagemaker:{registry.region}:{registry.account}:model-package/"
                    f"{model_package_group_name(config.project, model_name)}/<version, 1 or more>"
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
