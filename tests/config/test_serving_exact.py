"""Whole messages and both sides of each bound in ``mlops_config/serving.py``'s validators, which mutmut leaves
alone (it does not mutate decorated functions); each was checked by a hand mutation that these tests kill."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlops_config import ConfigError, PlatformConfig, parse_config
from mlops_config.serving import SERVERLESS_MEMORY_SIZES
from tests.conftest import raw_default_config

PREFIX = "invalid configuration\n  platform.yaml: models[0].environments."


def _parse(env: str, serving: dict[str, Any]) -> PlatformConfig:
    raw = raw_default_config()
    raw["models"][0]["environments"].setdefault(env, {})["serving"] = serving
    raw["models"][0]["environments"][env].pop("monitoring", None)
    return parse_config(raw, source=Path("platform.yaml"))


def _refusal(env: str, serving: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        _parse(env, serving)
    return str(caught.value)


def test_realtime_max_capacity_below_min_capacity_whole_message() -> None:
    serving = {"mode": "realtime", "realtime": {"autoscaling": {"min_capacity": 3, "max_capacity": 2}}}
    assert _refusal("prod", serving) == (
        f"{PREFIX}prod.serving.realtime.autoscaling: max_capacity (2) is below min_capacity (3); allowed: "
        "max_capacity >= min_capacity"
    )


def test_realtime_initial_count_above_max_capacity_whole_message() -> None:
    realtime = {"initial_instance_count": 5, "autoscaling": {"min_capacity": 1, "max_capacity": 4}}
    assert _refusal("prod", {"mode": "realtime", "realtime": realtime}) == (
        f"{PREFIX}prod.serving.realtime: initial_instance_count (5) is outside autoscaling [1, 4] (auto scaling "
        "would resize it at once); allowed: min_capacity <= initial_instance_count <= max_capacity"
    )


@pytest.mark.parametrize("count", [2, 3])
def test_realtime_counts_at_their_bounds_pass(count: int) -> None:
    realtime = {"initial_instance_count": count, "autoscaling": {"min_capacity": 2, "max_capacity": 3}}
    config = _parse("prod", {"mode": "realtime", "realtime": realtime})
    assert config.models[0].in_environment("prod").serving.realtime.initial_instance_count == count


def test_realtime_min_equal_to_max_capacity_passes() -> None:
    realtime = {"initial_instance_count": 2, "autoscaling": {"min_capacity": 2, "max_capacity": 2}}
    config = _parse("prod", {"mode": "realtime", "realtime": realtime})
    scaling = config.models[0].in_environment("prod").serving.realtime.autoscaling
    assert (scaling.min_capacity, scaling.max_capacity) == (2, 2)


@pytest.mark.parametrize("memory", SERVERLESS_MEMORY_SIZES)
def test_every_serverless_memory_size_passes(memory: int) -> None:
    config = _parse("dev", {"mode": "serverless", "serverless": {"memory_size_mb": memory}})
    assert config.models[0].in_environment("dev").serving.serverless.memory_size_mb == memory


def test_provisioned_concurrency_above_max_concurrency_whole_message() -> None:
    serverless = {"provisioned_concurrency": 6, "max_concurrency": 5}
    assert _refusal("dev", {"mode": "serverless", "serverless": serverless}) == (
        f"{PREFIX}dev.serving.serverless: provisioned_concurrency (6) exceeds max_concurrency (5); allowed: at most "
        "max_concurrency"
    )


def test_provisioned_concurrency_equal_to_max_concurrency_passes() -> None:
    config = _parse("dev", {"mode": "serverless", "serverless": {"provisioned_concurrency": 5, "max_concurrency": 5}})
    assert config.models[0].in_environment("dev").serving.serverless.provisioned_concurrency == 5


def test_batch_manifests_under_the_input_prefix_whole_message() -> None:
    batch = {"enabled": True, "input_prefix": "in/", "manifest_prefix": "in/manifests/"}
    assert _refusal("dev", {"mode": "serverless", "batch": batch}) == (
        f"{PREFIX}dev.serving.batch: input_prefix 'in/' and manifest_prefix 'in/manifests/' overlap: with "
        "run_on_new_data outputs or manifests under the input prefix would count as new data; allowed: disjoint "
        "prefixes"
    )
