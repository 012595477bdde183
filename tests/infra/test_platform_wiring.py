"""How the stacks of the platform connect across environments: drift in staging and prod retrains in dev."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Template

from tests.infra.stack_parts import part_template


def _rules(template: Template) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template.find_resources("AWS::Events::Rule").values()]


def test_serving_environments_forward_their_drift_alarms_to_the_training_account(approved_app: Any) -> None:
    _, stages = approved_app
    for env in ("staging", "prod"):
        monitoring = part_template(stages[env].monitoring["breast-cancer"])
        forwarders = [
            rule
            for rule in _rules(monitoring)
            if "arn:aws:events:eu-west-1:111111111111:event-bus/default" in json.dumps(rule["Targets"])
        ]
        assert len(forwarders) == 1, env
        pattern = forwarders[0]["EventPattern"]
        assert pattern["detail-type"] == ["CloudWatch Alarm State Change"]
        assert pattern["detail"]["state"]["value"] == ["ALARM"]
        assert sorted(pattern["detail"]["alarmName"]) == [
            f"mlops-{env}-breast-cancer-feature-drift",
            f"mlops-{env}-breast-cancer-model-quality",
        ]
    # dev trains: its alarms reach its own function without forwarding.
    assert stages["dev"].monitoring["breast-cancer"].alarm_forwarder is None


def test_training_account_accepts_exactly_the_forwarding_accounts(approved_app: Any) -> None:
    _, stages = approved_app
    training = Template.from_stack(stages["dev"].training["breast-cancer"])
    # The bus policy is the environment's, in the registry Data stack (one statement per account, not per model).
    assert training.find_resources("AWS::Events::EventBusPolicy") == {}
    policies = Template.from_stack(stages["dev"].data).find_resources("AWS::Events::EventBusPolicy")
    principals = sorted(json.dumps(p["Properties"]["Statement"]["Principal"]) for p in policies.values())
    assert len(principals) == 2
    assert "222222222222" in principals[0] + principals[1] and "333333333333" in principals[0] + principals[1]
    function = next(iter(training.find_resources("AWS::Lambda::Function").values()))
    sources = json.loads(function["Properties"]["Environment"]["Variables"]["ALARM_SOURCES"])
    assert sources == ["222222222222:eu-west-1", "333333333333:eu-west-1"]
    alarm_names = json.loads(function["Properties"]["Environment"]["Variables"]["ALARM_NAMES"])
    assert "mlops-prod-breast-cancer-feature-drift" in alarm_names
    # dev's serverless endpoint has endpoint-only monitoring: no drift alarms of its own to retrain on.
    assert not [name for name in alarm_names if name.startswith("mlops-dev-")]


def test_resources_carry_the_cost_tags_and_stacks_carry_none(approved_app: Any) -> None:
    _, stages = approved_app
    prod = stages["prod"]
    for stack in (prod.data, prod.models["breast-cancer"]):
        assert stack.tags.tag_values() == {}, stack.stack_name  # no per-action template configuration in CI/CD
    bucket = next(iter(Template.from_stack(prod.data).find_resources("AWS::S3::Bucket").values()))
    assert {"Key": "environment", "Value": "prod"} in bucket["Properties"]["Tags"]
    assert {"Key": "project", "Value": "mlops"} in bucket["Properties"]["Tags"]
    endpoint = next(
        iter(part_template(prod.serving["breast-cancer"]).find_resources("AWS::SageMaker::Endpoint").values())
    )
    assert {"Key": "model", "Value": "breast-cancer"} in endpoint["Properties"]["Tags"]
