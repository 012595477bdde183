"""Retraining triggers of one model in one environment that trains it."""

from __future__ import annotations

from pydantic import Field

from mlops_config.base import ScheduleExpression, Settings


class NewDataTrigger(Settings):
    """Retrain when enough new objects land under the model's training-data prefix."""

    enabled: bool = True
    min_new_objects: int = Field(default=1, ge=1, le=1_000_000)
    # The retraining Lambda refuses MIN_NEW_BYTES above 2**53 at cold start (``retrain.Settings.from_env``): the
    # largest integer a JSON number holds exactly. Refused here, at synth, instead of at the first invocation.
    min_new_bytes: int = Field(default=0, ge=0, le=2**53)


class RetrainingSettings(Settings):
    """When the training pipeline is restarted, and the guards against running it too often."""

    on_drift: bool = True
    new_data: NewDataTrigger = NewDataTrigger()
    schedule: ScheduleExpression | None = None
    cooldown_minutes: int = Field(default=360, ge=0, le=10080)
    daily_cap: int = Field(default=3, ge=1, le=100)
    reserved_concurrency: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="Opt-in reserved concurrency of the retrain function; default none. One run at a time comes from "
        "the FIFO trigger queue, not from this: reserving concurrency fails in accounts whose unreserved concurrency "
        "would drop below 100 (Lambda 'Configuring reserved concurrency for a function').",
    )
