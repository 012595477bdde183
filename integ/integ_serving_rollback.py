"""Integration test: serving, phase "rollback" (the scenario and its cost: serving_scenario.py)."""

from __future__ import annotations

from serving_scenario import build

build("rollback")
