"""E9090: the release pipeline within CodePipeline's quotas (50 stages, 50 actions per stage)."""

from __future__ import annotations

from typing import Any

from tests.cfn_rules.lint_helpers import findings, fired, template


def _action(index: int) -> dict[str, Any]:
    return {
        "Name": f"Deploy-{index}",
        "ActionTypeId": {"Category": "Approval", "Owner": "AWS", "Provider": "Manual", "Version": "1"},
        "RunOrder": 1,
    }


def _pipeline(stages: int, actions: int = 1) -> dict[str, Any]:
    return {
        "Type": "AWS::CodePipeline::Pipeline",
        "Properties": {
            "RoleArn": "arn:aws:iam::111111111111:role/pipeline",
            "ArtifactStore": {"Type": "S3", "Location": "artifacts"},
            "Stages": [
                {"Name": f"Stage-{stage}", "Actions": [_action(index) for index in range(actions)]}
                for stage in range(stages)
            ],
        },
    }


def test_a_pipeline_over_50_stages_or_a_stage_over_50_actions_fires() -> None:
    assert fired(template(Pipeline=_pipeline(51))) == ["E9090"]
    assert fired(template(Pipeline=_pipeline(2, actions=51))) == ["E9090", "E9090"]
    ((_, message),) = findings(template(Pipeline=_pipeline(51)))
    assert message == "Pipeline: 51 stages; CodePipeline allows at most 50 (Quotas in AWS CodePipeline)"


def test_a_pipeline_at_the_quotas_passes() -> None:
    assert fired(template(Pipeline=_pipeline(50))) == []
    assert fired(template(Pipeline=_pipeline(2, actions=50))) == []
