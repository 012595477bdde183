"""Event quotas that must not grow with the number of models, and senders that can use the key they encrypt with.

Two apps are synthesized (cdk-nag runs): the shipped configuration with one model and a derived one with three,
every model served and monitored everywhere and prod on Model Monitor. Between them:

- the registry environment's default-bus policy (quota: 10,240 characters, "Amazon EventBridge quotas") keeps the
  same size: one statement per serving account, not two per model;
- no event bus gets a rule with a ``wildcard`` pattern (quota: 30 such rules per bus, not adjustable), so the 31st
  Model Monitor model cannot fail.

Then every sender to a KMS-encrypted queue or topic in the three-model app is checked against the key it needs
("Amazon SQS key management": a producer needs kms:GenerateDataKey and kms:Decrypt on the queue's key).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops_config import parse_config
from mlops_constructs.drift_alarm_routing import forwarded_alarm_accounts
from tests.conftest import DEFAULT_CONFIG, build_app, raw_default_config
from tests.infra.stack_parts import part_template

ENVIRONMENTS = ("dev", "staging", "prod")
ACCOUNTS = {"dev": "111111111111", "staging": "222222222222", "prod": "333333333333"}
BASE_MODEL = "breast-cancer"
Templates = dict[str, dict[str, dict[str, Any]]]  # environment -> stack name -> template


def _raw_config(models: int) -> dict[str, Any]:
    raw = copy.deepcopy(raw_default_config())
    (base,) = [m for m in raw["models"] if m["name"] == BASE_MODEL]
    base["environments"]["prod"].setdefault("monitoring", {})["backend"] = "model_monitor"
    copies = []
    for index in range(1, models):
        model = copy.deepcopy(base)
        model["name"] = f"model-{index}"
        copies.append(model)
    raw["models"] = [base, *copies]
    return raw


def _synth(models: int, outdir: Path) -> Templates:
    config = parse_config(_raw_config(models), source=DEFAULT_CONFIG)
    approved = {
        env: {
            model.name: f"arn:aws:sagemaker:eu-west-1:111111111111:model-package/mlops-{model.name}/3"
            for model in config.models
        }
        for env in ENVIRONMENTS
    }
    app, _ = build_app(config, approved=approved, outdir=outdir)
    assembly = app.synth()  # cdk-nag runs here
    templates: Templates = {}
    for env in ENVIRONMENTS:
        stage = assembly.get_nested_assembly(f"assembly-{env}")
        templates[env] = {stack.stack_name: dict(stack.template) for stack in stage.stacks}
    return templates


@pytest.fixture(scope="module")
def one_model(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    return _synth(1, tmp_path_factory.mktemp("scale-1"))


@pytest.fixture(scope="module")
def three_models(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    return _synth(3, tmp_path_factory.mktemp("scale-3"))


def _resources(templates: dict[str, dict[str, Any]], kind: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for stack_name, template in templates.items():
        for logical_id, resource in template.get("Resources", {}).items():
            if resource["Type"] == kind:
                yield stack_name, logical_id, resource


def bus_policy_characters(templates: dict[str, dict[str, Any]]) -> int:
    """Characters the environment's stacks add to its default bus policy (each statement as EventBridge stores it)."""
    return sum(
        len(json.dumps(resource["Properties"]["Statement"], separators=(",", ":")))
        for _, _, resource in _resources(templates, "AWS::Events::EventBusPolicy")
        if resource["Properties"].get("EventBusName", "default") == "default"
    )


def _has_wildcard(pattern: Any) -> bool:
    if isinstance(pattern, dict):
        return "wildcard" in pattern or any(_has_wildcard(value) for value in pattern.values())
    if isinstance(pattern, list):
        return any(_has_wildcard(value) for value in pattern)
    return False


def wildcard_rules(templates: dict[str, dict[str, Any]]) -> list[str]:
    """Rules on the default bus whose pattern uses the ``wildcard`` operator (``anything-but`` wildcards included)."""
    return [
        f"{stack}/{logical_id}"
        for stack, logical_id, resource in _resources(templates, "AWS::Events::Rule")
        if "EventBusName" not in resource["Properties"] and _has_wildcard(resource["Properties"].get("EventPattern"))
    ]


# --- quotas that must not grow with the number of models ------------------------------------------------------


def test_the_registry_bus_policy_does_not_grow_with_the_number_of_models(
    one_model: Templates, three_models: Templates
) -> None:
    size_1, size_3 = bus_policy_characters(one_model["dev"]), bus_policy_characters(three_models["dev"])

    assert size_1 == size_3
    assert 0 < size_3 <= 10_240
    # One statement per serving account that forwards alarms, in the Data stack.
    statements = [
        (stack, resource["Properties"]["Statement"])
        for stack, _, resource in _resources(three_models["dev"], "AWS::Events::EventBusPolicy")
    ]
    assert {stack for stack, _ in statements} == {"mlops-dev-data"}
    assert sorted(s["Principal"]["AWS"].split(":")[4] for _, s in statements) == [ACCOUNTS["staging"], ACCOUNTS["prod"]]
    for _, statement in statements:
        assert statement["Condition"] == {
            "StringEquals": {"events:source": "aws.cloudwatch", "events:detail-type": "CloudWatch Alarm State Change"}
        }


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_no_bus_gets_a_wildcard_rule_whatever_the_number_of_models(
    env: str, one_model: Templates, three_models: Templates
) -> None:
    assert wildcard_rules(one_model[env]) == []
    assert wildcard_rules(three_models[env]) == []


def test_each_model_monitor_bridge_routes_by_prefix(three_models: Templates) -> None:
    bridges = [
        resource["Properties"]["EventPattern"]["detail"]["object"]["key"]
        for _, logical_id, resource in _resources(three_models["prod"], "AWS::Events::Rule")
        if logical_id.startswith("MonitoringMonitorBridgeReportWritten")
    ]
    assert sorted(json.dumps(key) for key in bridges) == sorted(
        json.dumps([{"prefix": f"{name}/model-monitor/"}]) for name in (BASE_MODEL, "model-1", "model-2")
    )


def test_each_model_monitor_bridge_rule_dead_letters_to_an_encrypted_queue_with_an_alarm(
    three_models: Templates,
) -> None:
    (stack,) = [t for name, t in three_models["prod"].items() if name == "mlops-prod-breast-cancer-serving"]
    resources = stack["Resources"]
    (rule,) = [
        r
        for k, r in resources.items()
        if k.startswith("MonitoringMonitorBridgeReportWritten") and r["Type"] == "AWS::Events::Rule"
    ]
    (target,) = rule["Properties"]["Targets"]
    dlq_id = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    dlq = resources[dlq_id]
    assert dlq["Type"] == "AWS::SQS::Queue" and "FifoQueue" not in dlq["Properties"]  # EventBridge: standard only
    assert DATA_KEY in json.dumps(dlq["Properties"]["KmsMasterKeyId"])
    assert dlq["DeletionPolicy"] == "Retain"  # prod retains data
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 4}
    (alarm,) = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        and r["Properties"].get("Dimensions") == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}]
    ]
    assert (alarm["MetricName"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        "ApproximateNumberOfMessagesVisible",
        0,
        "GreaterThanThreshold",
    )
    assert "Notifications" in json.dumps(alarm["AlarmActions"])
    (policy,) = [
        r
        for r in resources.values()
        if r["Type"] == "AWS::SQS::QueuePolicy" and r["Properties"]["Queues"] == [{"Ref": dlq_id}]
    ]
    allows = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert [s["Principal"] for s in allows] == [{"Service": "events.amazonaws.com"}]


def test_the_monitor_bridge_reserves_no_concurrency_by_default(three_models: Templates) -> None:
    bridges = [
        resource
        for _, logical_id, resource in _resources(three_models["prod"], "AWS::Lambda::Function")
        if logical_id.startswith("MonitoringMonitorBridgeFunction")
    ]
    assert len(bridges) == 3
    for bridge in bridges:
        assert "ReservedConcurrentExecutions" not in bridge["Properties"]
        assert "mlops" not in bridge.get("Metadata", {})


def test_the_monitor_bridge_reservation_is_an_opt_in_in_the_monitoring_config(tmp_path: Path) -> None:
    raw = _raw_config(1)
    raw["models"][0]["environments"]["prod"]["monitoring"]["bridge_reserved_concurrency"] = 2
    config = parse_config(raw, source=DEFAULT_CONFIG)
    approved = {"prod": {BASE_MODEL: "arn:aws:sagemaker:eu-west-1:111111111111:model-package/mlops-x/3"}}
    _, stages = build_app(config, approved=approved, environments=["prod"])

    template = part_template(stages["prod"].monitoring[BASE_MODEL]).to_json()
    (bridge,) = [
        r
        for k, r in template["Resources"].items()
        if k.startswith("MonitoringMonitorBridgeFunction") and r["Type"] == "AWS::Lambda::Function"
    ]
    assert bridge["Properties"]["ReservedConcurrentExecutions"] == 2
    assert bridge["Metadata"]["mlops"] == {"opt_in": ["reserved-concurrency"]}


def test_forwarded_alarm_accounts_are_the_serving_accounts_with_drift_retraining() -> None:
    config = parse_config(_raw_config(3), source=DEFAULT_CONFIG)
    assert forwarded_alarm_accounts(config) == (ACCOUNTS["staging"], ACCOUNTS["prod"])

    raw = _raw_config(3)
    for model in raw["models"]:
        model["environments"]["prod"]["retraining"] = {"on_drift": False}
    assert forwarded_alarm_accounts(parse_config(raw, source=DEFAULT_CONFIG)) == (ACCOUNTS["staging"],)

    for model in raw["models"]:
        model["environments"]["staging"]["retraining"] = {"on_drift": False}
    assert forwarded_alarm_accounts(parse_config(raw, source=DEFAULT_CONFIG)) == ()


# --- senders to encrypted queues and topics can use the key ---------------------------------------------------

DATA_KEY = "DataKey"


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement.get("Action", [])
    return [action] if isinstance(action, str) else list(action)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _encrypted(template: dict[str, Any], arn: Any) -> bool:
    """Whether ``arn`` (as the template writes it) is a queue or topic encrypted with the environment key."""
    resources = template.get("Resources", {})
    if isinstance(arn, dict) and "Fn::GetStackOutput" in arn:
        # The one cross-stack destination here: the Data stack's notifications topic, encrypted with the key.
        return "Notifications" in arn["Fn::GetStackOutput"]["OutputName"]
    target = None
    if isinstance(arn, dict) and "Fn::GetAtt" in arn:
        target = resources.get(arn["Fn::GetAtt"][0])
    elif isinstance(arn, dict) and "Ref" in arn:
        target = resources.get(arn["Ref"])
    if target is None or target["Type"] not in ("AWS::SQS::Queue", "AWS::SNS::Topic"):
        return False
    return DATA_KEY in json.dumps(target["Properties"].get("KmsMasterKeyId", ""))


def _role_can_use_key(template: dict[str, Any], role_id: str) -> bool:
    actions: set[str] = set()
    for policy in template["Resources"].values():
        if policy["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in policy["Properties"]["Roles"]:
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                if statement["Effect"] == "Allow" and DATA_KEY in json.dumps(statement["Resource"]):
                    actions.update(_actions(statement))
    return "kms:Decrypt" in actions and bool(actions & {"kms:GenerateDataKey", "kms:GenerateDataKey*"})


def _key_policy_allows(templates: dict[str, dict[str, Any]], env: str, service: str) -> bool:
    (key,) = [
        r for _, logical_id, r in _resources({f"mlops-{env}-data": templates[f"mlops-{env}-data"]}, "AWS::KMS::Key")
    ]
    actions: set[str] = set()
    for statement in key["Properties"]["KeyPolicy"]["Statement"]:
        principals = _as_list(statement.get("Principal", {}).get("Service", []))
        if statement["Effect"] == "Allow" and service in principals:
            actions.update(_actions(statement))
    return "kms:Decrypt" in actions and bool(actions & {"kms:GenerateDataKey", "kms:GenerateDataKey*"})


Found = list[tuple[str, bool]]  # (sender, can use the key)


def _schedule_senders(env: str, stacks: dict[str, Any], template: dict[str, Any], where: str, props: Any) -> Found:
    target = props["Target"]
    if not any(_encrypted(template, arn) for arn in (target["Arn"], target.get("DeadLetterConfig", {}).get("Arn"))):
        return []
    return [(where, _role_can_use_key(template, target["RoleArn"]["Fn::GetAtt"][0]))]


def _rule_senders(env: str, stacks: dict[str, Any], template: dict[str, Any], where: str, props: Any) -> Found:
    return [
        (f"{where}/{target['Id']}", _key_policy_allows(stacks, env, "events.amazonaws.com"))
        for target in props.get("Targets", [])
        if any(_encrypted(template, arn) for arn in (target["Arn"], target.get("DeadLetterConfig", {}).get("Arn")))
    ]


def _alarm_senders(env: str, stacks: dict[str, Any], template: dict[str, Any], where: str, props: Any) -> Found:
    if not any(_encrypted(template, arn) for arn in props.get("AlarmActions", [])):
        return []
    return [(where, _key_policy_allows(stacks, env, "cloudwatch.amazonaws.com"))]


def _iam_senders(env: str, stacks: dict[str, Any], template: dict[str, Any], where: str, props: Any) -> Found:
    return [
        (f"{where}:{role['Ref']}", _role_can_use_key(template, role["Ref"]))
        for statement in props["PolicyDocument"]["Statement"]
        if {"sqs:SendMessage", "sns:Publish"} & set(_actions(statement))
        and any(_encrypted(template, arn) for arn in _as_list(statement["Resource"]))
        for role in props["Roles"]
    ]


def _destination_senders(env: str, stacks: dict[str, Any], template: dict[str, Any], where: str, props: Any) -> Found:
    arns = [d.get("Destination") for d in props.get("DestinationConfig", {}).values()]
    if not any(_encrypted(template, arn) for arn in arns):
        return []
    function = template["Resources"][props["FunctionName"]["Ref"]]
    return [(where, _role_can_use_key(template, function["Properties"]["Role"]["Fn::GetAtt"][0]))]


SENDERS = {
    "scheduler-role": ("AWS::Scheduler::Schedule", _schedule_senders),
    "events-rule": ("AWS::Events::Rule", _rule_senders),
    "alarm-action": ("AWS::CloudWatch::Alarm", _alarm_senders),
    "iam-sender": ("AWS::IAM::Policy", _iam_senders),
    "lambda-destination": ("AWS::Lambda::EventInvokeConfig", _destination_senders),
}


def _senders(templates: Templates, kind: str) -> list[tuple[str, str, bool]]:
    """(environment, sender, can use the key) for every ``kind`` of sender to an encrypted queue or topic."""
    resource_type, find = SENDERS[kind]
    return [
        (env, sender, ok)
        for env, stacks in templates.items()
        for stack_name, logical_id, resource in _resources(stacks, resource_type)
        for sender, ok in find(env, stacks, stacks[stack_name], f"{stack_name}/{logical_id}", resource["Properties"])
    ]


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("scheduler-role", id="scheduler-roles-send-targets-and-dead-letters"),
        pytest.param("events-rule", id="eventbridge-targets-and-dead-letters"),
        pytest.param("alarm-action", id="cloudwatch-alarm-actions"),
        pytest.param("iam-sender", id="roles-granted-send-or-publish"),
    ],
)
def test_every_sender_to_an_encrypted_queue_or_topic_can_use_its_key(kind: str, three_models: Templates) -> None:
    senders = _senders(three_models, kind)

    assert senders, f"no {kind} sender found: the check would prove nothing"
    assert [where for _, where, ok in senders if not ok] == []


def test_lambda_failure_destinations_can_use_their_key(three_models: Templates) -> None:
    # The retrain trigger no longer has asynchronous invocations; any other function's destination must still hold.
    assert [where for _, where, ok in _senders(three_models, "lambda-destination") if not ok] == []


def test_the_retrain_schedule_role_was_the_sender_that_could_not_encrypt(three_models: Templates) -> None:
    schedules = [where for _, where, _ in _senders(three_models, "scheduler-role") if "training" in where]
    assert len(schedules) == 3  # one retrain schedule per model in dev, each checked above


OWN_RULES = ("Retraining", "MonitoringMonitorBridge", "MonitoringForwardDriftAlarms")


def test_every_retraining_bridge_and_forwarding_rule_target_has_a_dead_letter_queue(three_models: Templates) -> None:
    rules = [
        (f"{stack}/{logical_id}", resource)
        for env in ENVIRONMENTS
        for stack, logical_id, resource in _resources(three_models[env], "AWS::Events::Rule")
        if logical_id.startswith(OWN_RULES)
    ]
    # Per model: 2 retrain rules (dev), 1 bridge rule (prod), 1 forwarding rule each in staging and prod.
    assert len(rules) == 3 * (2 + 1 + 2)
    missing = [where for where, rule in rules for t in rule["Properties"]["Targets"] if "DeadLetterConfig" not in t]
    assert missing == []
