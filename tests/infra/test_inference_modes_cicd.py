"""The release pipeline's smoke-test role in an environment with an asynchronous endpoint: it may queue requests
through S3 and read their results, on that endpoint and those prefixes only, with every wildcard acknowledged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from mlops_config import load_config
from mlops_config.platform import ToolingSettings
from mlops_constructs import naming
from stacks.cicd_access_stack import CicdAccessStack
from stacks.data_stack import DataStack
from tests.conftest import REPO, cdk_feature_flags

EXAMPLE = REPO / "config" / "examples" / "inference-modes.yaml"
BUCKET = "arn:aws:s3:::mlops-staging-data-222222222222-eu-west-1"
ENDPOINTS = "arn:aws:sagemaker:eu-west-1:222222222222:endpoint"


@pytest.fixture(scope="module")
def access(tmp_path_factory: pytest.TempPathFactory) -> tuple[Template, Path]:
    config = load_config(EXAMPLE)
    env = config.environment("staging")
    outdir = tmp_path_factory.mktemp("cicd-modes")
    app = cdk.App(context=cdk_feature_flags(), outdir=str(outdir))
    stage = cdk.Stage(app, "staging", env=cdk.Environment(account=env.account, region=env.region))
    data = DataStack(stage, "Data", config=config, environment=env, stack_name="mlops-staging-data")
    stack = CicdAccessStack(
        stage,
        "CicdAccess",
        config=config,
        environment=env,
        tooling=ToolingSettings(account="444444444444", region="eu-west-1"),
        package_groups={},
        key=data.key,
        topic=data.topic,
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()
    return Template.from_stack(stack), outdir


def _statements(template: Template) -> list[dict[str, Any]]:
    return [
        statement
        for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
        for policy in template.find_resources(kind).values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_smoke_test_role_invokes_every_endpoint_once_and_queues_async_requests(access: tuple[Template, Path]) -> None:
    template, _ = access
    statements = _statements(template)
    by_action = {json.dumps(s["Action"]): s for s in statements}
    invoke = by_action['"sagemaker:InvokeEndpoint"']["Resource"]
    assert invoke == [
        f"{ENDPOINTS}/mlops-staging-breast-cancer-m5-large",
        f"{ENDPOINTS}/mlops-staging-claims-async-async-m5-large",
        f"{ENDPOINTS}/{naming.shared_endpoint_name('mlops', 'staging', 'ml.m5.xlarge')}",
    ], "the shared inference-component endpoint is named once for its two models"
    asynchronous = by_action['"sagemaker:InvokeEndpointAsync"']
    assert asynchronous["Resource"] == f"{ENDPOINTS}/mlops-staging-claims-async-async-m5-large"
    assert by_action['"s3:PutObject"']["Resource"] == f"{BUCKET}/claims-async/async/input/*"
    assert sorted(by_action['"s3:GetObject"']["Resource"]) == [
        f"{BUCKET}/claims-async/async/failures/*",
        f"{BUCKET}/claims-async/async/output/*",
    ]
    listing = by_action['"s3:ListBucket"']
    assert listing["Resource"] == BUCKET
    assert listing["Condition"] == {
        "StringLike": {"s3:prefix": ["claims-async/async/output/*", "claims-async/async/failures/*"]}
    }


def test_smoke_test_role_wildcards_are_acknowledged(access: tuple[Template, Path]) -> None:
    _, outdir = access
    report = json.loads((outdir / "validation-report.json").read_text(encoding="utf-8"))
    assert [(r["conclusion"], r["violations"]) for r in report["pluginReports"]] == [("success", [])]
