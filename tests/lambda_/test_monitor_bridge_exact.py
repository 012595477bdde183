"""Monitor bridge: exact tests for the mutants `make mutate-lambda FN=monitor_bridge` found alive."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from tests.lambda_.test_monitor_bridge import BRIDGE_ENV, BUCKET, PREFIX


def test_model_qualitys_constraint_violations_publish_nothing(bridge: ModuleType) -> None:
    settings = bridge.BridgeSettings.from_env(BRIDGE_ENV)
    report = bridge.ReportObject(
        bucket=BUCKET,
        key=f"{PREFIX}model-quality/run/constraint_violations.json",
        kind="model-quality",
        file_name="constraint_violations.json",
    )
    document: Any = {"violations": [{"feature_name": "auc", "constraint_check_type": "LessThanThreshold"}]}

    assert bridge.translate(report, document, settings) == []
