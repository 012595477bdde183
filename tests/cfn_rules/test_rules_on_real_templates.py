"""Positive controls on the real templates: each new rule fires on a copy of a synthesized template with one
violation planted where the platform's own resources would carry it.

The whole-app contract (tests/infra/test_gates.py) shows that nothing fires on the real templates; these tests
show that this is not because the rules never match the shapes CDK and the constructs actually produce.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cfn_rules import StackTemplate, check_assembly
from scripts.synth_report import collect, lint

Mutation = Callable[[dict[str, Any]], None]
ALIAS_ARN = "arn:aws:kms:eu-west-1:111111111111:alias/mlops-dev-data"


def _of_type(template: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == type_]


def _queue(template: dict[str, Any], suffix: str) -> dict[str, Any]:
    return next(
        q for q in _of_type(template, "AWS::SQS::Queue") if q["Properties"].get("QueueName", "").endswith(suffix)
    )


def _edit_definition(template: dict[str, Any], edit: Callable[[dict[str, Any]], None]) -> None:
    pipeline = _of_type(template, "AWS::SageMaker::Pipeline")[0]
    sub = pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    definition = json.loads(sub[0])
    edit(definition)
    sub[0] = json.dumps(definition)


def _drop_group_id(t: dict[str, Any]) -> None:
    rule = next(r for r in _of_type(t, "AWS::Events::Rule") if "SqsParameters" in r["Properties"]["Targets"][0])
    del rule["Properties"]["Targets"][0]["SqsParameters"]


def _fifo_batch(t: dict[str, Any]) -> None:
    _of_type(t, "AWS::Lambda::EventSourceMapping")[0]["Properties"]["BatchSize"] = 20


def _fifo_window(t: dict[str, Any]) -> None:
    _of_type(t, "AWS::Lambda::EventSourceMapping")[0]["Properties"]["MaximumBatchingWindowInSeconds"] = 30


def _short_visibility(t: dict[str, Any]) -> None:
    _queue(t, "trigger.fifo")["Properties"]["VisibilityTimeout"] = 60


def _name_without_suffix(t: dict[str, Any]) -> None:
    props = _queue(t, "trigger.fifo")["Properties"]
    props["QueueName"] = props["QueueName"].removesuffix(".fifo")


def _standard_with_suffix(t: dict[str, Any]) -> None:
    props = _queue(t, "dlq.fifo")["Properties"]
    del props["FifoQueue"]
    # The trigger queue's redrive now points at a standard queue too: cfn-lint's E3502, not a project rule.
    del _queue(t, "trigger.fifo")["Properties"]["RedrivePolicy"]


def _standard_dead_letters(t: dict[str, Any]) -> None:
    props = _queue(t, "dlq.fifo")["Properties"]
    del props["FifoQueue"], props["QueueName"]


def _volume_key_alias(t: dict[str, Any]) -> None:
    def edit(definition: dict[str, Any]) -> None:
        train = next(s for s in definition["Steps"] if s["Type"] == "Training")
        train["Arguments"]["ResourceConfig"]["VolumeKmsKeyId"] = "${VolumeKeyAlias}"

    _edit_definition(t, edit)
    pipeline = _of_type(t, "AWS::SageMaker::Pipeline")[0]
    pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"][1]["VolumeKeyAlias"] = ALIAS_ARN


def _bad_metadata(t: dict[str, Any]) -> None:
    def edit(definition: dict[str, Any]) -> None:
        condition = next(s for s in definition["Steps"] if s["Type"] == "Condition")
        register = next(s for s in condition["Arguments"]["IfSteps"] if s["Type"] == "RegisterModel")
        register["Arguments"]["CustomerMetadataProperties"]["Approved by"] = "team, on call"

    _edit_definition(t, edit)


def _augmented_manifest(t: dict[str, Any]) -> None:
    def edit(definition: dict[str, Any]) -> None:
        parameter = next(p for p in definition["Parameters"] if p["Name"] == "InputDataType")
        parameter["DefaultValue"], parameter["EnumValues"] = "AugmentedManifestFile", ["AugmentedManifestFile"]

    _edit_definition(t, edit)


def _short_service_timeout(t: dict[str, Any]) -> None:
    _of_type(t, "Custom::ModelPromotion")[0]["Properties"]["ServiceTimeout"] = "900"


def _unknown_variant(t: dict[str, Any]) -> None:
    target = _of_type(t, "AWS::ApplicationAutoScaling::ScalableTarget")[0]["Properties"]
    target["ResourceId"] = target["ResourceId"].replace("/variant/AllTraffic", "/variant/Blue")


def _alias_in_iam(t: dict[str, Any]) -> None:
    for policy in _of_type(t, "AWS::IAM::Policy"):
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if any(str(a).startswith("kms:") for a in actions):
                statement["Resource"] = ALIAS_ARN
                return
    raise AssertionError("no IAM statement on KMS in this template")


def _eleven_managed_policies(t: dict[str, Any]) -> None:
    role = _of_type(t, "AWS::IAM::Role")[0]["Properties"]
    role["ManagedPolicyArns"] = [f"arn:aws:iam::111111111111:policy/p{i}" for i in range(11)]


def _overflow_policy_at_the_root(t: dict[str, Any]) -> None:
    """What CDK adds on its own when a role's default policy outgrows 10,000 characters: an ``OverflowPolicy``
    managed policy, without a path."""
    role = next(k for k, r in t["Resources"].items() if r["Type"] == "AWS::IAM::Role")
    t["Resources"]["RoleOverflowPolicy1"] = {
        "Type": "AWS::IAM::ManagedPolicy",
        "Properties": {
            "Description": f"Part of the policies for prod/Serving/{role}",
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "sagemaker:InvokeEndpoint",
                        "Resource": "arn:aws:sagemaker:eu-west-1:333333333333:endpoint/x",
                    }
                ],
            },
            "Roles": [{"Ref": role}],
        },
    }


def _write_once_deny(t: dict[str, Any]) -> None:
    policy = _of_type(t, "AWS::S3::BucketPolicy")[0]["Properties"]["PolicyDocument"]
    policy["Statement"].append(
        {
            "Sid": "WriteOnce",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::b/promoted/*",
            "Condition": {"Null": {"s3:if-none-match": "true"}},
        }
    )


# Rules of this family that cfn-lint itself already enforces (so the project has none): they fire on the same
# real templates, through the cfn-lint gate.
LEFT_TO_CFN_LINT: dict[str, tuple[str, str, Mutation]] = {
    "standard DLQ of a FIFO queue": ("dev/Training", "E3502", _standard_dead_letters),
    "visibility below the function timeout": ("dev/Training", "E3505", _short_visibility),
    "FIFO event source batch of 20": ("dev/Training", "E3705", _fifo_batch),
    # Last: the others find the trigger queue by its .fifo name.
    "FIFO queue name without .fifo": ("dev/Training", "E3501", _name_without_suffix),
}

MUTATIONS: dict[str, tuple[str, str, Mutation]] = {
    "fifo target without a message group": ("dev/Training", "E9035", _drop_group_id),
    "FIFO suffix on a standard queue": ("dev/Training", "E9040", _standard_with_suffix),
    "batching window on the FIFO event source": ("dev/Training", "E9042", _fifo_window),
    "training volume key alias": ("dev/Training", "E9061", _volume_key_alias),
    "register metadata with a comma": ("dev/Training", "E9062", _bad_metadata),
    "transform of an augmented manifest": ("prod/Serving", "E9060", _augmented_manifest),
    "promotion timeout equal to the function's": ("prod/Serving", "E9050", _short_service_timeout),
    "scaling an unknown variant": ("prod/Serving", "E9025", _unknown_variant),
    "KMS alias in an IAM policy": ("prod/Serving", "E9070", _alias_in_iam),
    "eleven managed policies on one role": ("prod/Serving", "E9071", _eleven_managed_policies),
    "CDK's overflow policy at the root path": ("prod/Serving", "E9072", _overflow_policy_at_the_root),
    "conditional-write deny without the creation operation": ("prod/Data", "E9080", _write_once_deny),
}


@pytest.fixture(scope="module")
def real_templates(approved_app: Any) -> dict[str, tuple[Path, dict[str, Any]]]:
    app, _ = approved_app
    return {r.path: (r.template, json.loads(r.template.read_text(encoding="utf-8"))) for r in collect(Path(app.outdir))}


def _stack(templates: dict[str, tuple[Path, dict[str, Any]]], prefix: str) -> dict[str, Any]:
    return next(template for path, (_, template) in templates.items() if path.startswith(prefix))


@pytest.fixture(scope="module")
def planted(
    real_templates: dict[str, tuple[Path, dict[str, Any]]], tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, str], list[str]]:
    """(family, stack) -> ids of every cfn-lint finding (project rules and cfn-lint's own) on one copy of that
    stack's template with all of the family's violations planted in it, from one cfn-lint pass over all copies.

    The families are MUTATIONS and LEFT_TO_CFN_LINT; each violation touches its own resource (or its own step of
    the pipeline definition), so one copy per stack shows each rule firing once, and nothing else firing.
    """
    out = tmp_path_factory.mktemp("planted")
    copies: dict[str, tuple[str, str]] = {}
    for family, mutations in (("project", MUTATIONS), ("cfn-lint", LEFT_TO_CFN_LINT)):
        for stack in dict.fromkeys(stack for stack, _, _ in mutations.values()):
            template = copy.deepcopy(_stack(real_templates, stack))
            for planted_in, _, mutate in mutations.values():
                if planted_in == stack:
                    mutate(template)
            path = out / f"{family}-{stack.replace('/', '-')}.template.json"
            path.write_text(json.dumps(template), encoding="utf-8")
            copies[str(path)] = (family, stack)
    fired: dict[tuple[str, str], list[str]] = {key: [] for key in copies.values()}
    for finding in lint([Path(p) for p in copies], cache_dir=None):
        file, _, rest = finding.partition(":")  # parseable: path:line:column:end line:end column:id:message
        fired[copies[file]].append(rest.split(":")[4])
    return {key: sorted(ids) for key, ids in fired.items()}


def _expected(mutations: dict[str, tuple[str, str, Mutation]], stack: str) -> list[str]:
    return sorted(rule for planted_in, rule, _ in mutations.values() if planted_in == stack)


def test_each_new_rule_fires_on_its_violation_planted_in_a_real_template(
    planted: dict[tuple[str, str], list[str]],
) -> None:
    # Each violation trips its own rule once, and nothing else fires.
    stacks = dict.fromkeys(stack for stack, _, _ in MUTATIONS.values())
    assert {stack: planted["project", stack] for stack in stacks} == {s: _expected(MUTATIONS, s) for s in stacks}


def test_rules_left_to_cfn_lint_fire_on_the_real_templates_through_the_cfn_lint_gate(
    planted: dict[tuple[str, str], list[str]],
) -> None:
    fired = planted["cfn-lint", "dev/Training"]
    assert set(_expected(LEFT_TO_CFN_LINT, "dev/Training")) <= set(fired)
    assert not any(rule.startswith("E9") for rule in fired)


def test_eventbridge_targets_fire_across_stacks_when_the_data_key_stops_trusting_eventbridge(
    approved_app: Any, real_templates: dict[str, tuple[Path, dict[str, Any]]]
) -> None:
    app, _ = approved_app
    stacks = []
    for report in collect(Path(app.outdir)):
        template = copy.deepcopy(real_templates[report.path][1])
        if report.path.startswith("dev/Data"):
            for key in _of_type(template, "AWS::KMS::Key"):
                statements = key["Properties"]["KeyPolicy"]["Statement"]
                key["Properties"]["KeyPolicy"]["Statement"] = [
                    s for s in statements if "events.amazonaws.com" not in json.dumps(s.get("Principal"))
                ]
        stacks.append(StackTemplate(report.path, report.account, report.region, template))
    findings = [f for f in check_assembly(stacks) if f.rule == "E9105"]
    # The retraining queue (encrypted with the data key) and the notifications topic (of the data stack).
    # (Serving-<model> is the model stack: its monitoring's dead-letter queue.)
    assert {f.stack.split("-", 1)[0] for f in findings} >= {"dev/Training", "dev/Serving"}
