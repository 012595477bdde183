"""Serving settings added for endpoints: rollout limits, capacity bounds, rollback alarms, batch prefixes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlops_config import ConfigError, PlatformConfig, parse_config
from tests.conftest import raw_default_config


def parse_with(env: str, serving: dict[str, Any]) -> PlatformConfig:
    raw = raw_default_config()
    raw["models"][0]["environments"].setdefault(env, {})["serving"] = serving
    return parse_config(raw, source=Path("platform.yaml"))


def test_shipped_serving_defaults(default_config: PlatformConfig) -> None:
    prod = default_config.models[0].in_environment("prod").serving
    assert prod.rollback_alarms.errors_5xx_per_minute == 1
    assert prod.rollback_alarms.latency_p99_ms == 1000
    assert prod.batch.prefixes("breast-cancer") == ("breast-cancer/batch/input/", "breast-cancer/batch/output/")
    assert prod.batch.manifest_prefix_for("breast-cancer") == "breast-cancer/batch/manifests/"
    assert prod.batch.arrival_window_minutes == 15
    assert default_config.models[0].in_environment("dev").serving.serverless.baking_seconds == 300


@pytest.mark.parametrize(
    ("env", "serving", "words"),
    [
        (
            "prod",
            {"mode": "realtime", "realtime": {"initial_instance_count": 1, "autoscaling": {"min_capacity": 2}}},
            ["initial_instance_count (1) is outside autoscaling [2, 4]", "min_capacity <= initial_instance_count"],
        ),
        (
            "staging",
            {"mode": "realtime", "realtime": {"initial_instance_count": 5, "autoscaling": {"max_capacity": 4}}},
            ["initial_instance_count (5) is outside autoscaling [1, 4]"],
        ),
        (
            "prod",
            {"mode": "realtime", "realtime": {"deployment": {"strategy": "canary", "canary_percent": 60}}},
            ["canary_percent", "60", "less than or equal to 50"],
        ),
        (
            "prod",
            {"mode": "realtime", "realtime": {"deployment": {"strategy": "linear", "linear_step_percent": 5}}},
            ["linear_step_percent", "greater than or equal to 10"],
        ),
        ("dev", {"rollback_alarms": {"latency_p99_ms": 0}}, ["latency_p99_ms", "greater than 0"]),
        ("dev", {"rollback_alarms": {"evaluation_periods": 0}}, ["evaluation_periods"]),
        ("dev", {"serverless": {"baking_seconds": 7200}}, ["baking_seconds", "3600"]),
        (
            "prod",
            {"batch": {"enabled": True, "input_prefix": "in/", "output_prefix": "in/out/"}},
            ["input_prefix 'in/' and output_prefix 'in/out/' overlap", "disjoint prefixes"],
        ),
        (
            "prod",
            {"batch": {"enabled": True, "input_prefix": "in/", "manifest_prefix": "in/manifests/"}},
            ["input_prefix 'in/' and manifest_prefix 'in/manifests/' overlap", "disjoint prefixes"],
        ),
        ("prod", {"batch": {"enabled": True, "arrival_window_minutes": 0}}, ["arrival_window_minutes", "1"]),
        ("prod", {"batch": {"enabled": True, "arrival_window_minutes": 2000}}, ["arrival_window_minutes", "1440"]),
    ],
)
def test_serving_mistakes_name_field_value_and_allowed(env: str, serving: dict[str, Any], words: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_with(env, serving)
    message = str(caught.value)
    assert "platform.yaml" in message
    assert f"platform.yaml: models[0].environments.{env}.serving." in message
    for word in words:
        assert word in message


def test_disjoint_batch_prefixes_are_fine() -> None:
    # Batch only: no endpoint (a serverless one could not carry prod's capture-based monitoring).
    config = parse_with(
        "prod", {"mode": "none", "batch": {"enabled": True, "input_prefix": "in/", "output_prefix": "out/"}}
    )
    assert config.models[0].in_environment("prod").serving.batch.prefixes("m") == ("in/", "out/")
