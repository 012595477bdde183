"""Typed, frozen configuration of the platform: the single source of truth for environments and models."""

from mlops_config.loader import ConfigError, load_config, parse_config
from mlops_config.monitoring import AlarmSettings, MonitoringSettings
from mlops_config.platform import (
    EnvironmentSettings,
    LifecycleSettings,
    ModelEnvironmentSettings,
    ModelSettings,
    PlatformConfig,
    ToolingSettings,
    VpcSettings,
)
from mlops_config.retraining import NewDataTrigger, RetrainingSettings
from mlops_config.serving import (
    AutoscalingSettings,
    BatchSettings,
    DeploymentSettings,
    RealtimeSettings,
    ServerlessSettings,
    ServingSettings,
)
from mlops_config.training import TrainingSettings

__all__ = [
    "AlarmSettings",
    "AutoscalingSettings",
    "BatchSettings",
    "ConfigError",
    "DeploymentSettings",
    "EnvironmentSettings",
    "LifecycleSettings",
    "ModelEnvironmentSettings",
    "ModelSettings",
    "MonitoringSettings",
    "NewDataTrigger",
    "PlatformConfig",
    "RealtimeSettings",
    "RetrainingSettings",
    "ServerlessSettings",
    "ServingSettings",
    "ToolingSettings",
    "TrainingSettings",
    "VpcSettings",
    "load_config",
    "parse_config",
]
