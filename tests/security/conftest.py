"""Every template of every stack kind, synthesized once for the security tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.security.variants import templates, variant_apps


@pytest.fixture(scope="session")
def all_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """``<variant>/<stack path>`` -> template: the shipped app with the release pipeline, and prod with Model
    Monitor (all four kinds)."""
    return templates(variant_apps(Path(tmp_path_factory.mktemp("security"))))
