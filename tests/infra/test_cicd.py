"""The release pipeline stack and the per-environment CI/CD access stacks, built once from the shipped config."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from stacks.cicd_stack import ACCESS_STACK_ID, CDK_CLI_VERSION, CICD_STACK_ID
from tests.conftest import REPO
from tests.infra.acknowledgements import assert_reviewed_reasons

TOOLING = "444444444444"
ACCOUNTS = {"dev": "111111111111", "staging": "222222222222", "prod": "333333333333"}
MODEL = "breast-cancer"
GROUP = f"mlops-{MODEL}"


@pytest.fixture(scope="module")
def cicd(cicd_app: tuple[Any, dict[str, Any], Any, Path]) -> dict[str, Any]:
    """The shipped config with the pipeline: synthesized once per session (cdk-nag must pass on every stack)."""
    app, stages, assembly, outdir = cicd_app
    stack = app.node.find_child(CICD_STACK_ID)
    return {
        "app": app,
        "stages": stages,
        "stack": stack,
        "template": Template.from_stack(stack),
        "access": {name: Template.from_stack(stage.node.find_child(ACCESS_STACK_ID)) for name, stage in stages.items()},
        "assembly": assembly,
        "outdir": outdir,
    }


@pytest.fixture(scope="module")
def template(cicd: dict[str, Any]) -> Template:
    built: Template = cicd["template"]
    return built


@pytest.fixture(scope="module")
def stages(template: Template) -> list[dict[str, Any]]:
    pipeline = next(iter(template.find_resources("AWS::CodePipeline::Pipeline").values()))
    return list(pipeline["Properties"]["Stages"])


def _stage(stages: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(stage for stage in stages if stage["Name"] == name)


def _build_spec(template: Template, project_logical_id: str) -> dict[str, Any]:
    project = template.find_resources("AWS::CodeBuild::Project")[project_logical_id]
    return dict(json.loads(project["Properties"]["Source"]["BuildSpec"]))


def _project_of(action: dict[str, Any]) -> str:
    return str(action["Configuration"]["ProjectName"]["Ref"])


def _role_arn(account: str, name: str) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


def _flat(value: Any) -> Any:
    """A CloudFormation string expression as text: the partition as ``aws``, other references as ``<Id>``."""
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(str(_flat(part)) for part in parts)
    if isinstance(value, dict) and "Ref" in value:
        return "aws" if value["Ref"] == "AWS::Partition" else f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return f"<{'.'.join(value['Fn::GetAtt'])}>"
    return value


def _statements(template: Template, role_logical_prefix: str) -> list[dict[str, Any]]:
    """The statements of the inline and customer managed policies of the template attached to the role."""
    policies = {**template.find_resources("AWS::IAM::Policy"), **template.find_resources("AWS::IAM::ManagedPolicy")}
    found = [
        statement
        for policy in policies.values()
        if any(role["Ref"].startswith(role_logical_prefix) for role in policy["Properties"]["Roles"])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert found, role_logical_prefix
    return found


def _logical_id(template: Template, resource_type: str, **properties: Any) -> str:
    matches = template.find_resources(resource_type, {"Properties": properties})
    assert len(matches) == 1, (resource_type, properties, list(matches))
    return next(iter(matches))


# --- the pipeline -------------------------------------------------------------------------------------------


def test_source_is_the_configured_codeconnections_repository(stages: list[dict[str, Any]], default_config: Any) -> None:
    tooling = default_config.tooling
    (source,) = _stage(stages, "Source")["Actions"]
    assert source["ActionTypeId"] == {
        "Category": "Source",
        "Owner": "AWS",
        "Provider": "CodeStarSourceConnection",
        "Version": "1",
    }
    assert source["Configuration"]["ConnectionArn"] == tooling.connection_arn
    assert source["Configuration"]["FullRepositoryId"] == tooling.repository
    assert source["Configuration"]["BranchName"] == tooling.branch


def test_pipeline_is_named_v2_self_mutating_and_in_the_tooling_account(
    cicd: dict[str, Any], template: Template, stages: list[dict[str, Any]]
) -> None:
    assert cicd["stack"].account == TOOLING and cicd["stack"].region == "eu-west-1"
    template.has_resource_properties("AWS::CodePipeline::Pipeline", {"Name": "mlops-release", "PipelineType": "V2"})
    (mutate,) = _stage(stages, "UpdatePipeline")["Actions"]
    commands = _build_spec(template, _project_of(mutate))["phases"]
    assert f"npm install -g aws-cdk@{CDK_CLI_VERSION}" in commands["install"]["commands"]
    assert any("cdk -a . deploy" in command for command in commands["build"]["commands"])


def test_cli_version_is_the_one_package_json_pins() -> None:
    pinned = json.loads((REPO / "package.json").read_text(encoding="utf-8"))["devDependencies"]["aws-cdk"]
    assert pinned == CDK_CLI_VERSION


def test_synth_runs_tests_resolver_and_main_job_in_that_order(template: Template, stages: list[dict[str, Any]]) -> None:
    (synth,) = _stage(stages, "Build")["Actions"]
    spec = _build_spec(template, _project_of(synth))
    assert spec["phases"]["install"]["runtime-versions"] == {"python": "3.11", "nodejs": "22"}
    commands = spec["phases"]["build"]["commands"]
    assert commands[0] == "make test"
    assert commands[1].startswith(".venv/bin/python scripts/resolve_approved_models.py ")
    assert "--config config/platform.yaml --out approved-models.json" in commands[1]
    assert "--baselines-out" not in commands[1], "baselines are promoted with the package, not resolved at synth"
    assert '--role-arn "$REGISTRY_READER_ROLE_ARN"' in commands[1]
    assert commands[2] == "make synth"
    # Only the hand-over of the resolver's output to the smoke tests follows the gates.
    assert commands[3:] == ["cp approved-models.json cdk.out/"]
    assert spec["artifacts"]["base-directory"] == "cdk.out"
    project = template.find_resources("AWS::CodeBuild::Project")[_project_of(synth)]["Properties"]
    assert project["Environment"]["Image"] == "aws/codebuild/standard:7.0"
    variables = {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}
    assert _flat(variables["REGISTRY_READER_ROLE_ARN"]) == _role_arn(ACCOUNTS["dev"], "mlops-cicd-registry-reader")


def test_synth_role_may_assume_only_the_registry_reader(template: Template) -> None:
    assumes = [s for s in _statements(template, "Rolemlopscicdsynth") if "sts:AssumeRole" in s["Action"]]
    assert [(s["Action"], _flat(s["Resource"])) for s in assumes] == [
        ("sts:AssumeRole", _role_arn(ACCOUNTS["dev"], "mlops-cicd-registry-reader"))
    ]
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "RoleName": "mlops-cicd-synth",
            "AssumeRolePolicyDocument": {
                "Statement": [Match.object_like({"Principal": {"Service": "codebuild.amazonaws.com"}})]
            },
        },
    )


def test_environments_deploy_in_config_order_after_the_pipeline_updates_itself(
    stages: list[dict[str, Any]], default_config: Any
) -> None:
    names = [stage["Name"] for stage in stages]
    environments = [env.name for env in default_config.environments]
    # The pipeline-change gate sits between the build and self-mutation (tests/infra/test_cicd_gates.py).
    assert names[:4] == ["Source", "Build", "ReviewPipelineChange", "UpdatePipeline"]
    assert [name for name in names if name in environments] == environments
    assert names[-len(environments) :] == environments  # asset publishing, if any, comes before the first deploy


def test_each_environment_deploys_each_stack_in_one_action_in_its_own_account(stages: list[dict[str, Any]]) -> None:
    for env, account in ACCOUNTS.items():
        deploys = [a for a in _stage(stages, env)["Actions"] if a["ActionTypeId"]["Provider"] == "CloudFormation"]
        assert deploys
        # One action per stack (no change-set pair): keeps 50 models within the pipeline's action quota.
        assert len({a["Configuration"]["StackName"] for a in deploys}) == len(deploys)
        for action in deploys:
            assert action["Configuration"]["ActionMode"] == "CREATE_UPDATE"
            assert action["Configuration"]["StackName"].startswith(f"mlops-{env}-")
            assert _flat(action["RoleArn"]) == _role_arn(account, f"cdk-hnb659fds-deploy-role-{account}-eu-west-1")
        assert {a["Configuration"]["StackName"] for a in deploys} >= {f"mlops-{env}-data", f"mlops-{env}-cicd-access"}


def test_manual_approval_gates_only_environments_that_need_it(
    stages: list[dict[str, Any]], default_config: Any
) -> None:
    for env in default_config.environments:
        actions = _stage(stages, env.name)["Actions"]
        approvals = [a for a in actions if a["ActionTypeId"]["Category"] == "Approval"]
        if not env.needs_manual_approval:
            assert approvals == [], env.name
            continue
        (approval,) = approvals
        assert approval["ActionTypeId"]["Provider"] == "Manual"
        (diff,) = [a for a in actions if a["Name"] == f"Diff-{env.name}"]
        # The diff report first, then the approval; nothing deploys before the approval.
        assert (diff["RunOrder"], approval["RunOrder"]) == (1, 2)
        assert all(a["RunOrder"] > 2 for a in actions if a not in (approval, diff))
    assert default_config.environment("prod").needs_manual_approval


def test_smoke_tests_run_after_staging_and_prod_deploy_with_their_own_role(
    template: Template, stages: list[dict[str, Any]]
) -> None:
    for env in ("staging", "prod"):
        actions = _stage(stages, env)["Actions"]
        builds = [a for a in actions if a["ActionTypeId"]["Provider"] == "CodeBuild" and a["Name"].startswith("Smoke")]
        (smoke,) = builds
        assert smoke["RunOrder"] > max(a["RunOrder"] for a in actions if a is not smoke)
        spec = _build_spec(template, _project_of(smoke))
        commands = spec["phases"]["build"]["commands"]
        assert commands[-1] == (
            "AWS_PROFILE=smoke-test .venv/bin/python scripts/smoke_test.py "
            f"--config config/platform.yaml --environment {env} --approved-models release/approved-models.json"
        )
        # The release's cloud assembly (with the resolver's output) is copied next to the source as release/.
        links = [c for c in spec["phases"]["install"]["commands"] if 'ln -s -- "$CODEBUILD_SRC_DIR_' in c]
        assert len(links) == 1 and links[0].endswith('"release"')
        assert "aws configure set profile.smoke-test.credential_source EcsContainer" in commands
        project = template.find_resources("AWS::CodeBuild::Project")[_project_of(smoke)]["Properties"]
        variables = {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}
        invoker = f"mlops-cicd-smoke-test-{env}"
        assert _flat(variables["SMOKE_TEST_ROLE_ARN"]) == _role_arn(ACCOUNTS[env], invoker)
        assert variables["AWS_REGION"] == "eu-west-1"
        role = _logical_id(template, "AWS::IAM::Role", RoleName=invoker)
        assert project["ServiceRole"] == {"Fn::GetAtt": [role, "Arn"]}
        assumes = [s for s in _statements(template, role) if "sts:AssumeRole" in s["Action"]]
        assert [_flat(s["Resource"]) for s in assumes] == [_role_arn(ACCOUNTS[env], invoker)]
    dev_builds = [a for a in _stage(stages, "dev")["Actions"] if a["ActionTypeId"]["Provider"] == "CodeBuild"]
    assert dev_builds == []  # the registry environment is not smoke-tested


def test_artifacts_are_encrypted_with_a_rotated_cross_account_key(template: Template) -> None:
    key = _logical_id(template, "AWS::KMS::Alias", AliasName=Match.string_like_regexp("alias/codepipeline-"))
    alias = template.find_resources("AWS::KMS::Alias")[key]
    key_id = alias["Properties"]["TargetKeyId"]["Fn::GetAtt"][0]
    assert template.find_resources("AWS::KMS::Key")[key_id]["Properties"]["EnableKeyRotation"] is True
    pipeline = next(iter(template.find_resources("AWS::CodePipeline::Pipeline").values()))["Properties"]
    store = pipeline["ArtifactStore"]
    assert store["EncryptionKey"] == {"Id": {"Fn::GetAtt": [key_id, "Arn"]}, "Type": "KMS"}
    bucket = template.find_resources("AWS::S3::Bucket")[store["Location"]["Ref"]]["Properties"]
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]},
        "SSEAlgorithm": "aws:kms",
    }
    assert bucket["LoggingConfiguration"]["LogFilePrefix"] == "artifacts/"


# --- model promotion ----------------------------------------------------------------------------------------

APPROVED_PATTERN = {
    "source": ["aws.sagemaker"],
    "detail-type": ["SageMaker Model Package State Change"],
    "detail": {"ModelPackageGroupName": [GROUP, "mlops-diabetes"], "ModelApprovalStatus": ["Approved"]},
}


def test_registry_forwards_only_approved_packages_to_the_tooling_bus(cicd: dict[str, Any]) -> None:
    dev = cicd["access"]["dev"]
    (rule,) = dev.find_resources("AWS::Events::Rule").values()
    assert rule["Properties"]["EventPattern"] == APPROVED_PATTERN
    (target,) = rule["Properties"]["Targets"]
    assert _flat(target["Arn"]) == f"arn:aws:events:eu-west-1:{TOOLING}:event-bus/default"
    role = target["RoleArn"]["Fn::GetAtt"][0]
    (put,) = _statements(dev, role)
    assert put["Action"] == "events:PutEvents" and put["Resource"] == target["Arn"]
    # An approval the tooling bus refuses lands in dev's encrypted dead-letter queue, which pages dev's topic.
    ((queue_id, queue),) = dev.find_resources("AWS::SQS::Queue").items()
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    assert queue["Properties"]["KmsMasterKeyId"]["Fn::GetStackOutput"]["StackName"] == "mlops-dev-data"
    (alarm,) = dev.find_resources("AWS::CloudWatch::Alarm").values()
    assert alarm["Properties"]["AlarmActions"][0]["Fn::GetStackOutput"]["StackName"] == "mlops-dev-data"
    for env in ("staging", "prod"):
        cicd["access"][env].resource_count_is("AWS::Events::Rule", 0)
        cicd["access"][env].resource_count_is("AWS::SQS::Queue", 0)


def test_tooling_bus_accepts_the_registry_account_and_starts_only_this_pipeline(template: Template) -> None:
    (policy,) = template.find_resources("AWS::Events::EventBusPolicy").values()
    statement = policy["Properties"]["Statement"]
    assert _flat(statement["Principal"]["AWS"]) == _account_root(ACCOUNTS["dev"])
    assert statement["Action"] == "events:PutEvents"
    assert statement["Condition"] == {"StringEquals": {"events:source": "aws.sagemaker"}}
    (rule_id, rule) = next(iter(template.find_resources("AWS::Events::Rule").items()))
    assert rule["Properties"]["EventPattern"] == {**APPROVED_PATTERN, "account": [ACCOUNTS["dev"]]}
    assert rule["Properties"].get("EventBusName") in (None, "default")
    (target,) = rule["Properties"]["Targets"]
    pipeline_id = next(iter(template.find_resources("AWS::CodePipeline::Pipeline")))
    assert _flat(target["Arn"]) == f"arn:aws:codepipeline:eu-west-1:{TOOLING}:<{pipeline_id}>"
    (start,) = _statements(template, target["RoleArn"]["Fn::GetAtt"][0])
    assert start == {"Action": "codepipeline:StartPipelineExecution", "Effect": "Allow", "Resource": target["Arn"]}
    assert rule_id
    # An approval that can't start the pipeline lands in an encrypted dead-letter queue whose alarm pages the topic;
    # the notifications key lets EventBridge (dead letters) and CloudWatch (the alarm) of this account use it.
    ((queue_id, queue),) = template.find_resources("AWS::SQS::Queue").items()
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    ((key_id, key),) = template.find_resources(
        "AWS::KMS::Key", {"Properties": {"Description": Match.string_like_regexp("notifications")}}
    ).items()
    assert queue["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    services = {
        statement.get("Sid"): statement
        for statement in key["Properties"]["KeyPolicy"]["Statement"]
        if "Service" in statement["Principal"]
    }
    for sid, service in (("EventBridgeDeadLettersUseKey", "events"), ("CloudWatchAlarmsPublish", "cloudwatch")):
        assert services[sid]["Principal"] == {"Service": f"{service}.amazonaws.com"}
        assert services[sid]["Condition"] == {"StringEquals": {"aws:SourceAccount": TOOLING}}


def _account_root(account: str) -> str:
    return f"arn:aws:iam::{account}:root"


# --- cross-account roles ------------------------------------------------------------------------------------


def _trust(template: Template, role_name: str) -> dict[str, Any]:
    role = template.find_resources("AWS::IAM::Role", {"Properties": {"RoleName": role_name}})
    (props,) = (r["Properties"] for r in role.values())
    (statement,) = props["AssumeRolePolicyDocument"]["Statement"]
    assert props["MaxSessionDuration"] == 3600
    return dict(statement)


def test_registry_reader_trusts_only_the_synth_role_and_only_reads(cicd: dict[str, Any]) -> None:
    dev = cicd["access"]["dev"]
    trust = _trust(dev, "mlops-cicd-registry-reader")
    assert _flat(trust["Principal"]["AWS"]) == _account_root(TOOLING)
    assert _flat(trust["Condition"]["ArnEquals"]["aws:PrincipalArn"]) == _role_arn(TOOLING, "mlops-cicd-synth")
    role = _logical_id(dev, "AWS::IAM::Role", RoleName="mlops-cicd-registry-reader")
    (statement,) = _statements(dev, role)
    assert sorted(statement["Action"]) == [
        "sagemaker:DescribeModelPackage",
        "sagemaker:DescribeModelPackageGroup",
        "sagemaker:ListModelPackages",
    ]
    resources = json.dumps(statement["Resource"])
    assert f"model-package-group/{GROUP}" in resources and f"model-package/{GROUP}/*" in resources
    for env in ("staging", "prod"):
        cicd["access"][env].resource_properties_count_is(
            "AWS::IAM::Role", {"RoleName": "mlops-cicd-registry-reader"}, 0
        )


def test_endpoint_invokers_may_only_invoke_their_environments_endpoints(cicd: dict[str, Any]) -> None:
    for env in ("staging", "prod"):
        access = cicd["access"][env]
        name = f"mlops-cicd-smoke-test-{env}"
        trust = _trust(access, name)
        assert _flat(trust["Principal"]["AWS"]) == _account_root(TOOLING)
        assert _flat(trust["Condition"]["ArnEquals"]["aws:PrincipalArn"]) == _role_arn(TOOLING, name)
        (statement,) = _statements(access, _logical_id(access, "AWS::IAM::Role", RoleName=name))
        assert statement["Action"] == "sagemaker:InvokeEndpoint"
        # Each served model's endpoint: the sample's real-time one and the diabetes sample's (serverless in staging).
        diabetes = "serverless" if env == "staging" else "m5-large"
        assert _flat(statement["Resource"]) == [
            f"arn:aws:sagemaker:eu-west-1:{ACCOUNTS[env]}:endpoint/mlops-{env}-{MODEL}-m5-large",
            f"arn:aws:sagemaker:eu-west-1:{ACCOUNTS[env]}:endpoint/mlops-{env}-diabetes-{diabetes}",
        ]
    cicd["access"]["dev"].resource_properties_count_is(
        "AWS::IAM::Role", {"RoleName": Match.string_like_regexp("smoke-test")}, 0
    )


# --- notifications ------------------------------------------------------------------------------------------


def test_failures_and_waiting_approvals_notify_an_encrypted_topic(template: Template) -> None:
    (rule,) = template.find_resources("AWS::CodeStarNotifications::NotificationRule").values()
    props = rule["Properties"]
    assert sorted(props["EventTypeIds"]) == [
        "codepipeline-pipeline-manual-approval-needed",
        "codepipeline-pipeline-pipeline-execution-failed",
    ]
    (target,) = props["Targets"]
    topic_id = target["TargetAddress"]["Ref"]
    topic = template.find_resources("AWS::SNS::Topic")[topic_id]["Properties"]
    key_id = topic["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = template.find_resources("AWS::KMS::Key")[key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    service = [
        s
        for s in key["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "codestar-notifications.amazonaws.com"}
    ]
    assert (
        service and _flat(service[0]["Condition"]["StringEquals"]["kms:ViaService"]) == "sns.eu-west-1.<AWS::URLSuffix>"
    )
    template.resource_count_is("AWS::SNS::Subscription", 0)  # the shipped config lists no emails


# --- gates --------------------------------------------------------------------------------------------------


def test_every_pipeline_acknowledgement_is_granular_and_reasoned(cicd: dict[str, Any]) -> None:
    outdir: Path = cicd["outdir"]
    metadata = json.loads((outdir / "Cicd.metadata.json").read_text(encoding="utf-8"))
    acks = {
        rule: reason
        for entries in metadata.values()
        for entry in entries
        if entry.get("type") == "aws:cdk:acknowledged-rules"
        for rule, reason in entry["data"].items()
    }
    assert acks
    # Whole-rule acknowledgements (these rules have no granular form): the access-log bucket's own S1 (it cannot
    # log into itself) and the release trigger's dead-letter queue's SQS3 (it is the dead-letter queue).
    whole_rules = {"AwsSolutions::AwsSolutions-S1", "AwsSolutions::AwsSolutions-SQS3"}
    assert {rule for rule in acks if "[" not in rule} == whole_rules
    assert "dead-letter queue" in acks["AwsSolutions::AwsSolutions-SQS3"]
    for rule in acks:
        if rule not in whole_rules:
            assert re.fullmatch(r"AwsSolutions::AwsSolutions-IAM5\[(Action|Resource)::.+\]", rule), rule
    assert_reviewed_reasons("cicd", list(acks.values()))
    assert "AwsSolutions::AwsSolutions-IAM5[Resource::*]" in acks  # only on the self-mutation and asset roles


def test_pipeline_and_access_templates_pass_cfn_lint(cicd: dict[str, Any]) -> None:
    from scripts.synth_report import collect, lint

    reports = [r for r in collect(cicd["outdir"]) if "Cicd" in r.path]
    assert {r.path for r in reports} == {"Cicd", "dev/CicdAccess", "staging/CicdAccess", "prod/CicdAccess"}
    assert lint([r.template for r in reports]) == []


def test_synth_step_keeps_the_render_and_lint_caches_between_builds(
    template: Template, stages: list[dict[str, Any]]
) -> None:
    """A release renders only changed pipelines and lints only changed templates: both content caches are a
    CodeBuild custom local cache, at the paths the renderer and the gates use."""
    from pipeline_defs.render import DEFAULT_CACHE_DIR
    from scripts.synth_report import LINT_CACHE_DIR

    (synth,) = _stage(stages, "Build")["Actions"]
    project = template.find_resources("AWS::CodeBuild::Project")[_project_of(synth)]
    assert project["Properties"]["Cache"] == {"Type": "LOCAL", "Modes": ["LOCAL_CUSTOM_CACHE"]}
    assert _build_spec(template, _project_of(synth))["cache"] == {
        "paths": [".pipeline-cache/**/*", "build/lint-cache/**/*"]
    }
    assert [DEFAULT_CACHE_DIR.relative_to(REPO), LINT_CACHE_DIR.relative_to(REPO)] == [
        Path(".pipeline-cache"),
        Path("build/lint-cache"),
    ]


def test_self_mutation_lists_only_the_bootstrap_buckets_of_the_app_accounts(
    template: Template, default_config: Any
) -> None:
    statements = _statements(template, "PipelineUpdatePipelineSelfMutationRole")
    listing = [
        s for s in statements if "s3:ListBucket" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    ]
    targets = {(default_config.tooling.account, default_config.tooling.region)} | {
        (env.account, env.region) for env in default_config.environments
    }
    assert listing == [
        {
            "Sid": "ListBootstrapBuckets",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": [f"arn:aws:s3:::cdk-hnb659fds-assets-{a}-{r}" for a, r in sorted(targets)],
        }
    ]
    # DescribeStacks keeps CDK's statement; nothing else of the role is on "*".
    on_everything = [s for s in statements if s["Resource"] == "*"]
    assert on_everything == [{"Action": "cloudformation:DescribeStacks", "Effect": "Allow", "Resource": "*"}]


def test_the_pipeline_template_is_written_compactly_and_the_others_indented(cicd: dict[str, Any]) -> None:
    # One action per model stack: indented, the pipeline's template passed CloudFormation's 1 MB limit at about 190
    # models (docs/benchmark.md); compact JSON is 39% smaller. Only its whitespace differs.
    outdir: Path = cicd["outdir"]
    pipeline = (outdir / f"{CICD_STACK_ID}.template.json").read_text(encoding="utf-8")
    assert "\n" not in pipeline.strip() and json.loads(pipeline)["Resources"]
    data = next(outdir.glob("assembly-dev/*Data*.template.json")).read_text(encoding="utf-8")
    assert data.startswith('{\n "Description": ')
