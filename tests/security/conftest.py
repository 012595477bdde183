"""Every template of every stack kind, synthesized once for the security tests."""

from __future__ import annotations

from typing import Any

import pytest

from tests.security.variants import templates


@pytest.fixture(scope="session")
def all_templates(release_app: dict[str, Any], model_monitor_stage: Any) -> dict[str, dict[str, Any]]:
    """``<variant>/<stack path>`` -> template: the shipped app with the release pipeline, and prod with Model
    Monitor (all four kinds): ``tests.security.variants.variant_apps``, taken from the session's apps built to the
    same recipe (tests/conftest.py ``release_app`` and ``model_monitor_stage``) instead of synthesized again."""
    return templates({"shipped": release_app["app"], "model-monitor": model_monitor_stage.node.root})
