"""Model containers that the serving image would start in the wrong mode."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch
from cfnlint.template import Template

from cfn_rules._shared import pipeline_body, pipeline_steps, properties, resources, step_arguments, walk

SCRIPT_MODE_KEYS = ("SAGEMAKER_PROGRAM", "SAGEMAKER_SUBMIT_DIRECTORY")


def _empty_script_mode_keys(environment: Any) -> list[str]:
    if not isinstance(environment, Mapping):
        return []
    return [key for key in SCRIPT_MODE_KEYS if key in environment and environment[key] == ""]


def _container_environments(value: Any, path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    for sub_path, node in walk(value, path):
        if isinstance(node, Mapping) and "Environment" in node and ("Image" in node or "ModelDataUrl" in node):
            yield (*sub_path, "Environment"), node["Environment"]


class EmptyScriptModeEnvironment(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type information
    """Model containers must not carry ``SAGEMAKER_PROGRAM`` / ``SAGEMAKER_SUBMIT_DIRECTORY`` set to ``""``.

    Source: the AWS XGBoost container, github.com/aws/sagemaker-xgboost-container,
    ``src/sagemaker_xgboost_container/serving.py`` (and ``serving_mms.py``): serving takes algorithm mode only
    when ``ServingEnv().module_name`` is ``None`` and otherwise imports the named user module; an empty string is
    not ``None``, so the container tries to import a module named ``""``, never answers ``/ping``, and every
    endpoint and transform job of the model fails. Checked on ``AWS::SageMaker::Model`` and
    ``AWS::SageMaker::ModelPackage`` containers and on every step (RegisterModel, CreateModel, Transform, ...)
    of a rendered ``AWS::SageMaker::Pipeline`` definition, whose body is parsed from its JSON string.
    """

    id = "E9002"
    shortdesc = "Empty SAGEMAKER_PROGRAM / SAGEMAKER_SUBMIT_DIRECTORY in a model container"
    description = "An empty script-mode variable makes the XGBoost serving container import module '' and never start"
    source_url = (
        "https://github.com/aws/sagemaker-xgboost-container/blob/master/src/sagemaker_xgboost_container/serving.py"
    )
    tags = ["mlops", "sagemaker", "serving"]  # noqa: RUF012 -- cfn-lint declares tags as a class-level list

    def match(self, cfn: Template) -> list[RuleMatch]:
        """Models and model packages in the template, and containers inside pipeline definitions."""
        matches = []
        for logical_id, resource in resources(cfn.template, "AWS::SageMaker::Model", "AWS::SageMaker::ModelPackage"):
            base = ("Resources", logical_id, "Properties")
            for path, environment in _container_environments(properties(resource), base):
                for key in _empty_script_mode_keys(environment):
                    matches.append(RuleMatch([*path, key], self._message(key, logical_id)))
        for logical_id, resource in resources(cfn.template, "AWS::SageMaker::Pipeline"):
            definition = pipeline_body(properties(resource))
            for step in pipeline_steps(definition):
                for _, environment in _container_environments(step_arguments(step), ()):
                    for key in _empty_script_mode_keys(environment):
                        matches.append(
                            RuleMatch(
                                ["Resources", logical_id, "Properties", "PipelineDefinition"],
                                self._message(key, f"{logical_id} step {step.get('Name')!r}"),
                            )
                        )
        return matches

    @staticmethod
    def _message(key: str, where: str) -> str:
        return (
            f"{where}: container environment sets {key} to an empty string; the XGBoost serving container then "
            "runs script mode and imports module '' (sagemaker-xgboost-container serving.py): leave the key out"
        )
