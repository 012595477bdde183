"""Checks over all templates of one account and Region: what no single template can show.

The cloud assembly manifest gives each stack its environment ``aws://account/region``; templates themselves
carry no account. Stacks of one account and Region share its event buses and its endpoints.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cfn_rules._shared import (
    bus_name,
    bus_policy_statement,
    has_wildcard_filter,
    is_serverless_config,
    pipeline_body,
    pipeline_steps,
    policy_characters,
    properties,
    resolve_resource,
    resources,
    step_arguments,
    variants,
    walk,
)

POLICY_CHARACTERS_QUOTA = 10_240
WILDCARD_RULES_QUOTA = 30
_PACKAGE_ARN = re.compile(r"^arn:aws[a-z-]*:sagemaker:([a-z0-9-]+):(\d{12}):model-package/")
_JOB_INPUTS = (
    "DataQualityJobInput",
    "ModelQualityJobInput",
    "ModelBiasJobInput",
    "ModelExplainabilityJobInput",
)


@dataclass(frozen=True)
class StackTemplate:
    """One synthesized stack: its display path, its environment and its decoded template."""

    path: str
    account: str | None
    region: str | None
    template: Mapping[str, Any]


@dataclass(frozen=True)
class AssemblyFinding:
    """A rule broken across the templates of one account and Region."""

    rule: str
    stack: str
    message: str

    def __str__(self) -> str:
        return f"{self.stack}: {self.rule} {self.message}"


def _by_environment(stacks: Iterable[StackTemplate]) -> dict[tuple[str, str], list[StackTemplate]]:
    grouped: dict[tuple[str, str], list[StackTemplate]] = defaultdict(list)
    for stack in stacks:
        if stack.account and stack.region:
            grouped[(stack.account, stack.region)].append(stack)
    return dict(grouped)


def bus_policy_sizes(stacks: Iterable[StackTemplate]) -> dict[tuple[str, str, str], int]:
    """(account, region, bus) -> characters of the bus policy all stacks of that environment add up to."""
    statements: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for (account, region), group in _by_environment(stacks).items():
        for stack in group:
            for _, resource in resources(stack.template, "AWS::Events::EventBusPolicy"):
                props = properties(resource)
                statements[(account, region, bus_name(props.get("EventBusName")))].append(bus_policy_statement(props))
    return {key: policy_characters(found) for key, found in statements.items()}


def wildcard_rule_counts(stacks: Iterable[StackTemplate]) -> dict[tuple[str, str, str], int]:
    """(account, region, bus) -> how many rules with wildcard filters all stacks of that environment put on it."""
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    for (account, region), group in _by_environment(stacks).items():
        for stack in group:
            for _, resource in resources(stack.template, "AWS::Events::Rule"):
                props = properties(resource)
                if has_wildcard_filter(props.get("EventPattern")):
                    counts[(account, region, bus_name(props.get("EventBusName")))] += 1
    return dict(counts)


def check_bus_policy_size(stacks: list[StackTemplate]) -> list[AssemblyFinding]:
    """E9101. AWS doc "Amazon EventBridge quotas", Event bus policy size: 10,240 characters per bus policy.

    Every stack of the account adds its statements to the same bus policy, so the total is what counts.
    """
    return [
        AssemblyFinding(
            "E9101",
            f"aws://{account}/{region}",
            f"event bus {bus!r}: the statements of all stacks make a {size}-character policy, over the "
            f"{POLICY_CHARACTERS_QUOTA} quota (Amazon EventBridge quotas, Event bus policy size)",
        )
        for (account, region, bus), size in sorted(bus_policy_sizes(stacks).items())
        if size > POLICY_CHARACTERS_QUOTA
    ]


def check_wildcard_rules(stacks: list[StackTemplate]) -> list[AssemblyFinding]:
    """E9102. AWS doc "Amazon EventBridge quotas", Rules containing wildcards: 30 per event bus, not adjustable."""
    return [
        AssemblyFinding(
            "E9102",
            f"aws://{account}/{region}",
            f"event bus {bus!r}: {count} rules with wildcard filters across stacks, over the quota of "
            f"{WILDCARD_RULES_QUOTA} (Amazon EventBridge quotas, Rules containing wildcards)",
        )
        for (account, region, bus), count in sorted(wildcard_rule_counts(stacks).items())
        if count > WILDCARD_RULES_QUOTA
    ]


def serverless_endpoints(stacks: Iterable[StackTemplate]) -> dict[tuple[str, str, str], list[str]]:
    """(account, region, endpoint name) -> variant names of every literally named endpoint with a serverless config."""
    found: dict[tuple[str, str, str], list[str]] = {}
    for (account, region), group in _by_environment(stacks).items():
        for stack in group:
            for _, endpoint in resources(stack.template, "AWS::SageMaker::Endpoint"):
                props = properties(endpoint)
                name = props.get("EndpointName")
                config = resolve_resource(
                    stack.template,
                    props.get("EndpointConfigName"),
                    type_="AWS::SageMaker::EndpointConfig",
                    name_property="EndpointConfigName",
                )
                if isinstance(name, str) and config and is_serverless_config(properties(config[1])):
                    found[(account, region, name)] = [
                        str(v.get("VariantName")) for v in variants(properties(config[1])) if v.get("VariantName")
                    ]
    return found


def _monitored_endpoints(template: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(logical id, endpoint name) of every Model Monitor schedule or job definition reading an endpoint."""
    found = []
    for logical_id, resource in resources(template, "AWS::SageMaker::MonitoringSchedule"):
        props = properties(resource)
        if isinstance(props.get("EndpointName"), str):
            found.append((logical_id, str(props["EndpointName"])))
        for _, node in walk(props.get("MonitoringScheduleConfig")):
            if isinstance(node, Mapping) and isinstance(node.get("EndpointInput"), Mapping):
                name = node["EndpointInput"].get("EndpointName")
                if isinstance(name, str):
                    found.append((logical_id, name))
    for logical_id, resource in resources(template):
        if not str(resource.get("Type", "")).endswith("JobDefinition"):
            continue
        props = properties(resource)
        for key in _JOB_INPUTS:
            job_input = props.get(key)
            endpoint_input = job_input.get("EndpointInput") if isinstance(job_input, Mapping) else None
            if isinstance(endpoint_input, Mapping) and isinstance(endpoint_input.get("EndpointName"), str):
                found.append((logical_id, str(endpoint_input["EndpointName"])))
    return found


def check_monitor_on_serverless(stacks: list[StackTemplate]) -> list[AssemblyFinding]:
    """E9103. No capture-reading monitor on a serverless endpoint, whichever stack of the account holds it.

    AWS doc: "Serverless Inference", Feature exclusions: serverless endpoints have no data capture and no Model
    Monitor. Flags Model Monitor schedules and job definitions naming the endpoint, and pipelines reading its
    capture layout ``<endpoint>/<variant>/`` ("Capture data from real-time endpoint" gives that layout).
    """
    serverless = serverless_endpoints(stacks)
    findings = []
    for stack in stacks:
        if not (stack.account and stack.region):
            continue
        for logical_id, endpoint in _monitored_endpoints(stack.template):
            if (stack.account, stack.region, endpoint) in serverless:
                findings.append(
                    AssemblyFinding(
                        "E9103",
                        stack.path,
                        f"{logical_id} monitors {endpoint!r}, a serverless endpoint: it has no data capture and no "
                        "Model Monitor (Serverless Inference, Feature exclusions)",
                    )
                )
        for logical_id, resource in resources(stack.template, "AWS::SageMaker::Pipeline"):
            body = json.dumps(pipeline_body(properties(resource)))
            for (account, region, endpoint), variant_names in serverless.items():
                if (account, region) != (stack.account, stack.region):
                    continue
                if any(f"{endpoint}/{variant}" in body for variant in variant_names):
                    findings.append(
                        AssemblyFinding(
                            "E9103",
                            stack.path,
                            f"{logical_id} reads the data capture of {endpoint!r}, a serverless endpoint, which "
                            "captures nothing (Serverless Inference, Feature exclusions)",
                        )
                    )
    return findings


def _package_names(template: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(where, ModelPackageName) of Model containers and of pipeline steps in ``template``."""
    found = []
    for logical_id, resource in resources(template, "AWS::SageMaker::Model"):
        for _, node in walk(properties(resource)):
            if isinstance(node, Mapping) and isinstance(node.get("ModelPackageName"), str):
                found.append((logical_id, str(node["ModelPackageName"])))
    for logical_id, resource in resources(template, "AWS::SageMaker::Pipeline"):
        for step in pipeline_steps(pipeline_body(properties(resource))):
            for _, node in walk(step_arguments(step)):
                if isinstance(node, Mapping) and isinstance(node.get("ModelPackageName"), str):
                    found.append((f"{logical_id} step {step.get('Name')!r}", str(node["ModelPackageName"])))
    return found


def check_model_from_other_account(stacks: list[StackTemplate]) -> list[AssemblyFinding]:
    """E9104. A model is served from a package of its own account, not read from another account at run time.

    Project rule from issue 12 (self-contained environments): each serving and monitoring account holds its own
    copy of the approved model. AWS doc: API reference "PutModelPackageGroupPolicy": a package is usable from
    another account only through a resource policy on its group, so a foreign ``ModelPackageName`` ties the
    environment to the registry account at every CreateModel (and breaks when that policy changes). Judged on
    literal ARNs against the stack's account from the manifest.
    """
    findings = []
    for stack in stacks:
        if not stack.account:
            continue
        for where, name in _package_names(stack.template):
            match = _PACKAGE_ARN.match(name)
            if match and match.group(2) != stack.account:
                findings.append(
                    AssemblyFinding(
                        "E9104",
                        stack.path,
                        f"{where} reads model package {name} from account {match.group(2)}, not the stack's "
                        f"account {stack.account}: serve a copy registered in this account",
                    )
                )
    return findings


ASSEMBLY_CHECKS: dict[str, Callable[[list[StackTemplate]], list[AssemblyFinding]]] = {
    "E9101": check_bus_policy_size,
    "E9102": check_wildcard_rules,
    "E9103": check_monitor_on_serverless,
    "E9104": check_model_from_other_account,
}


def check_assembly(stacks: Iterable[StackTemplate]) -> list[AssemblyFinding]:
    """Every assembly check over ``stacks``; the findings, in check order."""
    stacks = list(stacks)
    return [finding for check in ASSEMBLY_CHECKS.values() for finding in check(stacks)]
