"""Templates of the two halves of a model stack (stacks/model_stack.py), for tests that look at one of them.

A model's serving and monitoring are constructs of one stack. ``part_template(serving)`` is that stack's template
without the monitoring's resources (the endpoint side: everything a monitoring change must leave alone), and
``part_template(monitoring)`` only the monitoring's resources; outputs, parameters and conditions are the stack's.
``part_template(stack)`` is the whole template of any stack.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnElement, Stack
from aws_cdk.assertions import Template
from constructs import IConstruct

from stacks.model_stack import MONITORING_ID
from stacks.monitoring_stack import ModelMonitoring


def logical_ids(scope: IConstruct) -> set[str]:
    """The logical IDs of every CloudFormation element below ``scope`` (resources, outputs, parameters)."""
    stack = Stack.of(scope)
    return {str(stack.resolve(child.logical_id)) for child in scope.node.find_all() if isinstance(child, CfnElement)}


def part_json(scope: IConstruct) -> dict[str, Any]:
    """The template of ``scope``'s part of its stack as plain data (see the module docstring)."""
    stack = Stack.of(scope)
    template = dict(Template.from_stack(stack).to_json())
    if scope is stack:
        return template
    if isinstance(scope, ModelMonitoring):
        keep = logical_ids(scope)
        template["Resources"] = {key: value for key, value in template["Resources"].items() if key in keep}
        return template
    monitoring = stack.node.try_find_child(MONITORING_ID)
    drop = logical_ids(monitoring) if monitoring is not None else set()
    template["Resources"] = {key: value for key, value in template["Resources"].items() if key not in drop}
    return template


def part_template(scope: IConstruct) -> Template:
    """``part_json(scope)`` for ``aws_cdk.assertions``."""
    return Template.from_json(part_json(scope))
