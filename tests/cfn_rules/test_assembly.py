"""The assembly checks E9101-E9104 over the templates of one account and Region, and their counting functions."""

from __future__ import annotations

import json
from typing import Any

from cfn_rules import ASSEMBLY_CHECKS, StackTemplate, check_assembly
from cfn_rules._assembly import bus_policy_sizes, serverless_endpoints, wildcard_rule_counts
from tests.cfn_rules.test_eventbridge import PREFIX, WILDCARD, _bus_policy, _rule

DEV, STAGING = "111111111111", "222222222222"
REGION = "eu-west-1"


def _stack(path: str, account: str | None, **resources: dict[str, Any]) -> StackTemplate:
    return StackTemplate(
        path=path, account=account, region=REGION if account else None, template={"Resources": resources}
    )


def _rules(check: str, stacks: list[StackTemplate]) -> list[str]:
    return [f.rule for f in ASSEMBLY_CHECKS[check](stacks)]


def test_bus_policy_sizes_add_up_per_account_and_bus() -> None:
    stacks = [
        _stack("dev/A", DEV, **{f"P{i}": _bus_policy(i) for i in range(3)}),
        _stack("dev/B", DEV, **{f"P{i}": _bus_policy(10 + i) for i in range(2)}, Q=_bus_policy(99, bus="custom")),
        _stack("staging/A", STAGING, P=_bus_policy(1)),
        _stack("agnostic", None, P=_bus_policy(1)),
    ]
    sizes = bus_policy_sizes(stacks)
    assert set(sizes) == {(DEV, REGION, "default"), (DEV, REGION, "custom"), (STAGING, REGION, "default")}
    one = sizes[(STAGING, REGION, "default")]
    # Five statements cost about five times one statement (the wrapper is counted once).
    assert 4.5 * one < sizes[(DEV, REGION, "default")] < 5.1 * one


def test_bus_policy_over_quota_only_across_stacks_fires_and_split_over_accounts_passes() -> None:
    # 20 statements per stack pass cfn-lint's per-template rule; 40 on one bus do not.
    half = {f"P{i}": _bus_policy(i) for i in range(20)}
    other = {f"P{i}": _bus_policy(100 + i) for i in range(20)}
    same_account = [_stack("dev/A", DEV, **half), _stack("dev/B", DEV, **other)]
    two_accounts = [_stack("dev/A", DEV, **half), _stack("staging/B", STAGING, **other)]
    assert _rules("E9101", same_account) == ["E9101"]
    assert _rules("E9101", two_accounts) == []


def test_wildcard_rule_counts_per_account_and_bus() -> None:
    stacks = [
        _stack("dev/A", DEV, **{f"R{i}": _rule(WILDCARD) for i in range(3)}, P=_rule(PREFIX)),
        _stack(
            "dev/B",
            DEV,
            R=_rule(WILDCARD),
            C=_rule(WILDCARD, bus="arn:aws:events:eu-west-1:111111111111:event-bus/custom"),
        ),
    ]
    assert wildcard_rule_counts(stacks) == {(DEV, REGION, "default"): 4, (DEV, REGION, "custom"): 1}


def test_31_wildcard_rules_across_stacks_fire_and_30_pass() -> None:
    first = {f"R{i}": _rule(WILDCARD) for i in range(16)}
    second = {f"R{i}": _rule(WILDCARD) for i in range(15)}
    assert _rules("E9102", [_stack("dev/A", DEV, **first), _stack("dev/B", DEV, **second)]) == ["E9102"]
    second.pop("R0")
    assert _rules("E9102", [_stack("dev/A", DEV, **first), _stack("dev/B", DEV, **second)]) == []


def _serving(serverless: bool) -> StackTemplate:
    variant: dict[str, Any] = {"VariantName": "AllTraffic", "ModelName": "m"}
    variant.update(
        {"ServerlessConfig": {"MaxConcurrency": 5, "MemorySizeInMB": 2048}}
        if serverless
        else {"InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
    )
    return _stack(
        "dev/Serving",
        DEV,
        Config={"Type": "AWS::SageMaker::EndpointConfig", "Properties": {"ProductionVariants": [variant]}},
        Endpoint={
            "Type": "AWS::SageMaker::Endpoint",
            "Properties": {
                "EndpointName": "mlops-dev-model",
                "EndpointConfigName": {"Fn::GetAtt": ["Config", "EndpointConfigName"]},
            },
        },
    )


def _model_monitor(account: str = DEV) -> StackTemplate:
    return _stack(
        "dev/Monitoring",
        account,
        Job={
            "Type": "AWS::SageMaker::DataQualityJobDefinition",
            "Properties": {
                "DataQualityJobInput": {"EndpointInput": {"EndpointName": "mlops-dev-model", "LocalPath": "/opt"}}
            },
        },
        Schedule={
            "Type": "AWS::SageMaker::MonitoringSchedule",
            "Properties": {"EndpointName": "mlops-dev-model", "MonitoringScheduleConfig": {}},
        },
    )


def _capture_pipeline() -> StackTemplate:
    definition = {
        "Steps": [
            {
                "Name": "AnalyseDrift",
                "Type": "Processing",
                "Arguments": {
                    "AppSpecification": {
                        "ContainerArguments": ["--capture-dir", "/opt/ml/processing/input/mlops-dev-model/AllTraffic"]
                    }
                },
            }
        ]
    }
    return _stack(
        "dev/Monitoring",
        DEV,
        Pipeline={
            "Type": "AWS::SageMaker::Pipeline",
            "Properties": {"PipelineDefinition": {"PipelineDefinitionBody": {"Fn::Sub": [json.dumps(definition), {}]}}},
        },
    )


def test_serverless_endpoints_are_found_with_their_variants() -> None:
    assert serverless_endpoints([_serving(True)]) == {(DEV, REGION, "mlops-dev-model"): ["AllTraffic"]}
    assert serverless_endpoints([_serving(False)]) == {}


def test_model_monitor_or_capture_pipeline_on_a_serverless_endpoint_of_another_stack_fires() -> None:
    assert _rules("E9103", [_serving(True), _model_monitor()]) == ["E9103", "E9103"]
    assert _rules("E9103", [_serving(True), _capture_pipeline()]) == ["E9103"]


def test_monitors_on_a_realtime_endpoint_or_in_another_account_pass() -> None:
    assert _rules("E9103", [_serving(False), _model_monitor(), _capture_pipeline()]) == []
    assert _rules("E9103", [_serving(True), _model_monitor(STAGING)]) == []


def _model_stack(account: str, package_account: str) -> StackTemplate:
    arn = f"arn:aws:sagemaker:eu-west-1:{package_account}:model-package/mlops-model/3"
    batch = {
        "Steps": [
            {"Name": "CreateServedModel", "Type": "Model", "Arguments": {"PrimaryContainer": {"ModelPackageName": arn}}}
        ]
    }
    return _stack(
        "staging/Serving",
        account,
        Model={"Type": "AWS::SageMaker::Model", "Properties": {"PrimaryContainer": {"ModelPackageName": arn}}},
        Batch={
            "Type": "AWS::SageMaker::Pipeline",
            "Properties": {"PipelineDefinition": {"PipelineDefinitionBody": json.dumps(batch)}},
        },
    )


def test_model_read_from_another_account_fires_in_models_and_pipelines() -> None:
    findings = ASSEMBLY_CHECKS["E9104"]([_model_stack(STAGING, DEV)])
    assert [f.rule for f in findings] == ["E9104", "E9104"]
    assert "'CreateServedModel'" in str(findings[1])


def test_model_from_the_stacks_own_account_passes() -> None:
    assert _rules("E9104", [_model_stack(STAGING, STAGING)]) == []


def test_check_assembly_runs_every_check_and_is_clean_on_a_clean_assembly() -> None:
    assert set(ASSEMBLY_CHECKS) == {"E9101", "E9102", "E9103", "E9104"}
    assert check_assembly([_serving(False), _model_monitor(), _model_stack(STAGING, STAGING)]) == []
    assert [f.rule for f in check_assembly([_serving(True), _model_stack(STAGING, DEV)])] == ["E9104", "E9104"]
