"""The check before the release pipeline updates itself: approve automatically only when nothing that matters changed.

CDK Pipelines deploys a change to the pipeline (its own stack) in the UpdatePipeline stage, before any later
approval: a commit that removed the production approval would remove it before it is reached. So a stage before
UpdatePipeline holds a manual approval and this check, side by side. The check compares what the pipeline stack
would become (its template in the release's cloud assembly) with what is deployed, on what decides who can
deploy what: the pipeline's stages and actions (approvals, deploy roles, stack names, run order), every IAM
resource, every resource policy and every CodeBuild project other than the asset-publishing ones. When all of that
is unchanged it approves the approval itself; otherwise it prints the changes and leaves the approval to a person.

Runs inside CodeBuild with only the Python standard library and the AWS CLI. Its source is embedded in the
CodeBuild project's buildspec at synth, so the check that runs is the one the deployed pipeline holds, never the
one in the commit under review (a commit that weakens this file is itself a change to a CodeBuild project).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# Resource policies decide who may use a resource as much as IAM policies do.
RESOURCE_POLICY_TYPES = frozenset(
    {
        "AWS::Events::EventBusPolicy",
        "AWS::KMS::Key",
        "AWS::S3::BucketPolicy",
        "AWS::SNS::TopicPolicy",
        "AWS::SQS::QueuePolicy",
        "AWS::Lambda::Permission",
    }
)
# CDK Pipelines puts a hash of each CodeBuild project's configuration into its action; the projects themselves are
# compared (asset-publishing projects change with every asset and can only use the shared asset role).
_CONFIG_HASH = "_PROJECT_CONFIG_HASH"
ASSET_PROJECT_MARKER = "/Pipeline/Assets/"

Aws = Callable[[Sequence[str]], Any]


def _action(action: dict[str, Any]) -> dict[str, Any]:
    configuration = dict(action.get("Configuration", {}))
    variables = configuration.get("EnvironmentVariables")
    if isinstance(variables, str):
        kept = [item for item in json.loads(variables) if item.get("name") != _CONFIG_HASH]
        configuration["EnvironmentVariables"] = kept
    return {**action, "Configuration": configuration}


def _asset_project(resource: dict[str, Any]) -> bool:
    return ASSET_PROJECT_MARKER in str(resource.get("Properties", {}).get("Description", ""))


def _decides_access(kind: str, resource: dict[str, Any]) -> bool:
    if kind.startswith("AWS::IAM::") or kind in RESOURCE_POLICY_TYPES:
        return True
    return kind == "AWS::CodeBuild::Project" and not _asset_project(resource)


def review_surface(template: dict[str, Any]) -> dict[str, Any]:
    """The parts of a pipeline stack template whose change needs a person's approval, by logical ID."""
    surface: dict[str, Any] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        kind = resource.get("Type", "")
        if kind == "AWS::CodePipeline::Pipeline":
            properties = resource.get("Properties", {})
            stages = [
                {**stage, "Actions": [_action(action) for action in stage.get("Actions", [])]}
                for stage in properties.get("Stages", [])
            ]
            surface[logical_id] = {**resource, "Properties": {**properties, "Stages": stages}}
        elif _decides_access(kind, resource):
            surface[logical_id] = resource
    return surface


def changes(deployed: dict[str, Any], proposed: dict[str, Any]) -> list[str]:
    """One line per logical ID whose review surface was added, removed or changed (sorted)."""
    before, after = review_surface(deployed), review_surface(proposed)
    lines = []
    for logical_id in sorted(set(before) | set(after)):
        if logical_id not in before:
            lines.append(f"added    {logical_id} ({after[logical_id].get('Type')})")
        elif logical_id not in after:
            lines.append(f"removed  {logical_id} ({before[logical_id].get('Type')})")
        elif before[logical_id] != after[logical_id]:
            lines.append(f"changed  {logical_id} ({after[logical_id].get('Type')})")
    return lines


def proposed_template(assembly: Path, artifact_id: str, stack_name: str) -> dict[str, Any]:
    """The template the self-mutation step would deploy: the one the assembly's manifest names for the stack."""
    manifest = json.loads((assembly / "manifest.json").read_text(encoding="utf-8"))
    artifact = manifest.get("artifacts", {}).get(artifact_id)
    if not artifact or artifact.get("type") != "aws:cloudformation:stack":
        raise ValueError(f"the cloud assembly has no stack artifact {artifact_id!r}")
    properties = artifact.get("properties", {})
    if properties.get("stackName", artifact_id) != stack_name:
        raise ValueError(f"artifact {artifact_id!r} deploys stack {properties.get('stackName')!r}, not {stack_name!r}")
    loaded: dict[str, Any] = json.loads((assembly / properties["templateFile"]).read_text(encoding="utf-8"))
    return loaded


def aws_cli(arguments: Sequence[str]) -> Any:
    """Run the AWS CLI with JSON output; raise on failure."""
    done = subprocess.run(["aws", *arguments, "--output", "json"], capture_output=True, text=True, check=False)  # noqa: S607
    if done.returncode != 0:
        raise RuntimeError(f"aws {' '.join(arguments[:2])} failed: {done.stderr.strip()}")
    return json.loads(done.stdout) if done.stdout.strip() else {}


def deployed_template(aws: Aws, stack_name: str) -> dict[str, Any]:
    """The template CloudFormation last deployed for ``stack_name`` (as submitted)."""
    body = aws(["cloudformation", "get-template", "--stack-name", stack_name, "--template-stage", "Original"])[
        "TemplateBody"
    ]
    loaded: dict[str, Any] = json.loads(body) if isinstance(body, str) else body
    return loaded


def approval_token(aws: Aws, *, pipeline: str, stage: str, action: str, execution_id: str) -> str | None:
    """The token of ``action`` when it waits for approval in this very execution, else None."""
    state = aws(["codepipeline", "get-pipeline-state", "--name", pipeline])
    for stage_state in state.get("stageStates", []):
        if stage_state.get("stageName") != stage:
            continue
        if stage_state.get("latestExecution", {}).get("pipelineExecutionId") != execution_id:
            return None
        for action_state in stage_state.get("actionStates", []):
            latest = action_state.get("latestExecution", {})
            if action_state.get("actionName") == action and latest.get("status") == "InProgress":
                token = latest.get("token")
                return str(token) if token else None
    return None


def run(arguments: argparse.Namespace, aws: Aws, sleep: Callable[[float], None] = time.sleep) -> int:
    """Approve when nothing that matters changed; otherwise report and leave the approval to a person."""
    try:
        proposed = proposed_template(Path(arguments.assembly), arguments.artifact_id, arguments.stack_name)
    except (OSError, ValueError, KeyError) as error:
        print(f"Cannot read the proposed pipeline stack: {error}. Approval left to a person.")
        return 0
    try:
        deployed = deployed_template(aws, arguments.stack_name)
    except (RuntimeError, KeyError, ValueError) as error:
        print(f"Cannot read the deployed pipeline stack: {error}. Approval left to a person.")
        return 0
    found = changes(deployed, proposed)
    if found:
        print("This release changes what decides who can deploy what. Review before approving:")
        for line in found:
            print(f"  {line}")
        print(f"Run `cdk diff {arguments.artifact_id}` on the release commit for the full diff.")
        print(f"Approval {arguments.stage}/{arguments.action} is left to the approver role.")
        return 0
    for _ in range(max(1, arguments.wait_seconds // 10)):
        token = approval_token(
            aws,
            pipeline=arguments.pipeline,
            stage=arguments.stage,
            action=arguments.action,
            execution_id=arguments.execution_id,
        )
        if token:
            summary = "No change to the pipeline's stages, approvals, IAM, resource policies or build projects."
            aws(
                [
                    "codepipeline",
                    "put-approval-result",
                    "--pipeline-name",
                    arguments.pipeline,
                    "--stage-name",
                    arguments.stage,
                    "--action-name",
                    arguments.action,
                    "--token",
                    token,
                    "--result",
                    json.dumps({"summary": summary, "status": "Approved"}),
                ]
            )
            print(f"Unchanged review surface: approved {arguments.stage}/{arguments.action}.")
            return 0
        sleep(10)
    print("Unchanged review surface, but the approval never became ready: left to a person.")
    return 0


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """Command-line arguments (all required but ``--wait-seconds``)."""
    parser = argparse.ArgumentParser(description=__doc__)
    for name in ("assembly", "artifact-id", "stack-name", "pipeline", "stage", "action", "execution-id"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--wait-seconds", type=int, default=300)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(run(parse(sys.argv[1:]), aws_cli))
