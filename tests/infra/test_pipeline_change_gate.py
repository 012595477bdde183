"""The check before self-mutation, driven as CodeBuild runs it: with the real pipeline template and a fake AWS CLI."""

from __future__ import annotations

import copy
import json
import os
import stat
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from mlops_constructs import pipeline_change_gate as gate
from mlops_constructs.release_gates import GATE_SCRIPT
from stacks.cicd_stack import CICD_STACK_ID

STACK = "mlops-tooling-cicd"
PIPELINE = "mlops-release"
EXECUTION = "11111111-2222-3333-4444-555555555555"
TOKEN = "0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"


@pytest.fixture(scope="module")
def deployed(release_app: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((release_app["outdir"] / f"{CICD_STACK_ID}.template.json").read_text())
    return loaded


def _pipeline(template: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in template["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline")


def _state(execution: str = EXECUTION, status: str = "InProgress") -> dict[str, Any]:
    return {
        "stageStates": [
            {
                "stageName": "ReviewPipelineChange",
                "latestExecution": {"pipelineExecutionId": execution, "status": "InProgress"},
                "actionStates": [
                    {"actionName": "CheckPipelineChange", "latestExecution": {"status": "InProgress"}},
                    {"actionName": "ApprovePipelineChange", "latestExecution": {"status": status, "token": TOKEN}},
                ],
            }
        ]
    }


class FakeAws:
    """Answers the three CLI calls the check makes and records them."""

    def __init__(self, deployed: dict[str, Any] | None, state: dict[str, Any]) -> None:
        self.deployed, self.state = deployed, state
        self.calls: list[list[str]] = []

    def __call__(self, arguments: Sequence[str]) -> Any:
        self.calls.append(list(arguments))
        if arguments[:2] == ["cloudformation", "get-template"]:
            if self.deployed is None:
                raise RuntimeError("Stack with id mlops-tooling-cicd does not exist")
            return {"TemplateBody": json.dumps(self.deployed)}
        if arguments[:2] == ["codepipeline", "get-pipeline-state"]:
            return self.state
        if arguments[:2] == ["codepipeline", "put-approval-result"]:
            return {"approvedAt": "2026-01-01T00:00:00Z"}
        raise AssertionError(arguments)

    @property
    def approvals(self) -> list[list[str]]:
        return [call for call in self.calls if call[:2] == ["codepipeline", "put-approval-result"]]


def _assembly(tmp_path: Path, template: dict[str, Any], *, template_file: str = "Cicd.template.json") -> Path:
    (tmp_path / template_file).write_text(json.dumps(template))
    manifest = {
        "artifacts": {
            "Cicd": {
                "type": "aws:cloudformation:stack",
                "properties": {"templateFile": template_file, "stackName": STACK},
            }
        }
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return tmp_path


def _arguments(assembly: Path, execution: str = EXECUTION) -> Any:
    return gate.parse(
        [
            "--assembly", str(assembly), "--artifact-id", "Cicd", "--stack-name", STACK, "--pipeline", PIPELINE,
            "--stage", "ReviewPipelineChange", "--action", "ApprovePipelineChange", "--execution-id", execution,
            "--wait-seconds", "20",
        ]
    )  # fmt: skip


def _asset_change(template: dict[str, Any]) -> dict[str, Any]:
    """What every release with a new Lambda asset changes: the asset project's buildspec and its config hash."""
    changed = copy.deepcopy(template)
    for resource in changed["Resources"].values():
        if resource["Type"] == "AWS::CodeBuild::Project" and gate.ASSET_PROJECT_MARKER in resource["Properties"].get(
            "Description", ""
        ):
            resource["Properties"]["Source"]["BuildSpec"] += "\n# new asset hash"
    for stage in _pipeline(changed)["Properties"]["Stages"]:
        for action in stage["Actions"]:
            variables = action.get("Configuration", {}).get("EnvironmentVariables")
            if variables and "_PROJECT_CONFIG_HASH" in variables:
                action["Configuration"]["EnvironmentVariables"] = variables.replace('"value":"', '"value":"ff', 1)
    return changed


def test_a_release_that_changes_only_assets_is_approved_by_the_check(deployed: dict[str, Any], tmp_path: Path) -> None:
    proposed = _asset_change(deployed)
    assert proposed != deployed
    aws = FakeAws(deployed, _state())
    assert gate.run(_arguments(_assembly(tmp_path, proposed)), aws, sleep=lambda _: None) == 0
    (approval,) = aws.approvals
    assert approval[approval.index("--token") + 1] == TOKEN
    assert approval[approval.index("--pipeline-name") + 1] == PIPELINE
    assert approval[approval.index("--action-name") + 1] == "ApprovePipelineChange"
    assert json.loads(approval[approval.index("--result") + 1])["status"] == "Approved"


def test_removing_the_prod_approval_is_left_to_a_person(
    deployed: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proposed = copy.deepcopy(deployed)
    prod = next(s for s in _pipeline(proposed)["Properties"]["Stages"] if s["Name"] == "prod")
    prod["Actions"] = [a for a in prod["Actions"] if a["ActionTypeId"]["Category"] != "Approval"]
    aws = FakeAws(deployed, _state())
    assert gate.run(_arguments(_assembly(tmp_path, proposed)), aws, sleep=lambda _: None) == 0
    assert aws.approvals == []
    assert "changed  Pipeline9850B417 (AWS::CodePipeline::Pipeline)" in capsys.readouterr().out


@pytest.mark.parametrize("kind", ["AWS::IAM::Policy", "AWS::IAM::Role", "AWS::KMS::Key"])
def test_a_change_to_iam_or_a_resource_policy_is_left_to_a_person(
    deployed: dict[str, Any], tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    proposed = copy.deepcopy(deployed)
    logical_id, resource = next((k, r) for k, r in proposed["Resources"].items() if r["Type"] == kind)
    resource["Properties"]["Description" if kind != "AWS::IAM::Policy" else "PolicyName"] = "widened"
    aws = FakeAws(deployed, _state())
    gate.run(_arguments(_assembly(tmp_path, proposed)), aws, sleep=lambda _: None)
    assert aws.approvals == []
    assert f"changed  {logical_id}" in capsys.readouterr().out


def test_weakening_the_check_itself_is_left_to_a_person(deployed: dict[str, Any], tmp_path: Path) -> None:
    proposed = copy.deepcopy(deployed)
    project = next(
        r for r in proposed["Resources"].values() if r["Properties"].get("Name") == "mlops-pipeline-change-check"
    )
    project["Properties"]["Source"]["BuildSpec"] = project["Properties"]["Source"]["BuildSpec"].replace(
        "python3", "true"
    )
    aws = FakeAws(deployed, _state())
    gate.run(_arguments(_assembly(tmp_path, proposed)), aws, sleep=lambda _: None)
    assert aws.approvals == []


def test_the_template_the_manifest_names_is_the_one_checked(deployed: dict[str, Any], tmp_path: Path) -> None:
    # An unchanged Cicd.template.json next to a manifest that deploys another file must not pass.
    (tmp_path / "Cicd.template.json").write_text(json.dumps(deployed))
    proposed = copy.deepcopy(deployed)
    _pipeline(proposed)["Properties"]["Stages"].pop()
    _assembly(tmp_path, proposed, template_file="other.template.json")
    aws = FakeAws(deployed, _state())
    gate.run(_arguments(tmp_path), aws, sleep=lambda _: None)
    assert aws.approvals == []


def test_no_approval_for_another_execution_or_an_unreadable_stack(deployed: dict[str, Any], tmp_path: Path) -> None:
    assembly = _assembly(tmp_path, deployed)
    other_execution = FakeAws(deployed, _state(execution="99999999-2222-3333-4444-555555555555"))
    gate.run(_arguments(assembly), other_execution, sleep=lambda _: None)
    assert other_execution.approvals == []
    not_deployed = FakeAws(None, _state())
    gate.run(_arguments(assembly), not_deployed, sleep=lambda _: None)
    assert not_deployed.approvals == []
    (tmp_path / "renamed").mkdir()
    renamed = _assembly(tmp_path / "renamed", deployed)
    manifest = json.loads((renamed / "manifest.json").read_text())
    manifest["artifacts"]["Cicd"]["properties"]["stackName"] = "someone-elses-stack"
    (renamed / "manifest.json").write_text(json.dumps(manifest))
    wrong_stack = FakeAws(deployed, _state())
    gate.run(_arguments(renamed), wrong_stack, sleep=lambda _: None)
    assert wrong_stack.calls == [] and wrong_stack.approvals == []


def test_the_script_runs_standalone_with_the_aws_cli(deployed: dict[str, Any], tmp_path: Path) -> None:
    """The embedded script as CodeBuild runs it: stdlib only, the AWS CLI on PATH (here a recording fake)."""
    (tmp_path / "assembly").mkdir()
    assembly = _assembly(tmp_path / "assembly", deployed)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.jsonl"
    responses = {
        "cloudformation get-template": {"TemplateBody": json.dumps(deployed)},
        "codepipeline get-pipeline-state": _state(),
        "codepipeline put-approval-result": {},
    }
    (tmp_path / "responses.json").write_text(json.dumps(responses))
    fake = bin_dir / "aws"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        f"open({str(log)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
        f"print(json.dumps(json.load(open({str(tmp_path / 'responses.json')!r}))[' '.join(sys.argv[1:3])]))\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    copied = tmp_path / "pipeline_change_gate.py"
    copied.write_bytes(GATE_SCRIPT.read_bytes())
    done = subprocess.run(
        [sys.executable, "-I", str(copied),
         "--assembly", str(assembly), "--artifact-id", "Cicd", "--stack-name", STACK, "--pipeline", PIPELINE,
         "--stage", "ReviewPipelineChange", "--action", "ApprovePipelineChange", "--execution-id", EXECUTION],
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert [call[:2] for call in calls] == [
        ["cloudformation", "get-template"],
        ["codepipeline", "get-pipeline-state"],
        ["codepipeline", "put-approval-result"],
    ]
    assert calls[0][:6] == ["cloudformation", "get-template", "--stack-name", STACK, "--template-stage", "Original"]
    assert all(call[-2:] == ["--output", "json"] for call in calls)
