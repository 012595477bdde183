"""Changes SageMaker refuses in place: another instance type under auto scaling, real-time <-> serverless.

"Update endpoints that use auto scaling": an update that changes the instance type of a variant registered with
auto scaling fails. "Update a serverless endpoint": updating a real-time endpoint to serverless is not supported.
The endpoint's name records exactly that shape, so such a change gives a new name: CloudFormation creates the new
endpoint (same logical ID, replacement) and deletes the old one, and everything naming the endpoint follows.
Every other change keeps the name and updates the endpoint in place.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from mlops_config import parse_config
from mlops_config.catalog import instance_types
from mlops_constructs import naming
from scripts.smoke_test import endpoints_to_check
from stacks.cicd_stack import smoke_tested_endpoints
from tests.conftest import raw_default_config
from tests.infra.serving_app import build_serving, package_arn, stack_template

SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


def prod_serving(**changes: Any) -> dict[str, Any]:
    """The shipped prod serving block with ``changes`` merged one level deep."""
    raw = raw_default_config()
    serving = raw["models"][0]["environments"]["prod"]["serving"]
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(serving.get(key), dict):
            serving[key].update(value)
        else:
            serving[key] = value
    return raw


def synth_prod(raw: dict[str, Any]) -> tuple[Any, Template]:
    config = parse_config(raw, source=Path("platform.yaml"))
    app, stacks = build_serving(config, {"prod": {"breast-cancer": package_arn(3)}}, environments=("prod",))
    app.synth()  # cdk-nag passes in every shape
    stack = stacks["prod"]
    assert stack is not None
    return stack, stack_template(stack)


def endpoint_of(template: Template) -> tuple[str, dict[str, Any]]:
    (item,) = template.find_resources("AWS::SageMaker::Endpoint").items()
    return item[0], dict(item[1]["Properties"])


def names_in(template: Template, name: str) -> int:
    return json.dumps(template.to_json()).count(name)


@pytest.fixture(scope="module")
def shipped() -> tuple[Any, Template]:
    return synth_prod(raw_default_config())


def test_only_the_instance_type_changes_gives_a_new_endpoint_that_everything_follows(
    shipped: tuple[Any, Template],
) -> None:
    old_stack, old = shipped
    new_stack, new = synth_prod(prod_serving(realtime={"instance_type": "ml.c5.xlarge"}))
    old_id, old_endpoint = endpoint_of(old)
    new_id, new_endpoint = endpoint_of(new)
    assert (old_endpoint["EndpointName"], new_endpoint["EndpointName"]) == (
        "mlops-prod-breast-cancer-m5-large",
        "mlops-prod-breast-cancer-c5-xlarge",
    )
    # Same logical ID, new EndpointName (update requires replacement): a new endpoint, then the old one goes.
    assert old_id == new_id
    # Auto scaling registers the new endpoint's variant (a new ResourceId replaces the scalable target too).
    (target,) = new.find_resources("AWS::ApplicationAutoScaling::ScalableTarget").values()
    assert target["Properties"]["ResourceId"] == "endpoint/mlops-prod-breast-cancer-c5-xlarge/variant/AllTraffic"
    # Rollback alarms, deployment events and the lookup parameter name the new endpoint, nothing the old one.
    assert names_in(new, "mlops-prod-breast-cancer-m5-large") == 0
    for alarm in new.find_resources("AWS::CloudWatch::Alarm").values():
        dimensions = {d["Name"]: d["Value"] for d in alarm["Properties"].get("Dimensions", [])}
        assert dimensions.get("EndpointName", "mlops-prod-breast-cancer-c5-xlarge") == (
            "mlops-prod-breast-cancer-c5-xlarge"
        )
    (parameter,) = new.find_resources("AWS::SSM::Parameter").values()
    assert parameter["Properties"] == {
        "Name": "/mlops/prod/breast-cancer/endpoint-name",
        "Type": "String",
        "Value": "mlops-prod-breast-cancer-c5-xlarge",
        "Description": "Current SageMaker endpoint name of breast-cancer in prod",
    }
    assert new_stack.endpoint.endpoint_name == "mlops-prod-breast-cancer-c5-xlarge"
    assert old_stack.endpoint.endpoint_name == "mlops-prod-breast-cancer-m5-large"


def test_only_the_mode_changes_gives_a_new_endpoint(shipped: tuple[Any, Template]) -> None:
    _, old = shipped
    raw = prod_serving(mode="serverless", batch={"enabled": False})
    # Serverless endpoints have no data capture: the capture-reading open backend is refused there.
    raw["models"][0]["environments"]["prod"]["monitoring"] = {"backend": "endpoint_only"}
    _, new = synth_prod(raw)
    old_id, _ = endpoint_of(old)
    new_id, new_endpoint = endpoint_of(new)
    assert old_id == new_id
    assert new_endpoint["EndpointName"] == "mlops-prod-breast-cancer-serverless"
    new.resource_count_is("AWS::ApplicationAutoScaling::ScalableTarget", 0)
    assert names_in(new, "mlops-prod-breast-cancer-m5-large") == 0


@pytest.mark.parametrize(
    "changes",
    [
        {"realtime": {"initial_instance_count": 3}},
        {"realtime": {"autoscaling": {"min_capacity": 2, "max_capacity": 10}}},
        {"realtime": {"data_capture_percent": 50}},
        {"realtime": {"deployment": {"strategy": "linear", "linear_step_percent": 20}}},
        {"rollback_alarms": {"latency_p99_ms": 500}},
    ],
    ids=["instance-count", "scaling-bounds", "capture", "rollout", "rollback-alarms"],
)
def test_changes_sagemaker_makes_in_place_keep_the_name(changes: dict[str, Any]) -> None:
    _, template = synth_prod(prod_serving(**changes))
    assert endpoint_of(template)[1]["EndpointName"] == "mlops-prod-breast-cancer-m5-large"


def test_serverless_capacity_changes_keep_the_name() -> None:
    raw = raw_default_config()
    raw["models"][0]["environments"]["dev"]["serving"]["serverless"] = {"memory_size_mb": 4096, "max_concurrency": 9}
    config = parse_config(raw, source=Path("platform.yaml"))
    _, stacks = build_serving(config, {"dev": {"breast-cancer": package_arn(3)}}, environments=("dev",))
    dev = stacks["dev"]
    assert dev is not None and dev.endpoint is not None
    assert dev.endpoint.endpoint_name == "mlops-dev-breast-cancer-serverless"


def test_the_smoke_test_and_the_cicd_invoke_grant_follow_the_name() -> None:
    raw = prod_serving(realtime={"instance_type": "ml.c5.xlarge"})
    config = parse_config(raw, source=Path("platform.yaml"))
    approved = {"prod": {"breast-cancer": package_arn(3)}}
    assert [check.endpoint_name for check in endpoints_to_check(config, "prod", approved)] == [
        "mlops-prod-breast-cancer-c5-xlarge"
    ]
    assert smoke_tested_endpoints(config, config.environment("prod")) == [
        "mlops-prod-breast-cancer-c5-xlarge",
        "mlops-prod-diabetes-m5-large",  # the shipped second model, unchanged
    ]


@pytest.mark.parametrize(
    "base",
    [("mlops", "prod", "breast-cancer"), ("p" * 12, "e" * 12, "m" * 24), ("proj", "staging", "m" * 20)],
    ids=["shipped", "longest", "abbreviated-for-some"],
)
def test_every_shape_gets_its_own_valid_name(base: tuple[str, str, str]) -> None:
    shapes = [("realtime", t) for t in sorted(instance_types("endpoint"))] + [("serverless", None)]
    names = [naming.endpoint_name(*base, mode=mode, instance_type=kind) for mode, kind in shapes]
    assert len(set(names)) == len(names), "two shapes of one endpoint would share a name"
    for name in names:
        assert SAGEMAKER_NAME.match(name) and len(name) <= naming.ENDPOINT_NAME_MAX


def test_mode_none_has_no_endpoint_name() -> None:
    raw = prod_serving(mode="none")
    config = parse_config(raw, source=Path("platform.yaml"))
    serving = config.models[0].in_environment("prod").serving
    assert naming.served_endpoint_name("mlops", "prod", "breast-cancer", serving) is None
    with pytest.raises(ValueError, match="allowed: realtime, serverless"):
        naming.endpoint_name("mlops", "prod", "breast-cancer", mode="none")
