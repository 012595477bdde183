"""The prod gate shows the diff, pipeline changes need their own approval, and only the approver role approves."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from mlops_constructs.release_gates import GATE_SCRIPT
from stacks.cicd_stack import CICD_STACK_ID

TOOLING = "444444444444"
PROD = "333333333333"
PIPELINE = "mlops-release"
PIPELINE_ARN = f"arn:aws:codepipeline:eu-west-1:{TOOLING}:{PIPELINE}"


def _flat(value: Any) -> Any:
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(str(_flat(part)) for part in parts)
    if isinstance(value, dict) and "Ref" in value:
        return "aws" if value["Ref"] == "AWS::Partition" else f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return f"<{'.'.join(value['Fn::GetAtt'])}>"
    if isinstance(value, list):
        return [_flat(item) for item in value]
    return value


@pytest.fixture(scope="module")
def template(release_app: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((release_app["outdir"] / f"{CICD_STACK_ID}.template.json").read_text())
    return loaded


@pytest.fixture(scope="module")
def stages(template: dict[str, Any]) -> list[dict[str, Any]]:
    (pipeline,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    assert pipeline["Properties"]["Name"] == PIPELINE
    return list(pipeline["Properties"]["Stages"])


def _stage(stages: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(stage for stage in stages if stage["Name"] == name)


def _role(template: dict[str, Any], name: str) -> str:
    (logical_id,) = [
        lid
        for lid, r in template["Resources"].items()
        if r["Type"] == "AWS::IAM::Role" and r["Properties"].get("RoleName") == name
    ]
    return str(logical_id)


def _statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return [
        statement
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role} in r["Properties"]["Roles"]
        for statement in r["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def _resources(statement: dict[str, Any]) -> list[Any]:
    resource = _flat(statement["Resource"])
    return resource if isinstance(resource, list) else [resource]


def _project(template: dict[str, Any], action: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = template["Resources"][action["Configuration"]["ProjectName"]["Ref"]]["Properties"]
    return properties


# --- the gate before self-mutation ------------------------------------------------------------------------


def test_a_review_stage_with_a_check_and_an_approval_comes_right_before_self_mutation(
    stages: list[dict[str, Any]],
) -> None:
    names = [stage["Name"] for stage in stages]
    assert names.index("ReviewPipelineChange") + 1 == names.index("UpdatePipeline")
    assert names.index("Build") < names.index("ReviewPipelineChange")
    actions = {a["Name"]: a for a in _stage(stages, "ReviewPipelineChange")["Actions"]}
    assert set(actions) == {"CheckPipelineChange", "ApprovePipelineChange"}
    check, approval = actions["CheckPipelineChange"], actions["ApprovePipelineChange"]
    assert approval["ActionTypeId"] == {"Category": "Approval", "Owner": "AWS", "Provider": "Manual", "Version": "1"}
    # Side by side: the check can only approve an approval that is already waiting.
    assert check["RunOrder"] == approval["RunOrder"] == 1
    # It reads what self-mutation deploys: the synth step's cloud assembly.
    self_mutate = _stage(stages, "UpdatePipeline")["Actions"][0]
    assert check["InputArtifacts"] == self_mutate["InputArtifacts"] == [{"Name": "Synth_Output"}]
    variables = json.loads(check["Configuration"]["EnvironmentVariables"])
    assert variables == [
        {"name": "PIPELINE_EXECUTION_ID", "type": "PLAINTEXT", "value": "#{codepipeline.PipelineExecutionId}"}
    ]
    assert "mlops-pipeline-change-check" in approval["Configuration"]["ExternalEntityLink"]


def test_the_check_that_runs_is_the_one_embedded_in_the_deployed_buildspec(
    template: dict[str, Any], stages: list[dict[str, Any]]
) -> None:
    check = next(a for a in _stage(stages, "ReviewPipelineChange")["Actions"] if a["Name"] == "CheckPipelineChange")
    project = _project(template, check)
    assert project["Name"] == "mlops-pipeline-change-check"
    spec = json.loads(project["Source"]["BuildSpec"])
    assert base64.b64decode(spec["env"]["variables"]["GATE_SOURCE"]) == GATE_SCRIPT.read_bytes()
    commands = spec["phases"]["build"]["commands"]
    assert commands[0] == 'echo "$GATE_SOURCE" | base64 -d > "$HOME/pipeline_change_gate.py"'
    assert commands[1] == (
        'python3 -I "$HOME/pipeline_change_gate.py" --assembly . --artifact-id Cicd --stack-name mlops-tooling-cicd '
        f"--pipeline {PIPELINE} --stage ReviewPipelineChange --action ApprovePipelineChange "
        '--execution-id "$PIPELINE_EXECUTION_ID"'
    )


def test_the_check_may_approve_only_its_own_approval_and_read_only_the_pipeline_stack(template: dict[str, Any]) -> None:
    statements = _statements(template, _role(template, "mlops-cicd-pipeline-change-check"))
    by_action: dict[str, list[Any]] = {}
    for statement in statements:
        for action in _actions(statement):
            by_action.setdefault(action, []).extend(_resources(statement))
    assert by_action["codepipeline:PutApprovalResult"] == [f"{PIPELINE_ARN}/ReviewPipelineChange/ApprovePipelineChange"]
    assert by_action["cloudformation:GetTemplate"] == [
        f"arn:aws:cloudformation:eu-west-1:{TOOLING}:stack/mlops-tooling-cicd/*"
    ]
    assert by_action["codepipeline:GetPipelineState"] == [
        f"arn:aws:codepipeline:eu-west-1:{TOOLING}:<Pipeline9850B417>"
    ]
    assert not any(action.startswith(("iam:", "sts:")) for action in by_action)


# --- the production gate ----------------------------------------------------------------------------------


def test_prod_approval_waits_for_a_diff_of_exactly_what_the_prod_actions_deploy(
    template: dict[str, Any], stages: list[dict[str, Any]]
) -> None:
    actions = _stage(stages, "prod")["Actions"]
    diff = next(a for a in actions if a["Name"] == "Diff-prod")
    approval = next(a for a in actions if a["Name"] == "Approve-prod")
    deploys = [a for a in actions if a["ActionTypeId"]["Provider"] == "CloudFormation"]
    assert diff["RunOrder"] < approval["RunOrder"] < min(a["RunOrder"] for a in deploys)
    assert approval["Configuration"]["ExternalEntityLink"] == (
        f"https://eu-west-1.console.aws.amazon.com/codesuite/codebuild/{TOOLING}/projects/"
        "mlops-release-diff-prod/history?region=eu-west-1"
    )
    project = _project(template, diff)
    assert project["Name"] == "mlops-release-diff-prod"
    spec = json.loads(project["Source"]["BuildSpec"])
    commands = spec["phases"]["build"]["commands"]
    assert commands[-1] == "npx --yes aws-cdk@2.1148.1 diff --app . --no-change-set --no-color 'prod/*'"
    variables = {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}
    expected = json.loads(variables["EXPECTED_TEMPLATES"])
    # The guard names the same template files the deploy actions deploy, stack by stack.
    deployed = {
        a["Configuration"]["StackName"]: a["Configuration"]["TemplatePath"].removeprefix("Synth_Output::")
        for a in deploys
    }
    assert {name: f"{expected['dir']}/{path}" for name, path in expected["templates"].items()} == deployed
    statements = _statements(template, _role(template, "mlops-cicd-diff-prod"))
    assumed = [r for s in statements if "sts:AssumeRole" in _actions(s) for r in _resources(s)]
    assert assumed == [f"arn:aws:iam::{PROD}:role/cdk-hnb659fds-lookup-role-{PROD}-eu-west-1"]


def test_the_diff_guard_refuses_an_assembly_that_deploys_other_templates(
    template: dict[str, Any], stages: list[dict[str, Any]], release_app: dict[str, Any], tmp_path: Path
) -> None:
    import os
    import shutil
    import subprocess
    import sys

    diff = next(a for a in _stage(stages, "prod")["Actions"] if a["Name"] == "Diff-prod")
    project = _project(template, diff)
    guard = json.loads(project["Source"]["BuildSpec"])["phases"]["build"]["commands"][0]
    assert guard.startswith('python3 -c "')
    code = guard.removeprefix('python3 -c "').removesuffix('"')
    variables = {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}
    assembly = tmp_path / "assembly"
    shutil.copytree(release_app["outdir"], assembly)
    env = {**os.environ, "EXPECTED_TEMPLATES": variables["EXPECTED_TEMPLATES"]}
    ok = subprocess.run(
        [sys.executable, "-c", code], cwd=assembly, env=env, capture_output=True, text=True, check=False
    )
    assert ok.returncode == 0, ok.stderr
    manifest_path = assembly / "assembly-prod" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    stack = next(a for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack")
    stack["properties"]["templateFile"] = "innocent.template.json"
    manifest_path.write_text(json.dumps(manifest))
    refused = subprocess.run(
        [sys.executable, "-c", code], cwd=assembly, env=env, capture_output=True, text=True, check=False
    )
    assert refused.returncode != 0
    assert "does not deploy the templates the pipeline deploys" in refused.stderr


# --- who may approve --------------------------------------------------------------------------------------


def test_only_the_approver_role_may_answer_the_prod_approval(
    template: dict[str, Any], release_app: dict[str, Any], stages: list[dict[str, Any]]
) -> None:
    approver = _role(template, "mlops-release-approver")
    answering: dict[str, list[Any]] = {}
    for path in release_app["outdir"].rglob("*.template.json"):
        other = json.loads(path.read_text())
        for resource in other["Resources"].values():
            if resource["Type"] != "AWS::IAM::Policy":
                continue
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                if any(a in ("codepipeline:PutApprovalResult", "codepipeline:*", "*") for a in _actions(statement)):
                    for role in resource["Properties"]["Roles"]:
                        answering.setdefault(role["Ref"], []).extend(_resources(statement))
    gate = f"{PIPELINE_ARN}/ReviewPipelineChange/ApprovePipelineChange"
    prod = f"{PIPELINE_ARN}/prod/Approve-prod"
    assert answering == {approver: [gate, prod], _role(template, "mlops-cicd-pipeline-change-check"): [gate]}
    # Each ARN names a real manual approval of the pipeline, so the grant is neither dead nor wider than it.
    approvals = {
        f"{PIPELINE_ARN}/{stage['Name']}/{action['Name']}"
        for stage in stages
        for action in stage["Actions"]
        if action["ActionTypeId"]["Category"] == "Approval"
    }
    assert approvals == {gate, prod}


def test_the_approver_role_is_assumable_in_the_tooling_account_and_reads_the_review_builds(
    template: dict[str, Any],
) -> None:
    approver = template["Resources"][_role(template, "mlops-release-approver")]["Properties"]
    (trust,) = approver["AssumeRolePolicyDocument"]["Statement"]
    assert _flat(trust["Principal"]["AWS"]) == f"arn:aws:iam::{TOOLING}:root"
    assert approver["MaxSessionDuration"] == 3600
    statements = {s["Sid"]: s for s in _statements(template, _role(template, "mlops-release-approver"))}
    assert set(statements) == {
        "AnswerTheReleaseApprovals",
        "ReadTheReleasePipeline",
        "ReadTheReviewBuilds",
        "ReadTheReviewLogs",
    }
    projects = ["mlops-pipeline-change-check", "mlops-release-diff-prod"]
    assert _resources(statements["ReadTheReviewBuilds"]) == [
        f"arn:aws:codebuild:eu-west-1:{TOOLING}:project/{name}" for name in projects
    ]
    assert _resources(statements["ReadTheReviewLogs"]) == [
        f"arn:aws:logs:eu-west-1:{TOOLING}:log-group:/aws/codebuild/{name}:*" for name in projects
    ]
