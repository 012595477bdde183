"""Which drift alarms retrain a model, and how alarms of serving accounts reach the training account's event bus.

An environment that serves and monitors a model contributes its drift and model-quality alarms
(:func:`drift_alarm_kinds`); the registry environment hears every environment's (:func:`retrain_alarm_sources`).
Serving environments in other accounts forward theirs with ``AlarmForwarder``; the registry environment's Data stack
allows exactly those accounts with ``ForwardedAlarmsBusPolicy`` (one statement per account, whatever the number of
models).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from mlops_config import PlatformConfig
from mlops_config.platform import ModelSettings
from mlops_constructs import naming

# The alarms of a served and monitored model that restart its training: see ``drift_alarm_kinds``.
FEATURE_DRIFT: Final = "feature-drift"
MODEL_QUALITY: Final = "model-quality"
ALARM_DETAIL_TYPE: Final = "CloudWatch Alarm State Change"


@dataclass(frozen=True)
class AlarmSource:
    """The drift/quality alarms of one model in one serving environment (its account and region)."""

    environment: str
    account: str
    region: str
    alarm_names: tuple[str, ...]


def drift_alarm_kinds(config: PlatformConfig, model: ModelSettings, environment: str) -> tuple[str, ...]:
    """The alarm kinds (``naming.alarm_name``) that retrain ``model`` from ``environment``; empty if none.

    Only an environment that serves and monitors the model has its drift and model-quality alarms (both backends
    publish both, see ``mlops_constructs.alarms``), and its own ``retraining.on_drift`` decides whether they
    restart training.
    """
    config.environment(environment)  # KeyError for an unknown environment
    settings = model.in_environment(environment)
    if not settings.retraining.on_drift or settings.serving.mode == "none" or not settings.monitoring.enabled:
        return ()
    if settings.monitoring.backend == "endpoint_only":  # nothing publishes drift or quality there
        return ()
    return (FEATURE_DRIFT, MODEL_QUALITY)


def retrain_alarm_sources(config: PlatformConfig, model: ModelSettings, training_environment: str) -> list[AlarmSource]:
    """The alarms that restart ``model``'s training in ``training_environment``.

    The registry environment hears every environment's alarms (others forward theirs with ``AlarmForwarder``);
    any other environment that trains hears only its own.
    """
    names = (
        [env.name for env in config.environments]
        if training_environment == config.registry_environment
        else [training_environment]
    )
    sources = []
    for name in names:
        env = config.environment(name)
        kinds = drift_alarm_kinds(config, model, name)
        if kinds:
            alarm_names = tuple(naming.alarm_name(config.project, name, model.name, kind) for kind in kinds)
            sources.append(
                AlarmSource(environment=name, account=env.account, region=env.region, alarm_names=alarm_names)
            )
    return sources


def alarm_event_pattern(alarm_names: Sequence[str], accounts: Sequence[str]) -> events.EventPattern:
    """State changes of exactly ``alarm_names`` into ALARM, from ``accounts``."""
    return events.EventPattern(
        source=["aws.cloudwatch"],
        detail_type=[ALARM_DETAIL_TYPE],
        account=list(dict.fromkeys(accounts)),
        detail={"alarmName": list(alarm_names), "state": {"value": ["ALARM"]}},
    )


def forwarded_alarm_accounts(config: PlatformConfig) -> tuple[str, ...]:
    """The accounts that forward drift alarms to the registry environment's default bus, sorted; empty if none.

    The union over every model: the registry environment retrains each model on its serving environments' alarms
    (:func:`retrain_alarm_sources`), and those in other accounts arrive through ``AlarmForwarder``.
    """
    registry = config.environment(config.registry_environment)
    if not registry.trains:
        return ()
    accounts = {
        source.account
        for model in config.models
        for source in retrain_alarm_sources(config, model, registry.name)
        if source.account != registry.account
    }
    return tuple(sorted(accounts))


class ForwardedAlarmsBusPolicy(Construct):
    """Let ``accounts`` put exactly CloudWatch alarm state changes on this account's default event bus.

    One statement per account for the whole environment, whatever the number of models: every statement adds to the
    bus policy, whose size is limited to 10,240 characters ("Amazon EventBridge quotas", Event bus policy size). The
    rules of each model's retrain trigger pick its own alarms by name; ``AlarmForwarder`` only forwards a serving
    environment's retraining alarms. The condition keys ``events:source`` and ``events:detail-type`` limit what the
    accounts may put ("Using IAM policy conditions in Amazon EventBridge").
    """

    def __init__(self, scope: Construct, construct_id: str, *, accounts: Sequence[str]) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        bus_arn = stack.format_arn(
            service="events", resource="event-bus", resource_name="default", arn_format=ArnFormat.SLASH_RESOURCE_NAME
        )
        self.policies: dict[str, events.CfnEventBusPolicy] = {}
        for account in sorted(set(accounts)):
            # L1: the L2 EventBusPolicy cannot resolve a PolicyStatement in this CDK version (circular reference).
            self.policies[account] = events.CfnEventBusPolicy(
                self,
                f"AllowAlarmsFrom{account}",
                event_bus_name="default",
                statement_id=f"retrain-alarms-from-{account}",
                statement={
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{stack.partition}:iam::{account}:root"},
                    "Action": "events:PutEvents",
                    "Resource": bus_arn,
                    "Condition": {
                        "StringEquals": {"events:source": "aws.cloudwatch", "events:detail-type": ALARM_DETAIL_TYPE}
                    },
                },
            )


class AlarmForwarder(Construct):
    """In a serving environment: forward the state changes of ``alarm_names`` into ALARM to the training account.

    A rule on this account's default bus targets ``target_account``'s default bus in ``target_region`` (EventBridge
    assumes a role CDK creates that may put events on that bus only). Events it cannot deliver go to
    ``dead_letter_queue``, a standard queue of this account (see ``mlops_constructs.dead_letters``). The receiving
    side's bus policy is ``ForwardedAlarmsBusPolicy`` in the registry environment's Data stack, for
    :func:`forwarded_alarm_accounts`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alarm_names: Sequence[str],
        target_account: str,
        target_region: str,
        dead_letter_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        if not alarm_names:
            raise ValueError("AlarmForwarder needs at least one alarm name")
        stack = Stack.of(self)
        target_bus = events.EventBus.from_event_bus_arn(
            self,
            "TrainingBus",
            stack.format_arn(
                service="events",
                account=target_account,
                region=target_region,
                resource="event-bus",
                resource_name="default",
                arn_format=ArnFormat.SLASH_RESOURCE_NAME,
            ),
        )
        self.dead_letter_queue = dead_letter_queue
        self.rule = events.Rule(
            self,
            "ForwardAlarms",
            description="Forwards drift/quality alarms entering ALARM to the account that retrains the model",
            event_pattern=alarm_event_pattern(list(alarm_names), [stack.account]),
        )
        self.rule.add_target(targets.EventBus(target_bus, dead_letter_queue=dead_letter_queue))
