"""Run the project rules over a template fragment through cfn-lint's Python API, as --append-rules loads them."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from cfnlint.api import lint
from cfnlint.rules import RulesCollection

import cfn_rules


@cache
def _rules() -> Any:
    collection = RulesCollection(include_rules=["E9"])
    collection.extend(cfn_rules.load_rules())
    return collection


def template(**resources: dict[str, Any]) -> dict[str, Any]:
    """A template holding ``resources`` by logical id."""
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}


def findings(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(rule id, message) of every project-rule finding on ``doc``."""
    matches = lint(json.dumps(doc), rules=_rules(), regions=["eu-west-1"])
    return sorted((m.rule.id, m.message) for m in matches if m.rule.id.startswith("E9"))


def fired(doc: dict[str, Any]) -> list[str]:
    """The ids of the project rules that fire on ``doc``, one per finding."""
    return [rule for rule, _ in findings(doc)]
