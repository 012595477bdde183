"""Retraining triggers in the training stack: rules, schedule, FIFO trigger queue, DLQs, alarms, least privilege, gates.

Two apps are built (dev only, synthesized once each so that cdk-nag runs): the shipped configuration, and a variant
with every trigger switched off. The function's environment is also checked against the Lambda's own validation.
"""

from __future__ import annotations

import copy
import importlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from mlops_config import parse_config
from mlops_constructs.lambda_runtime import RUNTIME
from scripts.synth_report import ACK_METADATA, lint
from tests.conftest import DEFAULT_CONFIG, REPO, build_app, raw_default_config

MODEL = "breast-cancer"
DEV, STAGING, PROD = "111111111111", "222222222222", "333333333333"
PIPELINE = "mlops-dev-breast-cancer-training"
# dev serves serverless (no data capture): its endpoint-only monitoring has no drift alarms to retrain on.
ALARMS = [f"mlops-{env}-{MODEL}-{kind}" for env in ("staging", "prod") for kind in ("feature-drift", "model-quality")]


def _build(raw: dict[str, Any], tmp: Path) -> tuple[Any, Template, Path]:
    config = parse_config(raw, source=DEFAULT_CONFIG)
    app, stages = build_app(config, environments=["dev"], outdir=tmp)
    app.synth()  # cdk-nag runs here: any unacknowledged finding raises
    stack = stages["dev"].training[MODEL]
    return stack, Template.from_stack(stack), Path(stages["dev"].outdir) / stack.template_file


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Template, Path]:
    return _build(raw_default_config(), tmp_path_factory.mktemp("retrain-shipped"))


@pytest.fixture(scope="module")
def template(shipped: tuple[Any, Template, Path]) -> Template:
    return shipped[1]


@pytest.fixture(scope="module")
def switched_off(tmp_path_factory: pytest.TempPathFactory) -> Template:
    raw = copy.deepcopy(raw_default_config())
    model = raw["models"][0]
    for env in ("dev", "staging", "prod"):
        model["environments"].setdefault(env, {})["retraining"] = {"on_drift": False, "new_data": {"enabled": False}}
    return _build(raw, tmp_path_factory.mktemp("retrain-off"))[1]


def _only(template: Template, resource_type: str, props: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    found = template.find_resources(resource_type, {"Properties": props} if props else None)
    assert len(found) == 1, sorted(found)
    logical_id, resource = next(iter(found.items()))
    return logical_id, dict(resource)


def _function(template: Template) -> tuple[str, dict[str, Any]]:
    return _only(template, "AWS::Lambda::Function", {"Handler": "handler.lambda_handler"})


def _trigger_queue(template: Template) -> tuple[str, dict[str, Any]]:
    return _only(template, "AWS::SQS::Queue", {"FifoQueue": True, "ContentBasedDeduplication": True})


def _trigger_dead_letter_queue(template: Template) -> tuple[str, dict[str, Any]]:
    _, queue = _trigger_queue(template)
    dlq_id: str = queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    return dlq_id, dict(template.find_resources("AWS::SQS::Queue")[dlq_id])


def _delivery_dead_letter_queue(template: Template) -> tuple[str, dict[str, Any]]:
    queues = {k: v for k, v in template.find_resources("AWS::SQS::Queue").items() if "FifoQueue" not in v["Properties"]}
    assert len(queues) == 1, sorted(queues)
    ((queue_id, queue),) = queues.items()
    return queue_id, dict(queue)


def _rules_sending_to_trigger_queue(template: Template) -> dict[str, dict[str, Any]]:
    queue_id, _ = _trigger_queue(template)
    return {
        logical_id: dict(rule)
        for logical_id, rule in template.find_resources("AWS::Events::Rule").items()
        if any(t["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]} for t in rule["Properties"]["Targets"])
    }


def _rule(template: Template, source: str) -> dict[str, Any]:
    rules = [
        r
        for r in _rules_sending_to_trigger_queue(template).values()
        if r["Properties"]["EventPattern"]["source"] == [source]
    ]
    assert len(rules) == 1
    properties: dict[str, Any] = rules[0]["Properties"]
    return properties


def _policy_statements(template: Template, role_id: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def _role_of(function: dict[str, Any]) -> str:
    role_id: str = function["Properties"]["Role"]["Fn::GetAtt"][0]
    return role_id


# --- the function ---------------------------------------------------------------------------------------------


def test_function_runs_arm64_python_with_the_public_powertools_layer(template: Template) -> None:
    _, function = _function(template)
    props = function["Properties"]
    assert props["Runtime"] == "python3.13"  # the newest Python the pinned public Powertools layer is built for
    assert props["Architectures"] == ["arm64"]
    assert props["Timeout"] == 120
    # No reserved concurrency by default: it fails in accounts with low concurrency quotas (an opt-in only).
    assert "ReservedConcurrentExecutions" not in props
    assert "mlops" not in function.get("Metadata", {})
    # It waits for its policy (may start the pipeline) but not redundantly for the role it already references.
    (depends_on,) = function["DependsOn"]
    role_ref = {"Ref": _role_of(function)}
    assert template.find_resources("AWS::IAM::Policy")[depends_on]["Properties"]["Roles"] == [role_ref]
    # Stack.format_arn: the stack's region, and its partition (a literal, by the enablePartitionLiterals flag).
    assert props["Layers"] == [
        "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:27"
    ]


def _from_data_stack(output: str) -> dict[str, Any]:
    """A value dev's data stack exports to this stack (CDK's cross-stack reference within one region)."""
    return {"Fn::GetStackOutput": {"StackName": "mlops-dev-data", "Region": "eu-west-1", "OutputName": output}}


def test_function_logs_to_its_own_log_group_with_the_environment_retention(template: Template) -> None:
    _, function = _function(template)
    log_group_id = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    log_group = template.find_resources("AWS::Logs::LogGroup")[log_group_id]
    assert log_group["Properties"]["RetentionInDays"] == 30  # dev's log_retention_days
    assert log_group["DeletionPolicy"] == "Delete"  # dev: retain_data false
    # Encrypted with the environment key, exported by the data stack (the key's logical ID is a pinned contract).
    assert log_group["Properties"]["KmsKeyId"] == _from_data_stack("PublishOutputFnGetAttDataKey17AFBB84Arn5D1EA6C9")


def test_function_reads_the_fifo_trigger_queue_one_batch_at_a_time_with_partial_failures(template: Template) -> None:
    function_id, _ = _function(template)
    queue_id, queue = _trigger_queue(template)
    _, mapping = _only(template, "AWS::Lambda::EventSourceMapping")
    assert mapping["Properties"]["FunctionName"] == {"Ref": function_id}
    assert mapping["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert mapping["Properties"]["BatchSize"] == 1
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert "ScalingConfig" not in mapping["Properties"]  # FIFO: one message group, one invocation at a time
    # No asynchronous invocations any more: nothing to configure for them.
    assert template.find_resources("AWS::Lambda::EventInvokeConfig") == {}
    props = queue["Properties"]
    assert props["FifoQueue"] is True and props["ContentBasedDeduplication"] is True
    assert props["VisibilityTimeout"] == 6 * 120  # six times the function timeout
    dlq_id, dlq = _trigger_dead_letter_queue(template)
    assert props["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]}, "maxReceiveCount": 5}
    assert dlq["Properties"]["FifoQueue"] is True
    assert dlq["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_every_queue_is_encrypted_with_the_environment_key_and_tls_only(template: Template) -> None:
    queues = template.find_resources("AWS::SQS::Queue")
    assert len(queues) == 3
    for queue in queues.values():
        key = json.dumps(queue["Properties"]["KmsMasterKeyId"])
        assert "DataKey" in key and "alias/aws/sqs" not in key
    policies = template.find_resources("AWS::SQS::QueuePolicy").values()
    tls_only = {
        json.dumps(queue_ref)
        for policy in policies
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for queue_ref in policy["Properties"]["Queues"]
    }
    assert tls_only == {json.dumps({"Ref": queue_id}) for queue_id in queues}


def test_function_environment_passes_the_lambdas_own_validation(template: Template) -> None:
    _, function = _function(template)
    env = function["Properties"]["Environment"]["Variables"]
    assert all(isinstance(value, str) for value in env.values()), "every variable must be a literal at synth"
    assert env["PIPELINE_NAME"] == PIPELINE
    assert (env["EXPECTED_ACCOUNT"], env["EXPECTED_REGION"]) == (DEV, "eu-west-1")
    assert sorted(json.loads(env["ALARM_NAMES"])) == sorted(ALARMS)
    assert json.loads(env["ALARM_SOURCES"]) == [f"{STAGING}:eu-west-1", f"{PROD}:eu-west-1"]
    assert env["DATA_PREFIX"] == f"{MODEL}/training/"
    assert (env["MIN_NEW_OBJECTS"], env["MIN_NEW_BYTES"], env["COOLDOWN_MINUTES"], env["DAILY_CAP"]) == (
        "1",
        "0",
        "360",
        "3",
    )

    retrain = _load_retrain()
    settings = retrain.Settings.from_env(env)
    assert settings.pipeline_name == PIPELINE
    assert settings.alarm_sources == frozenset({(STAGING, "eu-west-1"), (PROD, "eu-west-1")})


def _load_retrain() -> Any:
    """The function's ``retrain`` module, imported as the Lambda runtime does: its folder on ``sys.path``."""
    function_dir = str(REPO / "lambda" / "retrain_trigger")
    if function_dir not in sys.path:
        sys.path.insert(0, function_dir)
    return importlib.import_module("retrain")


# --- least privilege ------------------------------------------------------------------------------------------


def test_function_role_is_least_privilege(template: Template) -> None:
    _, function = _function(template)
    role_id = _role_of(function)
    role = template.find_resources("AWS::IAM::Role")[role_id]
    assert "ManagedPolicyArns" not in role["Properties"]  # an explicit log-group grant instead
    statements = _policy_statements(template, role_id)
    actions = [a for s in statements for a in _actions(s)]
    assert "*" not in actions and not any(a.endswith(":*") for a in actions)
    assert not any(a.startswith("iam:") for a in actions)
    assert all(s["Resource"] != "*" for s in statements)

    (start,) = [s for s in statements if "sagemaker:StartPipelineExecution" in _actions(s)]
    assert sorted(_actions(start)) == ["sagemaker:ListPipelineExecutions", "sagemaker:StartPipelineExecution"]
    assert start["Resource"] == f"arn:aws:sagemaker:eu-west-1:{DEV}:pipeline/{PIPELINE}"

    (listing,) = [s for s in statements if "s3:ListBucket" in _actions(s)]
    assert _actions(listing) == ["s3:ListBucket"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": f"{MODEL}/training/*"}}
    assert "mlops-dev-data-" in json.dumps(listing["Resource"]) and "/*" not in json.dumps(listing["Resource"])

    assert not [s for s in statements if "sqs:SendMessage" in _actions(s)]  # it only consumes its trigger queue
    (consume,) = [s for s in statements if "sqs:ReceiveMessage" in _actions(s)]
    queue_id, _ = _trigger_queue(template)
    assert consume["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert "sqs:DeleteMessage" in _actions(consume)
    (decrypt,) = [s for s in statements if any(a.startswith("kms:") for a in _actions(s))]
    assert _actions(decrypt) == ["kms:Decrypt"] and "DataKey" in json.dumps(decrypt["Resource"])
    (logs_statement,) = [s for s in statements if any(a.startswith("logs:") for a in _actions(s))]
    log_group_id = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    assert logs_statement["Resource"] == {"Fn::GetAtt": [log_group_id, "Arn"]}


# --- triggers -------------------------------------------------------------------------------------------------


def test_drift_rule_matches_exactly_the_models_alarms_entering_alarm(template: Template) -> None:
    rule = _rule(template, "aws.cloudwatch")
    assert rule["EventPattern"] == {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "account": [STAGING, PROD],
        "detail": {"alarmName": ALARMS, "state": {"value": ["ALARM"]}},
    }
    assert rule["State"] == "ENABLED"


def test_new_data_rule_matches_the_data_bucket_and_training_prefix(template: Template) -> None:
    rule = _rule(template, "aws.s3")
    pattern = rule["EventPattern"]
    assert pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["object"] == {"key": [{"prefix": f"{MODEL}/training/"}]}
    (bucket,) = pattern["detail"]["bucket"]["name"]
    assert bucket == f"mlops-dev-data-{DEV}-eu-west-1"


def test_rules_send_the_event_to_the_trigger_queue_in_the_pipelines_group_and_dead_letter(template: Template) -> None:
    queue_id, _ = _trigger_queue(template)
    dlq_id, _ = _delivery_dead_letter_queue(template)
    rules = _rules_sending_to_trigger_queue(template)
    assert len(rules) == 2
    for rule in rules.values():
        (target,) = rule["Properties"]["Targets"]
        assert "Input" not in target and "InputTransformer" not in target  # the whole EventBridge event is the body
        assert target["SqsParameters"] == {"MessageGroupId": PIPELINE}
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq_id, "Arn"]}}
        assert target["RetryPolicy"] == {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 6 * 3600}
    policies = {
        p["Properties"]["Queues"][0]["Ref"]: [
            s for s in p["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"
        ]
        for p in template.find_resources("AWS::SQS::QueuePolicy").values()
    }
    # EventBridge may send dead letters only for these rules...
    assert {s["Principal"]["Service"] for s in policies[dlq_id]} == {"events.amazonaws.com"}
    sources = [s["Condition"]["ArnEquals"]["aws:SourceArn"] for s in policies[dlq_id]]
    assert sorted(json.dumps(s) for s in sources) == sorted(
        json.dumps({"Fn::GetAtt": [rule_id, "Arn"]}) for rule_id in rules
    )
    # ...and send to the encrypted trigger queue for rules of this account (CDK's grant for a KMS-encrypted queue).
    (allow,) = policies[queue_id]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert "sqs:SendMessage" in _actions(allow)
    assert allow["Condition"] == {"StringEquals": {"aws:SourceAccount": DEV}}


def test_schedule_sends_the_scheduler_payload_with_context_attributes(template: Template) -> None:
    queue_id, _ = _trigger_queue(template)
    dlq_id, _ = _delivery_dead_letter_queue(template)
    _, schedule = _only(template, "AWS::Scheduler::Schedule")
    props = schedule["Properties"]
    assert props["Name"] == "mlops-dev-breast-cancer-retrain"
    assert props["ScheduleExpression"] == "cron(0 3 ? * MON *)"
    assert props["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert props["State"] == "ENABLED"
    target = props["Target"]
    assert target["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert target["SqsParameters"] == {"MessageGroupId": PIPELINE}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq_id, "Arn"]}}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 6 * 3600}
    assert json.loads(target["Input"]) == {
        "version": "0",
        "id": "<aws.scheduler.execution-id>",
        "source": "mlops.scheduler",
        "detail-type": "Scheduled Retrain",
        "account": DEV,
        "region": "eu-west-1",
        "time": "<aws.scheduler.scheduled-time>",
        "resources": ["<aws.scheduler.schedule-arn>"],
        "detail": {
            "model": MODEL,
            "environment": "dev",
            "schedule": "mlops-dev-breast-cancer-retrain",
            "attempt": "<aws.scheduler.attempt-number>",
        },
    }


def _key_actions(statements: list[dict[str, Any]], key_fragment: str = "DataKey") -> set[str]:
    return {
        action
        for statement in statements
        if statement["Effect"] == "Allow" and key_fragment in json.dumps(statement["Resource"])
        for action in _actions(statement)
        if action.startswith("kms:")
    }


def test_schedule_role_may_send_to_its_encrypted_queues_and_use_their_key(template: Template) -> None:
    queue_id, queue = _trigger_queue(template)
    dlq_id, dlq = _delivery_dead_letter_queue(template)
    _, schedule = _only(template, "AWS::Scheduler::Schedule")
    role_id = schedule["Properties"]["Target"]["RoleArn"]["Fn::GetAtt"][0]
    role = template.find_resources("AWS::IAM::Role")[role_id]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": DEV}}
    statements = _policy_statements(template, role_id)
    sends = [s for s in statements if "sqs:SendMessage" in _actions(s)]
    sent_to = sorted(
        json.dumps(r) for s in sends for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
    )
    assert sent_to == sorted(json.dumps({"Fn::GetAtt": [q, "Arn"]}) for q in (queue_id, dlq_id))
    # Scheduler writes the message and the dead letter with this role: both queues use the environment key, and a
    # sender to a queue encrypted with a customer managed key needs kms:GenerateDataKey and kms:Decrypt on it.
    assert queue["Properties"]["KmsMasterKeyId"] == dlq["Properties"]["KmsMasterKeyId"]
    key_actions = _key_actions(statements)
    assert {"kms:Decrypt"} <= key_actions and key_actions & {"kms:GenerateDataKey", "kms:GenerateDataKey*"}
    (explicit,) = [s for s in statements if s.get("Sid") == "EncryptForEncryptedQueues"]
    assert sorted(_actions(explicit)) == ["kms:Decrypt", "kms:GenerateDataKey"]
    other = {a for s in statements for a in _actions(s)}
    assert all(a.startswith(("sqs:", "kms:")) for a in other), other
    assert not any(a.startswith("lambda:") for a in other)  # it no longer invokes the function


def test_forwarded_alarms_are_allowed_by_the_data_stack_not_per_model(template: Template) -> None:
    # One statement per serving account lives in the registry environment's Data stack (test_retraining_scale.py).
    assert template.find_resources("AWS::Events::EventBusPolicy") == {}


# --- alarms ---------------------------------------------------------------------------------------------------


def test_dead_letters_and_errors_alarm_to_the_environment_topic(template: Template) -> None:
    function_id, _ = _function(template)
    dlq_ids = [_delivery_dead_letter_queue(template)[0], _trigger_dead_letter_queue(template)[0]]
    dlq_alarms = template.find_resources(
        "AWS::CloudWatch::Alarm", {"Properties": {"MetricName": "ApproximateNumberOfMessagesVisible"}}
    ).values()
    _, errors_alarm = _only(template, "AWS::CloudWatch::Alarm", {"MetricName": "Errors"})
    assert sorted(json.dumps(a["Properties"]["Dimensions"]) for a in dlq_alarms) == sorted(
        json.dumps([{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]) for queue_id in dlq_ids
    )
    assert errors_alarm["Properties"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function_id}}]
    for alarm in (*(a["Properties"] for a in dlq_alarms), errors_alarm["Properties"]):
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["Threshold"] == 0
        assert alarm["TreatMissingData"] == "notBreaching"
        (action,) = alarm["AlarmActions"]
        assert action == _from_data_stack("PublishOutputRefNotifications8729870805468FDB")  # the environment topic


# --- configuration switches -----------------------------------------------------------------------------------


def test_triggers_switched_off_in_config_produce_no_rule_schedule_or_bus_policy(switched_off: Template) -> None:
    assert _rules_sending_to_trigger_queue(switched_off) == {}
    assert switched_off.find_resources("AWS::Scheduler::Schedule") == {}
    assert switched_off.find_resources("AWS::Events::EventBusPolicy") == {}
    # The function, its queues and alarms stay: an operator can still send a trigger to the queue by hand.
    _, function = _function(switched_off)
    assert json.loads(function["Properties"]["Environment"]["Variables"]["ALARM_NAMES"]) == []
    assert len(switched_off.find_resources("AWS::CloudWatch::Alarm", {"Properties": {"Namespace": "AWS/SQS"}})) == 2


# --- gates ----------------------------------------------------------------------------------------------------


def test_training_template_is_cfn_lint_clean(shipped: tuple[Any, Template, Path]) -> None:
    assert lint([shipped[2]]) == []


def test_retraining_acknowledges_only_specific_findings(shipped: tuple[Any, Template, Path]) -> None:
    stack, _, template_path = shipped
    acknowledged: set[tuple[str, str]] = set()
    for metadata_file in template_path.parent.rglob("*.metadata.json"):
        for path, entries in json.loads(metadata_file.read_text(encoding="utf-8")).items():
            if f"/{stack.node.id}/Retraining/" in path:
                for entry in entries:
                    if entry["type"] == ACK_METADATA:
                        acknowledged.update(entry["data"].items())
    # Every acknowledgement and its reason, exactly: a new or reworded one is a reviewed change of this test.
    assert acknowledged == {
        (
            "AwsSolutions::AwsSolutions-L1",
            f"Pinned to {RUNTIME.name} because the public Powertools layer is built per Python version; the runtime "
            "moves together with POWERTOOLS_LAYER_NAME/VERSION in mlops_constructs/lambda_runtime.py.",
        ),
        (
            "AwsSolutions::AwsSolutions-SQS3",
            "This queue is the dead-letter queue of the retrain rule and schedule deliveries to the trigger queue.",
        ),
        ("AwsSolutions::AwsSolutions-SQS3", "This queue is the dead-letter queue of the retrain trigger queue."),
        (
            "AwsSolutions::AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
            "The KMS grant CDK adds for sending to the KMS-encrypted trigger queue: kms:GenerateDataKey* on the one "
            "environment key only.",
        ),
    }
