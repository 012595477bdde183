"""Rules of the inference modes that span a model and its environment (checked once the whole file is read)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_config.inference_modes import has_accelerators

if TYPE_CHECKING:
    from mlops_config.platform import PlatformConfig


def check_inference_modes(config: PlatformConfig) -> None:
    """``ValueError`` naming the field when a model's inference mode does not fit its environment."""
    # Imported here: approved imports platform, which calls this function.
    from mlops_config.approved import package_arn_problem

    environments = {env.name: (index, env) for index, env in enumerate(config.environments)}
    for model_index, model in enumerate(config.models):
        for env_name in model.environments:
            if env_name not in environments:
                continue  # reported by the caller's cross-reference check
            env_index, env = environments[env_name]
            serving = model.in_environment(env_name).serving
            path = f"models[{model_index}].environments.{env_name}.serving"
            if serving.mode == "components":
                shared = env.inference_components
                if shared is None:
                    raise ValueError(
                        f"{path}.mode: 'components' needs the environment's shared endpoint, and "
                        f"environments[{env_index}] ({env_name}) sets no inference_components; allowed: an "
                        "inference_components block on the environment, or another serving.mode"
                    )
                devices = serving.inference_component.compute.accelerator_devices
                if devices is not None and not has_accelerators(shared.instance_type):
                    raise ValueError(
                        f"{path}.inference_component.compute.accelerator_devices: {devices} accelerator(s) per copy, "
                        f"but environments[{env_index}].inference_components.instance_type {shared.instance_type!r} "
                        "has none; allowed: no accelerator_devices, or a GPU/Inferentia/Trainium instance type "
                        "(ml.g5.*, ml.g6.*, ml.p4d.*, ml.inf2.*, ...)"
                    )
            shadow = serving.realtime.shadow
            if serving.mode == "realtime" and shadow is not None:
                problem = package_arn_problem(shadow.production_package_arn, config, model.name)
                if problem is not None:
                    raise ValueError(
                        f"{path}.realtime.shadow.production_package_arn: {shadow.production_package_arn!r} {problem}; "
                        "allowed: a version of the model's package group in the registry"
                    )
                if shadow.production_package_arn == serving.model_package_arn:
                    raise ValueError(
                        f"{path}.realtime.shadow.production_package_arn: the pinned candidate "
                        "(model_package_arn) is the production package itself; allowed: another version (a shadow "
                        "test compares two versions), or no shadow block"
                    )
