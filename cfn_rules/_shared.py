"""What the project rules read from a template: intrinsics, resource references, pipeline bodies, schedules, buses.

Plain functions over the decoded template (cfn-lint's nodes are dict/list/str subclasses, so the same code runs
on ``json.load`` output in the assembly pass and in tests). No rule classes live here: cfn-lint instantiates
every ``CloudFormationLintRule`` subclass it finds in a rules module, so shared code must not define any.
"""

from __future__ import annotations

import json
import pathlib
import re
from collections.abc import Iterator, Mapping
from typing import Any

Path = tuple[str | int, ...]
# What CloudFormation may do when it deploys the app (bootstrap/, docs/security.md); E9072 reads it.
EXECUTION_POLICY = pathlib.Path(__file__).resolve().parent.parent / "bootstrap" / "execution-policy.json"

INTRINSICS = frozenset(
    {
        "Ref",
        "Fn::GetAtt",
        "Fn::Sub",
        "Fn::Join",
        "Fn::If",
        "Fn::Select",
        "Fn::Split",
        "Fn::ImportValue",
        "Fn::GetStackOutput",
        "Fn::FindInMap",
        "Fn::Base64",
        "Fn::GetAZs",
        "Fn::Cidr",
        "Fn::Length",
        "Fn::ToJsonString",
    }
)


def walk(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every (path, value) below ``value``, depth first, ``value`` itself included."""
    yield path, value
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from walk(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk(item, (*path, index))


def is_intrinsic(value: Any) -> bool:
    """Whether ``value`` is a one-key intrinsic function object (``{"Ref": ...}``, ``{"Fn::Sub": ...}``, ...)."""
    return isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in INTRINSICS


def resources(template: Mapping[str, Any], *types: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(logical id, resource) of every resource of one of ``types`` (all resources when none is given)."""
    for logical_id, resource in (template.get("Resources") or {}).items():
        if isinstance(resource, Mapping) and (not types or resource.get("Type") in types):
            yield str(logical_id), resource


def properties(resource: Mapping[str, Any]) -> Mapping[str, Any]:
    """A resource's Properties, or an empty mapping."""
    props = resource.get("Properties")
    return props if isinstance(props, Mapping) else {}


def referenced_id(value: Any) -> str | None:
    """The logical id that a ``Ref`` or ``Fn::GetAtt`` points at, else ``None``."""
    if not isinstance(value, Mapping) or len(value) != 1:
        return None
    if "Ref" in value and isinstance(value["Ref"], str):
        return str(value["Ref"])
    if "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        if isinstance(target, list) and target and isinstance(target[0], str):
            return str(target[0])
        if isinstance(target, str):
            return target.split(".", 1)[0]
    return None


def resolve_resource(
    template: Mapping[str, Any], value: Any, *, type_: str, name_property: str
) -> tuple[str, Mapping[str, Any]] | None:
    """The resource of ``type_`` that ``value`` names: by Ref/GetAtt, or a literal equal to its ``name_property``."""
    target = referenced_id(value)
    for logical_id, resource in resources(template, type_):
        if target == logical_id:
            return logical_id, resource
        if isinstance(value, str) and properties(resource).get(name_property) == value:
            return logical_id, resource
    return None


# --- pipeline definitions --------------------------------------------------------------------------------------


def pipeline_body(props: Mapping[str, Any]) -> Any | None:
    """The parsed JSON body of an ``AWS::SageMaker::Pipeline`` (literal string or the string of an Fn::Sub).

    ``None`` when the definition is elsewhere (S3) or not JSON. Fn::Sub placeholders sit inside JSON strings,
    so the template of the substitution parses as the definition SageMaker will receive, values aside.
    """
    definition = props.get("PipelineDefinition")
    if not isinstance(definition, Mapping):
        return None
    body = definition.get("PipelineDefinitionBody")
    if isinstance(body, Mapping) and "Fn::Sub" in body:
        sub = body["Fn::Sub"]
        body = sub[0] if isinstance(sub, list) and sub else sub
    if not isinstance(body, str):
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def pipeline_steps(definition: Any) -> Iterator[Mapping[str, Any]]:
    """Every step of a pipeline definition, those nested in Condition (If/Else) steps included."""
    if not isinstance(definition, Mapping):
        return
    pending = list(definition.get("Steps") or [])
    while pending:
        step = pending.pop(0)
        if not isinstance(step, Mapping):
            continue
        yield step
        arguments = step.get("Arguments")
        if isinstance(arguments, Mapping):
            for branch in ("IfSteps", "ElseSteps"):
                pending.extend(arguments.get(branch) or [])


def step_arguments(step: Mapping[str, Any]) -> Mapping[str, Any]:
    """A step's own Arguments: those of a Condition step without the steps of its branches."""
    arguments = step.get("Arguments")
    if not isinstance(arguments, Mapping):
        return {}
    return {key: value for key, value in arguments.items() if key not in ("IfSteps", "ElseSteps")}


# --- SageMaker hosting -----------------------------------------------------------------------------------------


def variants(endpoint_config: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The production variants of an endpoint config's properties."""
    found = endpoint_config.get("ProductionVariants")
    return [v for v in found if isinstance(v, Mapping)] if isinstance(found, list) else []


# "Register a model" (Application Auto Scaling): a variant's instance count, endpoint/<EndpointName>/variant/<name>.
VARIANT_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
VARIANT_RESOURCE_ID = re.compile(r"^endpoint/([^/]+)/variant/([^/]+)$")


def endpoint_configs_by_name(template: Mapping[str, Any]) -> dict[str, tuple[str, Mapping[str, Any]]]:
    """Each endpoint of ``template`` with a literal ``EndpointName``, to the endpoint config (logical ID, resource)
    it names, when that config is in the template."""
    found = {}
    for _, endpoint in resources(template, "AWS::SageMaker::Endpoint"):
        name = properties(endpoint).get("EndpointName")
        if not isinstance(name, str):
            continue
        config = resolve_resource(
            template,
            properties(endpoint).get("EndpointConfigName"),
            type_="AWS::SageMaker::EndpointConfig",
            name_property="EndpointConfigName",
        )
        if config is not None:
            found[name] = config
    return found


def is_serverless_config(endpoint_config: Mapping[str, Any]) -> bool:
    """Whether any production variant of the config is serverless (has ``ServerlessConfig``)."""
    return any("ServerlessConfig" in v for v in variants(endpoint_config))


# Instance families with NVMe instance storage, as mlops_constructs/endpoint.supports_volume_kms classifies
# them (a "d" after the generation marks local disks: m5d, c6id, g4dn, p4d, ...; the rest have them in every
# size). Kept here without importing the construct library, which would start jsii inside cfn-lint.
_LOCAL_STORAGE_SUFFIX = re.compile(r"^[a-z]+\d+[a-z]*d[a-z]*$")
_LOCAL_STORAGE_FAMILIES = re.compile(r"^(g5|g6|g6e|p5|p5e|p5en|inf\d+|trn\d+n?)$")


def has_instance_storage(instance_type: str) -> bool:
    """Whether ``ml.<family>.<size>`` has NVMe instance storage (then SageMaker refuses a volume KMS key)."""
    parts = instance_type.split(".")
    if len(parts) != 3 or parts[0] != "ml":
        return False
    family = parts[1]
    return bool(_LOCAL_STORAGE_SUFFIX.match(family) or _LOCAL_STORAGE_FAMILIES.match(family))


# --- Model Monitor schedules -----------------------------------------------------------------------------------

_HOURLY = re.compile(r"^cron\(0 \* \? \* \* \*\)$")
_DAILY = re.compile(r"^cron\(0 ([01]?\d|2[0-3]) \? \* \* \*\)$")
_EVERY_N_HOURS = re.compile(r"^cron\(0 ([01]?\d|2[0-3])/(0?[1-9]|1\d|2[0-4]) \? \* \* \*\)$")


def monitoring_period_seconds(expression: str) -> int | None:
    """Seconds between runs of a Model Monitor schedule expression, 0 for ``NOW``, ``None`` if not accepted.

    The accepted forms are the ones "The cron expression for monitoring schedule" lists: hourly
    ``cron(0 * ? * * *)``, daily ``cron(0 H ? * * *)``, every N hours ``cron(0 H/N ? * * *)`` and ``NOW``.
    """
    if expression == "NOW":
        return 0
    if _HOURLY.match(expression):
        return 3600
    if _DAILY.match(expression):
        return 86400
    every = _EVERY_N_HOURS.match(expression)
    if every:
        return int(every.group(2)) * 3600
    return None


# --- EventBridge -----------------------------------------------------------------------------------------------


def bus_name(value: Any) -> str:
    """The event bus a rule or policy belongs to: ``default`` when unset, the name part of an ARN, or a token."""
    if value is None:
        return "default"
    if isinstance(value, str):
        return value.rsplit("event-bus/", 1)[-1]
    return json.dumps(value, sort_keys=True)  # a Ref/GetAtt: the same token names the same bus


def bus_policy_statement(props: Mapping[str, Any]) -> dict[str, Any]:
    """The statement an ``AWS::Events::EventBusPolicy`` adds to its bus, in either of its two property forms."""
    statement = props.get("Statement")
    if isinstance(statement, Mapping):
        result = dict(statement)
        result.setdefault("Sid", props.get("StatementId"))
        return result
    # The legacy form: Action, Principal and an optional Condition, which EventBridge turns into one statement.
    legacy: dict[str, Any] = {
        "Sid": props.get("StatementId"),
        "Effect": "Allow",
        "Principal": {"AWS": props.get("Principal")},
        "Action": props.get("Action"),
    }
    if props.get("Condition") is not None:
        legacy["Condition"] = props.get("Condition")
    return legacy


def policy_characters(statements: list[dict[str, Any]]) -> int:
    """Characters of the bus policy holding ``statements``, as compact JSON (what the quota counts).

    Unresolved intrinsics count as their JSON text, about the length of the ARN they resolve to.
    """
    document = {"Version": "2012-10-17", "Statement": statements}
    return len(json.dumps(document, separators=(",", ":"), sort_keys=True))


# The shortest value each pseudo parameter takes (partition "aws", a nine-letter Region, a 12-digit account).
SHORTEST_PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "000000000000",
    "AWS::URLSuffix": "amazonaws.com",
}
_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


def shortest_text(value: Any) -> Any:
    """``value`` with every intrinsic replaced by the shortest string it can resolve to.

    Pseudo parameters take their shortest value, ``Fn::Join``/``Fn::Sub`` join what they can; anything else
    (a reference to a resource, an import, a condition) counts as the empty string.
    """
    if isinstance(value, list):
        return [shortest_text(item) for item in value]
    if not isinstance(value, Mapping):
        return value
    if not is_intrinsic(value):
        return {key: shortest_text(item) for key, item in value.items()}
    ((function, argument),) = value.items()
    if function == "Ref" and isinstance(argument, str):
        return SHORTEST_PSEUDO.get(argument, "")
    if function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
        parts = [shortest_text(part) for part in as_list(argument[1])]
        if isinstance(argument[0], str) and all(isinstance(part, str) for part in parts):
            return argument[0].join(parts)
    return _shortest_sub(argument) if function == "Fn::Sub" else ""


def _shortest_sub(argument: Any) -> str:
    """The shortest text of an ``Fn::Sub`` (string form or [string, variables])."""
    text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
    if not isinstance(text, str) or not isinstance(variables, Mapping):
        return ""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        replacement = shortest_text(variables[name]) if name in variables else SHORTEST_PSEUDO.get(name, "")
        return replacement if isinstance(replacement, str) else ""

    return _SUB_VARIABLE.sub(substitute, text)


def iam_policy_characters(document: Any) -> int:
    """The fewest characters IAM can count for ``document``: its compact JSON without whitespace, intrinsics at
    their shortest (see ``shortest_text``)."""
    text = json.dumps(shortest_text(document), separators=(",", ":"), ensure_ascii=False)
    return sum(1 for char in text if not char.isspace())


def has_wildcard_filter(pattern: Any) -> bool:
    """Whether an event pattern uses the ``wildcard`` matching operator anywhere."""
    return any(isinstance(node, Mapping) and "wildcard" in node for _, node in walk(pattern))


# --- SQS, Lambda, KMS ------------------------------------------------------------------------------------------


def is_true(value: Any) -> bool:
    """Whether a template boolean is true (``true`` or the string ``"true"``, as CDK may render it)."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def as_int(value: Any) -> int | None:
    """A template integer (``960`` or the string ``"960"``, as CDK renders some numbers), else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def as_list(value: Any) -> list[Any]:
    """``value`` as a list (IAM and target fields take one item or a list)."""
    return value if isinstance(value, list) else [value]


def resource_of(template: Mapping[str, Any], value: Any, type_: str) -> tuple[str, Mapping[str, Any]] | None:
    """(logical id, resource) of ``type_`` that ``value`` points at by Ref/GetAtt, else ``None``."""
    target = referenced_id(value)
    resource = (template.get("Resources") or {}).get(target) if target else None
    if isinstance(resource, Mapping) and resource.get("Type") == type_:
        return str(target), resource
    return None


def sub_variables(props_value: Any) -> Mapping[str, Any]:
    """The variable map of an ``Fn::Sub`` [string, {vars}] value, else an empty mapping."""
    if isinstance(props_value, Mapping) and "Fn::Sub" in props_value:
        sub = props_value["Fn::Sub"]
        if isinstance(sub, list) and len(sub) == 2 and isinstance(sub[1], Mapping):
            return sub[1]
    return {}


# --- EventBridge targets encrypted with a customer managed key -------------------------------------------------

EVENTS_PRINCIPAL = "events.amazonaws.com"
EVENTS_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
# Resource type of an encrypted EventBridge target -> its key property.
ENCRYPTED_TARGETS = {"AWS::SQS::Queue": "KmsMasterKeyId", "AWS::SNS::Topic": "KmsMasterKeyId"}


def action_allows(pattern: Any, action: str) -> bool:
    """Whether an IAM action pattern (``kms:GenerateDataKey*``, ``kms:*``, ``*``) covers ``action``."""
    if not isinstance(pattern, str):
        return False
    pattern, action = pattern.lower(), action.lower()
    return pattern == action or (pattern.endswith("*") and action.startswith(pattern[:-1]))


def key_policy_missing_for_events(key_props: Mapping[str, Any]) -> list[str]:
    """Which of kms:GenerateDataKey / kms:Decrypt no Allow statement of the key policy gives events.amazonaws.com."""
    policy = key_props.get("KeyPolicy")
    statements = policy.get("Statement") if isinstance(policy, Mapping) else None
    granted: set[str] = set()
    for statement in as_list(statements or []):
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        services = as_list(principal.get("Service")) if isinstance(principal, Mapping) else []
        if EVENTS_PRINCIPAL not in services:
            continue
        for action in EVENTS_KEY_ACTIONS:
            if any(action_allows(pattern, action) for pattern in as_list(statement.get("Action"))):
                granted.add(action)
    return [action for action in EVENTS_KEY_ACTIONS if action not in granted]


Located = tuple[Mapping[str, Any], str, Mapping[str, Any]]  # (template, logical id, resource)


def rule_target_keys(template: Mapping[str, Any], locate: Any) -> Iterator[tuple[str, int, str, str, Located]]:
    """(rule id, target index, target id, key id, key) of every EventBridge rule target encrypted with a KMS key.

    ``locate(value, home_template, type_)`` finds the resource a value names (Ref/GetAtt in ``home_template``, or
    across stacks); targets and keys it cannot find are skipped.
    """
    for rule_id, rule in resources(template, "AWS::Events::Rule"):
        for index, target in enumerate(as_list(properties(rule).get("Targets") or [])):
            if not isinstance(target, Mapping):
                continue
            for type_, key_property in ENCRYPTED_TARGETS.items():
                found = locate(target.get("Arn"), template, type_)
                if not found:
                    continue
                target_template, target_id, target_resource = found
                key = locate(properties(target_resource).get(key_property), target_template, "AWS::KMS::Key")
                if key:
                    yield rule_id, index, target_id, key[1], key
