"""checkov over every template of every stack kind, from its own venv (make checkov creates it)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.security.variants import write_templates

REPO = Path(__file__).resolve().parents[2]
CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"


@pytest.mark.skipif(not CHECKOV.exists(), reason="checkov's own venv is missing: run `make checkov` once")
def test_checkov_passes_every_template(tmp_path: Path, all_templates: dict[str, dict[str, Any]]) -> None:
    written = write_templates(tmp_path / "templates", all_templates)
    assert written
    result = subprocess.run(
        [str(CHECKOV), "--config-file", str(REPO / ".checkov.yaml"), "-d", str(tmp_path / "templates")],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert "Failed checks: 0" in result.stdout
