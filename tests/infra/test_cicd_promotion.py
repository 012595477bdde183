"""Model promotion: the synthesized approval patterns, driven through EventBridge (moto) with real-shaped events.

Only an Approved package of the project's group starts a release; Rejected and pending ones, other groups and
(on the tooling bus) other accounts start nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_cdk.assertions import Template
from moto import mock_aws

from stacks.cicd_stack import ACCESS_STACK_ID, CICD_STACK_ID

REGISTRY_ACCOUNT = "111111111111"
GROUP = "mlops-breast-cancer"


@pytest.fixture(scope="module")
def patterns(cicd_app: tuple[Any, dict[str, Any], Any, Path]) -> dict[str, dict[str, Any]]:
    """The event patterns of the registry's forwarding rule and the tooling account's release rule."""
    app, stages, _, _ = cicd_app
    registry = Template.from_stack(stages["dev"].node.find_child(ACCESS_STACK_ID))
    tooling = Template.from_stack(app.node.find_child(CICD_STACK_ID))
    (forward,) = registry.find_resources("AWS::Events::Rule").values()
    (release,) = tooling.find_resources("AWS::Events::Rule").values()
    return {"registry": forward["Properties"]["EventPattern"], "tooling": release["Properties"]["EventPattern"]}


def _package_event(status: str, group: str = GROUP) -> dict[str, Any]:
    """A "SageMaker Model Package State Change" entry as SageMaker emits it (detail abridged to what matters)."""
    detail = {
        "ModelPackageGroupName": group,
        "ModelPackageVersion": 3,
        "ModelPackageArn": f"arn:aws:sagemaker:eu-west-1:{REGISTRY_ACCOUNT}:model-package/{group}/3",
        "ModelPackageStatus": "Completed",
        "ModelApprovalStatus": status,
        "CreationTime": 1767225600000,
    }
    return {
        "Source": "aws.sagemaker",
        "DetailType": "SageMaker Model Package State Change",
        "Detail": json.dumps(detail),
        "Resources": [detail["ModelPackageArn"]],
    }


@pytest.fixture
def delivered(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A function: (pattern, entries, account) -> how many entries a rule with ``pattern`` delivered."""

    def run(pattern: dict[str, Any], entries: list[dict[str, Any]], account: str = REGISTRY_ACCOUNT) -> int:
        monkeypatch.setenv("MOTO_ACCOUNT_ID", account)
        with mock_aws():
            sqs = boto3.client("sqs", region_name="eu-west-1")
            events = boto3.client("events", region_name="eu-west-1")
            queue = sqs.create_queue(QueueName="released")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            events.put_rule(Name="under-test", EventPattern=json.dumps(pattern))
            events.put_targets(Rule="under-test", Targets=[{"Id": "queue", "Arn": arn}])
            for entry in entries:
                events.put_events(Entries=[entry])
            received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
            return len(received)

    yield run


def test_registry_forwards_an_approved_package(patterns: dict[str, Any], delivered: Any) -> None:
    assert delivered(patterns["registry"], [_package_event("Approved")]) == 1


@pytest.mark.parametrize("status", ["Rejected", "PendingManualApproval"])
def test_rejected_or_pending_packages_trigger_nothing(patterns: dict[str, Any], delivered: Any, status: str) -> None:
    assert delivered(patterns["registry"], [_package_event(status)]) == 0
    assert delivered(patterns["tooling"], [_package_event(status)]) == 0


def test_other_package_groups_trigger_nothing(patterns: dict[str, Any], delivered: Any) -> None:
    assert delivered(patterns["registry"], [_package_event("Approved", group="someone-elses-model")]) == 0


def test_tooling_rule_starts_a_release_only_for_the_registry_account(patterns: dict[str, Any], delivered: Any) -> None:
    assert delivered(patterns["tooling"], [_package_event("Approved")], account=REGISTRY_ACCOUNT) == 1
    assert delivered(patterns["tooling"], [_package_event("Approved")], account="999999999999") == 0
