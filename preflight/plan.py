"""What an environment's configuration will ask of its account: instances per SageMaker usage, serverless
concurrency, Model Monitor, notification e-mails. Pure: no AWS calls."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from mlops_config import PlatformConfig

# SageMaker quota names are "<instance type> for <usage> usage" (Service Quotas, service code "sagemaker").
USAGES = ("endpoint", "training job", "processing job", "transform job")


@dataclass(frozen=True)
class Plan:
    """The account-level needs of one environment."""

    environment: str
    account: str
    region: str
    instances: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(usage, instance type) -> instances that may run at once."""
    serverless_endpoints: int = 0
    serverless_concurrency: int = 0
    model_monitor: bool = False
    notification_emails: tuple[str, ...] = ()
    models: int = 0


def plan_for(config: PlatformConfig, name: str) -> Plan:
    """The needs of environment ``name``.

    Real-time endpoints count twice their autoscaling maximum: a blue/green update (all-at-once, canary or linear
    traffic shifting) brings up the new fleet next to the old one before it shifts traffic and terminates the old
    ("Blue/Green Deployments", SageMaker Developer Guide), and autoscaling may have grown the old fleet to its
    maximum. A training run's two baselining processing steps may run at once, so processing counts twice.
    """
    environment = config.environment(name)
    instances: Counter[tuple[str, str]] = Counter()
    serverless_endpoints = serverless_concurrency = 0
    model_monitor = False
    for model in config.models:
        in_env = model.in_environment(name)
        serving = in_env.serving
        if environment.trains:
            training = model.training
            instances["training job", training.training_instance_type] += training.training_instance_count
            instances["processing job", training.processing_instance_type] += 2 * training.processing_instance_count
        if serving.mode == "realtime":
            realtime = serving.realtime
            fleet = max(realtime.initial_instance_count, realtime.autoscaling.max_capacity)
            instances["endpoint", realtime.instance_type] += 2 * fleet
            monitoring = in_env.monitoring
            if monitoring.enabled and monitoring.backend in ("open", "model_monitor"):
                instances["processing job", monitoring.instance_type] += monitoring.instance_count
                if monitoring.backend == "open":
                    instances["processing job", monitoring.publish_instance_type] += 1
                model_monitor = model_monitor or monitoring.backend == "model_monitor"
        elif serving.mode == "serverless":
            serverless_endpoints += 1
            serverless_concurrency += serving.serverless.max_concurrency
        if serving.batch.enabled:
            instances["transform job", serving.batch.instance_type] += serving.batch.instance_count
    return Plan(
        environment=name,
        account=environment.account,
        region=environment.region,
        instances=instances,
        serverless_endpoints=serverless_endpoints,
        serverless_concurrency=serverless_concurrency,
        model_monitor=model_monitor,
        notification_emails=tuple(environment.notification_emails),
        models=len(config.models),
    )
