"""Blue/green rollouts other than the shipped 10 % canary: the configured size and strategy reach the endpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlops_config import parse_config
from tests.conftest import raw_default_config
from tests.infra.serving_app import build_serving, package_arn, stack_template


def _routing(deployment: dict[str, Any]) -> dict[str, Any]:
    raw = raw_default_config()
    raw["models"][0]["environments"]["prod"]["serving"]["realtime"]["deployment"] = deployment
    config = parse_config(raw, source=Path("config/platform.yaml"))
    _, stacks = build_serving(config, {"prod": {"breast-cancer": package_arn(3)}}, environments=("prod",))
    stack = stacks["prod"]
    assert stack is not None
    (endpoint,) = stack_template(stack).find_resources("AWS::SageMaker::Endpoint").values()
    policy = endpoint["Properties"]["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    return {
        "routing": policy["TrafficRoutingConfiguration"],
        "termination": policy["TerminationWaitInSeconds"],
        "timeout": policy["MaximumExecutionTimeoutInSeconds"],
    }


@pytest.mark.parametrize(
    ("deployment", "expected"),
    [
        (
            {"strategy": "canary", "canary_percent": 25, "wait_interval_seconds": 600},
            {"Type": "CANARY", "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 25}, "WaitIntervalInSeconds": 600},
        ),
        (
            {"strategy": "canary", "canary_percent": 50},
            {"Type": "CANARY", "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 50}, "WaitIntervalInSeconds": 300},
        ),
        (
            {"strategy": "linear", "linear_step_percent": 20, "wait_interval_seconds": 120},
            {
                "Type": "LINEAR",
                "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 20},
                "WaitIntervalInSeconds": 120,
            },
        ),
        ({"strategy": "all_at_once"}, {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 300}),
    ],
    ids=["canary 25%", "canary 50%", "linear 20%", "all at once"],
)
def test_the_configured_rollout_reaches_the_endpoint(deployment: dict[str, Any], expected: dict[str, Any]) -> None:
    deployment = {**deployment, "termination_wait_seconds": 60, "maximum_execution_timeout_seconds": 3600}
    assert _routing(deployment) == {"routing": expected, "termination": 60, "timeout": 3600}
