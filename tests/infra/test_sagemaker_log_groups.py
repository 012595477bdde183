"""SageMaker's own log groups (jobs in the data stack, the endpoint's in the serving stack): adopted by a custom
resource that creates each if missing, sets the environment's retention and key, and leaves them on delete."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template

from mlops_constructs.sagemaker_log_groups import (
    ADOPT_ACTIONS,
    RELEASE_KEY_ACTION,
    SageMakerLogGroups,
    endpoint_log_group_name,
    job_log_group_names,
)
from tests.infra.stack_parts import part_json

REGION, ACCOUNT = "eu-west-1", "111111111111"


def _calls(template: Mapping[str, Any], path_prefix: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The SDK calls of the log-group custom resources whose logical ID starts with ``path_prefix``, by (action,
    log group); the key ARN token (an ``Fn::Join`` part) is kept as the resolved part."""
    calls: dict[tuple[str, str], dict[str, Any]] = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "Custom::SageMakerLogGroup" or not logical_id.startswith(path_prefix):
            continue
        props = resource["Properties"]
        assert props["Create"] == props["Update"], logical_id
        create = props["Create"]
        token = None
        if isinstance(create, dict):
            parts = create["Fn::Join"][1]
            token = next(part for part in parts if isinstance(part, dict))
            create = "".join(part if isinstance(part, str) else "TOKEN" for part in parts)
        call = json.loads(create)
        name = call["parameters"]["logGroupName"]
        assert call["service"] == "CloudWatchLogs"
        assert call["physicalResourceId"] == {"id": name}
        calls[(call["action"], name)] = {"call": call, "token": token, "logical_id": logical_id, "resource": resource}
        if "Delete" in props:
            calls[("Delete:" + json.loads(props["Delete"])["action"], name)] = {"logical_id": logical_id}
    return calls


def _role_statements(template: Mapping[str, Any], path_prefix: str) -> list[dict[str, Any]]:
    return [
        statement
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::IAM::Policy" and logical_id.startswith(path_prefix)
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def _arn(name: str, account: str) -> str:
    return f"arn:aws:logs:{REGION}:{account}:log-group:{name}"


def _assert_adopted(template: Mapping[str, Any], prefix: str, names: list[str], environment: Any, key: Any) -> None:
    retention, account = environment.log_retention_days, environment.account
    calls = _calls(template, prefix)
    # The groups and their logs always stay; the key is let go of only where it goes with the stack.
    on_delete = [] if environment.retain_data else ["Delete:DisassociateKmsKey"]
    assert sorted(calls) == sorted(
        (action, name)
        for name in names
        for action in ("CreateLogGroup", "PutRetentionPolicy", "AssociateKmsKey", *on_delete)
    )
    for name in names:
        if on_delete:
            assert (
                calls[("Delete:DisassociateKmsKey", name)]["logical_id"]
                == calls[("AssociateKmsKey", name)]["logical_id"]
            )
    for name in names:
        create = calls[("CreateLogGroup", name)]
        assert create["call"]["ignoreErrorCodesMatching"] == "ResourceAlreadyExistsException"
        assert create["call"]["parameters"] == {"logGroupName": name}
        retention_call = calls[("PutRetentionPolicy", name)]
        assert retention_call["call"]["parameters"]["retentionInDays"] == retention
        key_call = calls[("AssociateKmsKey", name)]
        assert key_call["call"]["parameters"]["kmsKeyId"] == "TOKEN"
        assert key_call["token"] == key
        # Retention and key are set on a group that exists: after CreateLogGroup.
        for follower in (retention_call, key_call):
            assert follower["resource"]["DependsOn"] == [create["logical_id"]]
        assert "ignoreErrorCodesMatching" not in retention_call["call"]
        assert "ignoreErrorCodesMatching" not in key_call["call"]
    statements = _role_statements(template, prefix)
    adopt = [s for s in statements if s.get("Sid") == "AdoptSageMakerLogGroups"]
    assert adopt == [
        {
            "Sid": "AdoptSageMakerLogGroups",
            "Effect": "Allow",
            "Action": sorted([*ADOPT_ACTIONS, *([] if environment.retain_data else [RELEASE_KEY_ACTION])]),
            "Resource": [_arn(n, account) for n in names] if len(names) > 1 else _arn(names[0], account),
        }
    ]
    for statement in statements:
        assert "*" not in json.dumps(statement.get("Resource")).replace(":*", ""), statement
        assert all(not a.endswith("*") for a in statement["Action"]), statement


def test_training_environment_adopts_the_three_job_groups(approved_app: Any, default_config: Any) -> None:
    _, stages = approved_app
    template = Template.from_stack(stages["dev"].data).to_json()
    retention = stages["dev"].data.job_log_groups
    assert retention.log_group_names == (
        "/aws/sagemaker/ProcessingJobs",
        "/aws/sagemaker/TrainingJobs",
        "/aws/sagemaker/TransformJobs",
    )
    dev = next(env for env in default_config.environments if env.name == "dev")
    _assert_adopted(
        template,
        "SageMakerJobLogs",
        list(retention.log_group_names),
        dev,
        {"Fn::GetAtt": ["DataKey17AFBB84", "Arn"]},
    )


def test_data_stack_of_a_serving_environment_has_no_training_group(approved_app: Any, default_config: Any) -> None:
    _, stages = approved_app
    template = Template.from_stack(stages["prod"].data).to_json()
    prod = next(env for env in default_config.environments if env.name == "prod")
    _assert_adopted(
        template,
        "SageMakerJobLogs",
        ["/aws/sagemaker/ProcessingJobs", "/aws/sagemaker/TransformJobs"],
        prod,
        {"Fn::GetAtt": ["DataKey17AFBB84", "Arn"]},
    )


def test_serving_stack_adopts_its_endpoint_group_key_from_ssm(approved_app: Any, default_config: Any) -> None:
    _, stages = approved_app
    stack = stages["prod"].serving["breast-cancer"]
    template = part_json(stack)
    prod = next(env for env in default_config.environments if env.name == "prod")
    name = endpoint_log_group_name(stack.endpoint.endpoint_name)
    assert name.startswith("/aws/sagemaker/Endpoints/mlops-prod-breast-cancer")
    key_parameter = next(
        logical_id
        for logical_id, parameter in template["Parameters"].items()
        if parameter.get("Default") == stages["prod"].data.key_arn_parameter_name
    )
    _assert_adopted(template, "EndpointLogs", [name], prod, {"Ref": key_parameter})


def test_the_custom_resource_functions_own_logs_are_kept_and_encrypted(approved_app: Any, default_config: Any) -> None:
    _, stages = approved_app
    template = Template.from_stack(stages["prod"].data)
    prod = next(env for env in default_config.environments if env.name == "prod")
    groups = template.find_resources("AWS::Logs::LogGroup")
    own = {k: v for k, v in groups.items() if k.startswith("SageMakerJobLogs")}
    assert len(own) == 1
    (group,) = own.values()
    assert group["Properties"]["RetentionInDays"] == prod.log_retention_days
    assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["DataKey17AFBB84", "Arn"]}
    assert group["DeletionPolicy"] == "Retain"
    functions = template.find_resources("AWS::Lambda::Function")
    provider = [v for k, v in functions.items() if k.startswith("AWS679f53fac002430cb0da5b7982bd2287")]
    assert len(provider) == 1
    assert provider[0]["Properties"]["LoggingConfig"]["LogGroup"] == {"Ref": next(iter(own))}
    # Its role is ours (no AWSLambdaBasicExecutionRole, which writes to every log group of the account).
    role = provider[0]["Properties"]["Role"]["Fn::GetAtt"][0]
    assert role.startswith("SageMakerJobLogsRole")
    assert "ManagedPolicyArns" not in template.to_json()["Resources"][role]["Properties"]


def test_job_groups_follow_whether_the_environment_trains() -> None:
    assert "/aws/sagemaker/TrainingJobs" in job_log_group_names(trains=True)
    assert "/aws/sagemaker/TrainingJobs" not in job_log_group_names(trains=False)
    assert endpoint_log_group_name("ep-1") == "/aws/sagemaker/Endpoints/ep-1"


@pytest.mark.parametrize(
    ("names", "message"),
    [([], "log_group_names is empty"), (["/aws/sagemaker/X", "/aws/sagemaker/X"], "duplicates")],
)
def test_bad_group_lists_fail_at_synth(names: list[str], message: str) -> None:
    stack = cdk.Stack(cdk.App(), "S", env=cdk.Environment(account=ACCOUNT, region=REGION))
    key = kms.Key(stack, "Key")
    with pytest.raises(ValueError, match=message):
        SageMakerLogGroups(stack, "Logs", log_group_names=names, retention_days=30, key=key)


def test_a_retained_key_stays_associated_and_a_destroyed_one_is_released_on_delete() -> None:
    stack = cdk.Stack(cdk.App(), "S", env=cdk.Environment(account=ACCOUNT, region=REGION))
    key = kms.Key(stack, "Key")
    SageMakerLogGroups(stack, "Kept", log_group_names=["/aws/sagemaker/A"], retention_days=30, key=key)
    SageMakerLogGroups(
        stack, "Released", log_group_names=["/aws/sagemaker/B"], retention_days=30, key=key, release_key_on_delete=True
    )
    template = Template.from_stack(stack).to_json()
    kept, released = _calls(template, "Kept"), _calls(template, "Released")
    assert not any(action.startswith("Delete:") for action, _ in kept)
    assert [k for k in released if k[0].startswith("Delete:")] == [("Delete:DisassociateKmsKey", "/aws/sagemaker/B")]
    (release,) = (r for r in template["Resources"].values() if "Delete" in r.get("Properties", {}))
    assert json.loads(release["Properties"]["Delete"])["ignoreErrorCodesMatching"] == "ResourceNotFoundException"
    actions = {
        prefix: next(s for s in _role_statements(template, prefix) if s.get("Sid") == "AdoptSageMakerLogGroups")[
            "Action"
        ]
        for prefix in ("Kept", "Released")
    }
    assert RELEASE_KEY_ACTION not in actions["Kept"]
    assert RELEASE_KEY_ACTION in actions["Released"]
