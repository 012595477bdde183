"""app.py and build_platform: the app synthesizes with and without the pipeline stack, as context selects."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from mlops_config import ConfigError, parse_config
from stacks.cicd_stack import ACCESS_STACK_ID, CICD_STACK_ID
from stacks.platform import cicd_enabled
from tests.conftest import build_app, raw_default_config

SOURCE = Path("config/platform.yaml")


def _without_connection() -> Any:
    raw = copy.deepcopy(raw_default_config())
    del raw["tooling"]["connection_arn"]
    return parse_config(raw, source=SOURCE)


def test_pipeline_is_on_by_default_when_the_config_has_a_connection(default_config: Any) -> None:
    assert cicd_enabled(default_config, None, None) is True
    assert cicd_enabled(_without_connection(), None, None) is False


@pytest.mark.parametrize("value", ["false", "False", "0", "no", False])
def test_context_cicd_false_disables_it(default_config: Any, value: object) -> None:
    assert cicd_enabled(default_config, value, None) is False


def test_narrowing_to_one_environment_leaves_the_pipeline_out(default_config: Any) -> None:
    assert cicd_enabled(default_config, None, "staging") is False
    with pytest.raises(ConfigError, match="-c cicd=true with -c env=staging"):
        cicd_enabled(default_config, "true", "staging")


def test_bad_cicd_values_and_missing_connection_fail_clearly(default_config: Any) -> None:
    with pytest.raises(ConfigError, match=r"-c cicd=maybe: allowed: true or false"):
        cicd_enabled(default_config, "maybe", None)
    with pytest.raises(ConfigError, match=r"tooling\.connection_arn is not set"):
        cicd_enabled(_without_connection(), "true", None)


def test_build_platform_refuses_a_pipeline_over_some_environments(default_config: Any) -> None:
    with pytest.raises(ConfigError, match="the pipeline deploys every environment, but dev, prod"):
        build_app(default_config, environments=["staging"], with_cicd=True)
    with pytest.raises(ConfigError, match=r"tooling\.connection_arn"):
        build_app(_without_connection(), with_cicd=True)


def test_without_cicd_there_is_no_pipeline_nor_access_stack(default_app: Any) -> None:
    app, stages = default_app
    assert app.node.try_find_child(CICD_STACK_ID) is None
    assert all(stage.node.try_find_child(ACCESS_STACK_ID) is None for stage in stages.values())
