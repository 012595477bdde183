"""Monitor bridge: exact tests for the mutants `make mutate-lambda FN=monitor_bridge` found alive."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from tests.lambda_.conftest import REPO_ROOT
from tests.lambda_.test_monitor_bridge import BUCKET, ENDPOINT, FEATURES, PREFIX

BRIDGE_DIR = REPO_ROOT / "lambda" / "monitor_bridge"


def _import(folder: str, name: str) -> Iterator[ModuleType]:
    # As the Lambda runtime imports them (the folder is the asset root), under the names mutmut gives the mutants.
    sys.path.insert(0, str(REPO_ROOT / "lambda" / folder))
    try:
        yield __import__(name)
    finally:
        sys.path.remove(str(REPO_ROOT / "lambda" / folder))


@pytest.fixture
def bridge() -> Iterator[ModuleType]:
    yield from _import("monitor_bridge", "bridge")


def test_model_qualitys_constraint_violations_publish_nothing(bridge: ModuleType) -> None:
    settings = bridge.BridgeSettings.from_env(
        {
            "MODEL_NAME": "breast-cancer",
            "ENVIRONMENT_NAME": "prod",
            "ENDPOINT_NAME": ENDPOINT,
            "REPORT_BUCKET": BUCKET,
            "REPORT_PREFIX": PREFIX,
            "FEATURES": json.dumps(FEATURES),
        }
    )
    report = bridge.ReportObject(
        bucket=BUCKET,
        key=f"{PREFIX}model-quality/run/constraint_violations.json",
        kind="model-quality",
        file_name="constraint_violations.json",
    )
    document: Any = {"violations": [{"feature_name": "auc", "constraint_check_type": "LessThanThreshold"}]}

    assert bridge.translate(report, document, settings) == []
