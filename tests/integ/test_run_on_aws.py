"""``make integ``'s driver: how it reads assertion results, what it needs, and that its scenarios exist."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

INTEG = Path(__file__).resolve().parents[2] / "integ"
spec = importlib.util.spec_from_file_location("integ_run_on_aws", INTEG / "run_on_aws.py")
assert spec is not None and spec.loader is not None
run_on_aws = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = run_on_aws
spec.loader.exec_module(run_on_aws)


def test_failed_assertions_are_read_from_the_assertion_stacks_outputs() -> None:
    outputs = {
        "itrain-dev-Assertions": {
            "AssertionResultsAwsApiCallSageMakerdescribeModelPackage": json.dumps(
                {"status": "fail", "message": "Expected ModelArtifactSha256\nmissing"}
            ),
            "AssertionResultsAwsApiCallSageMakerdescribePipelineExecution": json.dumps({"status": "success"}),
            "SomeOtherOutput": "x",
        },
        "itrain-dev-Data": {"AssertionResultsNotMine": json.dumps({"status": "fail"})},
    }
    failures = run_on_aws.failed_assertions(outputs, "itrain-dev-Assertions")
    assert failures == [
        "AssertionResultsAwsApiCallSageMakerdescribeModelPackage: Expected ModelArtifactSha256\nmissing"
    ]


def test_every_step_names_an_existing_test_and_its_assertion_stack() -> None:
    for steps in run_on_aws.SCENARIOS.values():
        for step in steps:
            test = INTEG / step.test
            assert test.is_file(), step.test
            manifest = json.loads((INTEG / f"{step.test}.snapshot" / "integ.json").read_text(encoding="utf-8"))
            (case,) = manifest["testCases"].values()
            assert case["assertionStackName"] == step.assertion_stack


def test_without_credentials_it_says_what_it_needs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert run_on_aws.main(["--region", "eu-west-1", "training"]) == 2
    assert "needs its credentials" in capsys.readouterr().err


def test_an_unknown_scenario_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run_on_aws.main(["--region", "eu-west-1", "everything"])
    assert "allowed: training, serving, monitoring, promotion" in capsys.readouterr().err


def _stubbed_statuses(monkeypatch: pytest.MonkeyPatch, statuses: dict[str, str]) -> None:
    import boto3
    from botocore.stub import Stubber

    client = boto3.client("cloudformation", region_name="eu-west-1")
    stubber = Stubber(client)
    for stack, status in statuses.items():
        stubber.add_response(
            "describe_stacks",
            {"Stacks": [{"StackName": stack, "StackStatus": status, "CreationTime": "2026-01-01T00:00:00Z"}]},
            {"StackName": stack},
        )
    stubber.activate()
    monkeypatch.setattr(boto3, "client", lambda *args, **kwargs: client)


ROLLBACK = run_on_aws.SCENARIOS["serving"][2]


def test_the_rollback_step_passes_when_the_update_rolled_back_and_the_saboteur_held(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _stubbed_statuses(
        monkeypatch,
        {"iserve-integ-rt-model-serving": "UPDATE_ROLLBACK_COMPLETE", "iserve-integ-Saboteur": "CREATE_COMPLETE"},
    )
    assert run_on_aws._expect_rolled_back(ROLLBACK, "eu-west-1", 1) == []


def test_the_rollback_step_fails_when_the_update_went_through(monkeypatch: pytest.MonkeyPatch) -> None:
    _stubbed_statuses(
        monkeypatch, {"iserve-integ-rt-model-serving": "UPDATE_COMPLETE", "iserve-integ-Saboteur": "CREATE_COMPLETE"}
    )
    (problem,) = run_on_aws._expect_rolled_back(ROLLBACK, "eu-west-1", 0)
    assert "expected the update to fail and roll back" in problem


def test_the_rollback_step_fails_when_the_saboteur_did_not_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    _stubbed_statuses(
        monkeypatch,
        {"iserve-integ-rt-model-serving": "UPDATE_ROLLBACK_COMPLETE", "iserve-integ-Saboteur": "ROLLBACK_COMPLETE"},
    )
    (problem,) = run_on_aws._expect_rolled_back(ROLLBACK, "eu-west-1", 1)
    assert "iserve-integ-Saboteur: ROLLBACK_COMPLETE" in problem
