"""Monitoring settings: the fields this area added, their defaults and the mistakes they refuse."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from mlops_config import ConfigError, parse_config
from mlops_config.monitoring import SAMPLE_FEATURES, AlarmSettings, MonitoringSettings, offset_minutes
from pipeline_defs.steps.sample_data import TARGET_COLUMN, sample_dataframe
from tests.conftest import raw_default_config

SOURCE = Path("config/platform.yaml")


def test_default_features_are_the_sample_dataset_columns() -> None:
    columns = [column for column in sample_dataframe().columns if column != TARGET_COLUMN]
    assert list(SAMPLE_FEATURES) == columns
    assert MonitoringSettings().features == SAMPLE_FEATURES


def test_derived_prefixes_default_to_the_model_folder() -> None:
    settings = MonitoringSettings()
    assert settings.ground_truth_prefix_for("churn") == "churn/ground-truth/"
    custom = MonitoringSettings(ground_truth_prefix="churn/labels/")
    assert custom.ground_truth_prefix_for("churn") == "churn/labels/"


def test_ground_truth_offsets_default_to_the_day_before_yesterday() -> None:
    settings = MonitoringSettings()
    assert (settings.start_time_offset, settings.end_time_offset) == ("-P2D", "-P1D")
    assert offset_minutes("-P2D") == 2880 and offset_minutes("-PT6H") == 360 and offset_minutes("-PT90M") == 90


def test_alarm_defaults_give_one_run_per_monitoring_window() -> None:
    alarms = AlarmSettings()
    assert (alarms.monitoring_period_seconds, alarms.monitoring_evaluation_periods) == (3600, 1)


def _with_monitoring(monitoring: dict[str, Any]) -> dict[str, Any]:
    raw = copy.deepcopy(raw_default_config())
    raw["models"][0]["environments"]["staging"]["monitoring"] = monitoring
    return raw


@pytest.mark.parametrize(
    ("monitoring", "words"),
    [
        ({"features": ["mean radius"]}, ["'mean radius' is not a usable feature name"]),
        ({"features": ["a", "b", "a"]}, ["['a'] listed twice"]),
        ({"features": []}, ["features"]),
        ({"features": ["a", "b"], "categorical_features": ["c"]}, ["categorical_features ['c'] are not in features"]),
        ({"features": ["a", "target"]}, ["target_column 'target' is also listed in features"]),
        ({"alarms": {"evaluation_periods": 2, "datapoints_to_alarm": 3}}, ["datapoints_to_alarm (3) exceeds"]),
        ({"alarms": {"monitoring_period_seconds": 60}}, ["monitoring_period_seconds"]),
        ({"publish_instance_type": "m5.large"}, ["publish_instance_type", "not a SageMaker processing instance type"]),
        # Baselines live where promotion copies them (mlops_constructs.promotion): no prefix to configure.
        ({"baseline_prefix": "churn/baselines/"}, ["baseline_prefix"]),
        ({"backend": "clarify"}, ["backend", "'clarify'", "'open'", "'model_monitor'", "'endpoint_only'"]),
        ({"bias": True}, ["bias: true needs Clarify", "backend is 'open'", "allowed: bias: false"]),
        (
            {"backend": "endpoint_only", "explainability": True},
            ["explainability: true needs Clarify", "backend is 'endpoint_only'"],
        ),
        # Model Monitor's time offsets: negative ISO 8601 durations, start before end.
        ({"start_time_offset": "P1D"}, ["start_time_offset", "'P1D' is not a Model Monitor time offset", "'-P<n>D'"]),
        ({"end_time_offset": "-P1H"}, ["end_time_offset", "'-P1H' is not a Model Monitor time offset"]),
        ({"end_time_offset": "-PT0H"}, ["end_time_offset", "'-PT0H'", "n > 0"]),
        ({"start_time_offset": "-P1234567890123D"}, ["start_time_offset", "at most 15 characters"]),
        (
            {"start_time_offset": "-P1D", "end_time_offset": "-PT24H"},
            ["start_time_offset '-P1D' does not start before end_time_offset '-PT24H'"],
        ),
        (
            {"start_time_offset": "-PT1H", "end_time_offset": "-P1D"},
            ["start_time_offset '-PT1H' does not start before end_time_offset '-P1D'"],
        ),
    ],
)
def test_mistakes_fail_with_the_field_and_what_is_allowed(monitoring: dict[str, Any], words: list[str]) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(_with_monitoring(monitoring), source=SOURCE)
    message = str(error.value)
    assert "config/platform.yaml" in message
    assert "models[0].environments.staging.monitoring" in message
    for word in words:
        assert word in message


def test_custom_offsets_are_accepted() -> None:
    config = parse_config(_with_monitoring({"start_time_offset": "-PT30H", "end_time_offset": "-PT90M"}), source=SOURCE)
    settings = config.models[0].in_environment("staging").monitoring
    assert (settings.start_time_offset, settings.end_time_offset) == ("-PT30H", "-PT90M")


def test_a_custom_feature_list_is_accepted() -> None:
    config = parse_config(
        _with_monitoring({"features": ["age", "plan"], "categorical_features": ["plan"], "target_column": "churned"}),
        source=SOURCE,
    )
    settings = config.models[0].in_environment("staging").monitoring
    assert settings.features == ("age", "plan")
    assert settings.categorical_features == ("plan",)
