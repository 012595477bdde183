"""Retrain trigger: configuration is validated at cold start; the asset stays small and light."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import ModuleType

import pytest
import retrain

FUNCTION_DIR = Path(__file__).resolve().parents[2] / "lambda" / "retrain_trigger"
REQUIRED = [
    "PIPELINE_NAME",
    "MODEL_NAME",
    "ENVIRONMENT_NAME",
    "EXPECTED_ACCOUNT",
    "EXPECTED_REGION",
    "ALARM_NAMES",
    "DATA_BUCKET",
    "DATA_PREFIX",
    "MIN_NEW_OBJECTS",
    "MIN_NEW_BYTES",
    "COOLDOWN_MINUTES",
    "DAILY_CAP",
    "POWERTOOLS_SERVICE_NAME",
]


def test_valid_environment_becomes_typed_settings(retrain_env: dict[str, str]) -> None:
    settings = retrain.Settings.from_env(retrain_env)

    assert settings.pipeline_name == "churn-dev-training"
    assert settings.alarm_names == frozenset({"churn-dev-feature-drift", "churn-dev-model-quality"})
    assert settings.cooldown == timedelta(minutes=60)
    assert (settings.min_new_objects, settings.min_new_bytes, settings.daily_cap) == (3, 0, 3)
    assert settings.max_event_bytes == 65536
    assert settings.history_lookback == timedelta(hours=168)


def test_optional_variables_have_documented_defaults(retrain_env: dict[str, str]) -> None:
    env = {k: v for k, v in retrain_env.items() if k not in {"TRIGGER_PARAMETER_NAME", "LOG_LEVEL"}}

    settings = retrain.Settings.from_env(env)

    assert settings.trigger_parameter_name == "TriggerReason"
    assert settings.log_level == "INFO"


def test_every_missing_variable_is_named_at_once() -> None:
    with pytest.raises(retrain.ConfigError) as raised:
        retrain.Settings.from_env({})

    message = str(raised.value)
    for name in REQUIRED:
        assert f"{name} is missing" in message


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("PIPELINE_NAME", "bad name!", "PIPELINE_NAME='bad name!' is invalid"),
        ("EXPECTED_ACCOUNT", "12345", "EXPECTED_ACCOUNT='12345' is invalid (expected a 12-digit account id)"),
        ("EXPECTED_REGION", "Europe", "EXPECTED_REGION='Europe' is invalid"),
        ("ALARM_NAMES", "churn-drift", "ALARM_NAMES='churn-drift' is invalid (expected a JSON list of alarm names)"),
        ("ALARM_NAMES", '{"a": 1}', "ALARM_NAMES='{\"a\": 1}' is invalid"),
        ("ALARM_NAMES", '[""]', "ALARM_NAMES='[\"\"]' is invalid"),
        ("DATA_BUCKET", "Bad_Bucket", "DATA_BUCKET='Bad_Bucket' is invalid"),
        ("DATA_PREFIX", "churn/training", "DATA_PREFIX='churn/training' is invalid"),
        ("DATA_PREFIX", "/churn/training/", "DATA_PREFIX='/churn/training/' is invalid"),
        ("MIN_NEW_OBJECTS", "three", "MIN_NEW_OBJECTS='three' is not an integer"),
        ("MIN_NEW_BYTES", "-1", "MIN_NEW_BYTES=-1 is out of range"),
        ("COOLDOWN_MINUTES", "1.5", "COOLDOWN_MINUTES='1.5' is not an integer"),
        ("DAILY_CAP", "0", "DAILY_CAP=0 is out of range (expected 1..100)"),
        ("TRIGGER_PARAMETER_NAME", "Trigger Reason", "TRIGGER_PARAMETER_NAME='Trigger Reason' is invalid"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL='LOUD' is invalid (expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL)"),
        ("MAX_EVENT_BYTES", "10", "MAX_EVENT_BYTES=10 is out of range"),
    ],
)
def test_invalid_variable_is_reported_with_name_value_and_rule(
    *, name: str, value: str, expected: str, retrain_env: dict[str, str]
) -> None:
    with pytest.raises(retrain.ConfigError, match="invalid retrain-trigger configuration") as raised:
        retrain.Settings.from_env({**retrain_env, name: value})

    assert expected in str(raised.value)


def test_both_data_thresholds_off_is_refused(retrain_env: dict[str, str]) -> None:
    env = {**retrain_env, "MIN_NEW_OBJECTS": "0", "MIN_NEW_BYTES": "0"}

    with pytest.raises(retrain.ConfigError, match="MIN_NEW_OBJECTS and MIN_NEW_BYTES are both 0"):
        retrain.Settings.from_env(env)


def test_cooldown_longer_than_the_history_window_is_refused(retrain_env: dict[str, str]) -> None:
    env = {**retrain_env, "COOLDOWN_MINUTES": str(25 * 60), "HISTORY_LOOKBACK_HOURS": "24"}

    with pytest.raises(retrain.ConfigError, match="COOLDOWN_MINUTES must not exceed HISTORY_LOOKBACK_HOURS"):
        retrain.Settings.from_env(env)


def test_cold_start_fails_with_a_clear_error(
    retrain_env: dict[str, str], load_handler: Callable[[dict[str, str]], ModuleType]
) -> None:
    env = {k: v for k, v in retrain_env.items() if k != "PIPELINE_NAME"}

    with pytest.raises(retrain.ConfigError, match="PIPELINE_NAME is missing"):
        load_handler(env)


def test_asset_is_the_six_modules_and_under_50_kb() -> None:
    # What Code.from_asset ships with exclude=["__pycache__", ".*"].
    files = sorted(p.name for p in FUNCTION_DIR.iterdir() if p.name != "__pycache__" and not p.name.startswith("."))

    assert files == [
        "handler.py",
        "queue_records.py",
        "retrain.py",
        "trigger_events.py",
        "trigger_models.py",
        "trigger_settings.py",
    ]
    assert sum((FUNCTION_DIR / f).stat().st_size for f in files) < 50 * 1024


def test_importing_the_handler_loads_neither_boto3_nor_pydantic(retrain_env: dict[str, str]) -> None:
    # Import time is kept low by design: boto3 is imported on first use, pydantic never.
    code = (
        "import json, sys; import handler; "
        "print(json.dumps({m: m in sys.modules for m in ('boto3', 'pydantic', 'retrain')}))"
    )
    env = {**os.environ, **retrain_env, "PYTHONPATH": str(FUNCTION_DIR)}

    completed = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, timeout=60
    )

    assert json.loads(completed.stdout.strip().splitlines()[-1]) == {
        "boto3": False,
        "pydantic": False,
        "retrain": True,
    }
