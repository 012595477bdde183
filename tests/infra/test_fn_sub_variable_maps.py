"""No Fn::Sub variable map in any template holds a cross-stack reference.

With ``@aws-cdk/core:defaultCrossStackReferences: weak`` CDK writes a reference to another stack as
``Fn::GetStackOutput``, which returns InternalFailure inside an ``Fn::Sub`` variable map (AWS CloudFormation,
"Fn::GetStackOutput", Known limitations). The SageMaker pipelines pass their whole definition through such a map.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

CROSS_STACK = ("Fn::GetStackOutput", "Fn::ImportValue")


def _stacks(app: cdk.App) -> list[cdk.Stack]:
    return [node for node in app.node.find_all() if isinstance(node, cdk.Stack)]


def _variable_maps(value: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every ``{"Fn::Sub": [string, {variables}]}`` inside ``value``, with where it is."""
    if isinstance(value, dict):
        sub = value.get("Fn::Sub")
        if isinstance(sub, list) and len(sub) == 2 and isinstance(sub[1], dict):  # [string, map]
            yield path, sub[1]
        for key, item in value.items():
            yield from _variable_maps(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _variable_maps(item, f"{path}[{index}]")


def _cross_stack(value: Any) -> list[str]:
    text = json.dumps(value)
    return [function for function in CROSS_STACK if f'"{function}"' in text]


@pytest.fixture(scope="module")
def templates(approved_app: Any) -> dict[str, dict[str, Any]]:
    app, _ = approved_app
    return {stack.node.path: dict(Template.from_stack(stack).to_json()) for stack in _stacks(app)}


def test_no_fn_sub_variable_map_holds_a_cross_stack_reference(templates: dict[str, dict[str, Any]]) -> None:
    offending = [
        f"{stack}: {path}.{name} uses {', '.join(found)}"
        for stack, template in templates.items()
        for path, variables in _variable_maps(template.get("Resources", {}), "Resources")
        for name, value in variables.items()
        if (found := _cross_stack(value))
    ]

    assert offending == []


def test_every_pipeline_definition_was_inspected(templates: dict[str, dict[str, Any]]) -> None:
    # The check above means something only if it sees the definitions: every AWS::SageMaker::Pipeline body is an
    # Fn::Sub with a variable map, and the key there is this stack's SSM-typed parameter.
    pipelines = {
        f"{stack}/{logical_id}": resource["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]
        for stack, template in templates.items()
        for logical_id, resource in template.get("Resources", {}).items()
        if resource["Type"] == "AWS::SageMaker::Pipeline"
    }
    names = {
        resource["Properties"]["PipelineName"]
        for template in templates.values()
        for resource in template.get("Resources", {}).values()
        if resource["Type"] == "AWS::SageMaker::Pipeline"
    }
    assert "mlops-dev-breast-cancer-training" in names
    assert any(name.endswith("-batch") for name in names)
    for where, body in pipelines.items():
        stack = where.rsplit("/", 1)[0]
        _, variables = body["Fn::Sub"]
        key = variables["KmsKeyArn"]
        assert set(key) == {"Ref"}, where
        parameter = templates[stack]["Parameters"][key["Ref"]]
        assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>", where
        # ... naming the parameter that the data stack of the same stage (environment) writes the key ARN to.
        stage = stack.split("/", 1)[0]
        written = {
            resource["Properties"]["Name"]: resource["Properties"]["Value"]
            for other, template in templates.items()
            if other.split("/", 1)[0] == stage
            for resource in template.get("Resources", {}).values()
            if resource["Type"] == "AWS::SSM::Parameter"
        }
        assert parameter["Default"] in written, where
        assert "DataKey" in json.dumps(written[parameter["Default"]]), where
