"""Snapshots: a few whole templates per stage, so any change to them is seen in review.

Fine-grained assertions elsewhere say what must hold; these say what changed. Asset hashes are normalised (they
follow file contents, which the asset tests cover). After an intended change: run this file with
``UPDATE_SNAPSHOTS=1``, review the diff of ``tests/infra/snapshots/``, then run it again without. A run that rewrites
a snapshot fails on purpose: a comparison that writes its own expectation first could never fail.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

SNAPSHOTS = Path(__file__).with_name("snapshots")
ASSET_HASH = re.compile(r"[0-9a-f]{64}")

CASES = [
    ("dev", "data"),
    ("dev", "training"),
    ("dev", "model"),
    ("staging", "model"),
    ("prod", "data"),
    ("prod", "model"),
]
# The attribute of MlopsStage holding each unit's stacks by model (the data stack is one per stage).
UNITS = {"training": "training", "model": "models"}


def _stack(stages: dict[str, Any], env: str, unit: str) -> Any:
    stage = stages[env]
    return stage.data if unit == "data" else getattr(stage, UNITS[unit])["breast-cancer"]


def _normalised(template: Mapping[str, Any]) -> str:
    return ASSET_HASH.sub("<asset-hash>", json.dumps(template, indent=1, sort_keys=True)) + "\n"


@pytest.mark.parametrize(("env", "unit"), CASES, ids=[f"{e}-{u}" for e, u in CASES])
def test_template_matches_snapshot(approved_app: Any, env: str, unit: str) -> None:
    _, stages = approved_app
    actual = _normalised(Template.from_stack(_stack(stages, env, unit)).to_json())
    path = SNAPSHOTS / f"{env}-{unit}.json"
    expected = path.read_text(encoding="utf-8") if path.exists() else None
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" and actual != expected:
        path.write_text(actual, encoding="utf-8")
        pytest.fail(f"{path.name} rewritten: review its diff, then run again without UPDATE_SNAPSHOTS")
    assert expected is not None, f"no snapshot {path.name}: run with UPDATE_SNAPSHOTS=1 and review it"
    assert actual == expected, f"{env}/{unit} changed: review, then UPDATE_SNAPSHOTS=1"
