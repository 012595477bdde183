"""The serving scenario, in the phases ``make integ`` deploys one after another into the same stacks:

1. ``serve`` (integ_serving.py): packages registered by the test (fixtures.py) are promoted and served by the
   platform's real ServingStacks, one model real-time and one serverless; an invocation of each returns one
   probability per CSV row.
2. ``rollout`` (integ_serving_rollout.py): version 2 of the real-time model is approved; the ServingStack update
   rolls it out blue/green (the endpoint's deployment config, ``all_at_once`` with a baking period); the
   endpoint is InService on version 2 (its lineage tag) with a blue/green policy and still answers.
3. ``rollback`` (integ_serving_rollback.py): version 3 starts rolling out while a saboteur stack, deployed in
   parallel (``cdk deploy --concurrency 2``), waits for the endpoint to be Updating and forces its rollback alarm
   into ALARM (CloudWatch SetAlarmState); SageMaker rolls the update back, so this phase's ServingStack update is
   expected to fail and CloudFormation to roll the stack back. ``make integ`` then re-runs the ``rollout``
   assertions: still version 2, still answering.

Cost and duration (estimate from the AWS pricing pages for SageMaker real-time and serverless inference, not
measured): one ml.m5.large for about 60-75 minutes (two during each blue/green update, about 10 minutes each),
about USD 0.20-0.30; serverless inference a few invocations, under USD 0.01; KMS key USD 1/month prorated; Lambda
and S3 cents. Wall clock 60-90 minutes for the four deployments and the destroy.
Cleanup: ``make integ`` destroys the stacks after the last phase (and after any failure); the environment has
``retain_data: false``. Retained: the endpoints' CloudWatch log groups under /aws/sagemaker/ (SageMaker creates
them; delete by hand or let their retention expire).
"""

from __future__ import annotations

from typing import Any

import harness
from aws_cdk import Duration, Stack
from aws_cdk.integ_tests_alpha import ExpectedResult, IntegTest, Match
from fixtures import RegisteredPackages

from mlops_config.platform import PlatformConfig
from mlops_constructs import naming

PROJECT = "iserve"
ENV = "integ"
REALTIME = "rt-model"
SERVERLESS = "sl-model"
INSTANCE = "ml.m5.large"
PHASES = {"serve": 1, "rollout": 2, "rollback": 3}
# One row of the sample dataset's 30 features (scikit-learn's breast-cancer data, first row), as CSV.
SAMPLE_ROW = (
    "17.99,10.38,122.8,1001.0,0.1184,0.2776,0.3001,0.1471,0.2419,0.07871,1.095,0.9053,8.589,153.4,0.006399,"
    "0.04904,0.05373,0.01587,0.03003,0.006193,25.38,17.33,184.6,2019.0,0.1622,0.6656,0.7119,0.2654,0.4601,0.1189"
)
ONE_PROBABILITY = r"^\s*[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?\s*$"


def scenario_config(where: harness.Target) -> PlatformConfig:
    """One environment (it holds the registry) serving one real-time and one serverless model."""
    return harness.integ_config(
        "integ/serving_scenario.py",
        project=PROJECT,
        registry_environment=ENV,
        environments=[
            {
                "name": ENV,
                "account": where.account,
                "region": where.region,
                "trains": True,
                "retain_data": False,
                "log_retention_days": 1,
            }
        ],
        models=[
            {
                "name": REALTIME,
                "environments": {
                    ENV: {
                        "serving": {
                            "mode": "realtime",
                            "realtime": {
                                "instance_type": INSTANCE,
                                "initial_instance_count": 1,
                                "autoscaling": {"min_capacity": 1, "max_capacity": 1},
                                "data_capture_percent": 100,
                                # All at once, then a 10-minute baking period in which the rollback alarms are
                                # watched: the time the saboteur has to force one.
                                "deployment": {
                                    "strategy": "all_at_once",
                                    "wait_interval_seconds": 600,
                                    "termination_wait_seconds": 0,
                                },
                            },
                        },
                        "monitoring": {"enabled": False},
                    }
                },
            },
            {
                "name": SERVERLESS,
                "environments": {
                    ENV: {
                        "serving": {"mode": "serverless", "serverless": {"memory_size_mb": 2048, "max_concurrency": 1}}
                    }
                },
            },
        ],
    )


def endpoint_names(config: PlatformConfig) -> dict[str, str]:
    """The endpoint name of each model (derived, as the ServingStack names them)."""
    names: dict[str, str] = {}
    for model in config.models:
        name = naming.served_endpoint_name(PROJECT, ENV, model.name, model.in_environment(ENV).serving)
        assert name is not None
        names[model.name] = name
    return names


def build(phase: str) -> None:
    """Synthesize the app of ``phase`` (serve, rollout or rollback)."""
    version = PHASES[phase]
    app = harness.new_app()
    where = harness.target()
    config = scenario_config(where)
    packages = {
        REALTIME: harness.package_arn(where, PROJECT, REALTIME, version),
        SERVERLESS: harness.package_arn(where, PROJECT, SERVERLESS, 1),
    }
    stacks = harness.environment_stacks(app, config, ENV, packages=packages, with_training=False)
    fixture = Stack(app, f"{PROJECT}-{ENV}-Packages", env=where.env)
    RegisteredPackages(
        fixture,
        "RealtimePackages",
        project=PROJECT,
        model=REALTIME,
        data=stacks.data,
        versions=version,
        instance_types=[INSTANCE],
    )
    RegisteredPackages(
        fixture,
        "ServerlessPackages",
        project=PROJECT,
        model=SERVERLESS,
        data=stacks.data,
        versions=1,
        instance_types=[INSTANCE],
    )
    for serving in stacks.serving.values():
        serving.add_dependency(fixture)
    names = endpoint_names(config)
    test_stacks: list[Stack] = [*stacks.all(), fixture]

    if phase == "rollback":
        # No dependency on the ServingStack: it runs while that stack's update is in progress.
        saboteur = Stack(app, f"{PROJECT}-{ENV}-Saboteur", env=where.env)
        integ = IntegTest(app, "ServingRollback", test_cases=test_stacks, assertion_stack=saboteur)
        _force_rollback(integ, names[REALTIME])
    else:
        assertions = Stack(app, f"{PROJECT}-{ENV}-Assertions", env=where.env)
        for stack in test_stacks:
            assertions.add_dependency(stack)
        integ = IntegTest(app, f"Serving{phase.title()}", test_cases=test_stacks, assertion_stack=assertions)
        for name in names.values():
            _answers(integ, name)
        if phase == "rollout":
            _rolled_out(integ, names[REALTIME], packages[REALTIME], where)
    app.synth()


def _answers(integ: IntegTest, endpoint: str) -> None:
    """The endpoint is InService and one CSV row gets one probability back."""
    status = _endpoint_status(integ, endpoint, "InService", Duration.minutes(20), Duration.seconds(30))
    invoke = integ.assertions.aws_api_call(
        "SageMakerRuntime",
        "invokeEndpoint",
        {"EndpointName": endpoint, "ContentType": "text/csv", "Accept": "text/csv", "Body": SAMPLE_ROW},
    )
    invoke.provider.add_to_role_policy({"Effect": "Allow", "Action": ["sagemaker:InvokeEndpoint"], "Resource": ["*"]})
    invoke.expect(ExpectedResult.object_like({"Body": Match.string_like_regexp(ONE_PROBABILITY)}))
    status.next(invoke)


def _rolled_out(integ: IntegTest, endpoint: str, package: str, where: harness.Target) -> None:
    """The endpoint was updated blue/green and serves ``package`` (its lineage tag)."""
    describe = {"EndpointName": endpoint}
    in_service = _endpoint_status(integ, endpoint, "InService", Duration.minutes(5), Duration.seconds(30))
    policy = harness.leaf(
        integ,
        "SageMaker",
        "describeEndpoint",
        describe,
        "LastDeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration.Type",
        ExpectedResult.exact("ALL_AT_ONCE"),
    )
    rollback = harness.leaf(
        integ,
        "SageMaker",
        "describeEndpoint",
        describe,
        "LastDeploymentConfig.AutoRollbackConfiguration.Alarms.0.AlarmName",
        ExpectedResult.string_like_regexp(".+"),
    )
    arn = f"arn:aws:sagemaker:{where.region}:{where.account}:endpoint/{endpoint.lower()}"
    tags = integ.assertions.aws_api_call("SageMaker", "listTags", {"ResourceArn": arn})
    tags.expect(
        ExpectedResult.object_like({"Tags": Match.array_with([{"Key": "mlops:model-package-arn", "Value": package}])})
    )
    in_service.next(policy).next(rollback).next(tags)


def _force_rollback(integ: IntegTest, endpoint: str) -> None:
    """While the update bakes, force the endpoint's first rollback alarm into ALARM; wait for the rollback."""
    updating = _endpoint_status(integ, endpoint, "Updating", Duration.minutes(30), Duration.seconds(10))
    alarms = integ.assertions.aws_api_call(
        "SageMaker",
        "describeEndpoint",
        {"EndpointName": endpoint},
        output_paths=["LastDeploymentConfig.AutoRollbackConfiguration.Alarms.0.AlarmName"],
    )
    force = integ.assertions.aws_api_call(
        "CloudWatch",
        "setAlarmState",
        {
            "AlarmName": alarms.get_att_string("LastDeploymentConfig.AutoRollbackConfiguration.Alarms.0.AlarmName"),
            "StateValue": "ALARM",
            "StateReason": "integ test: force the rollback of a blue/green update",
        },
    )
    rolled_back = _endpoint_status(integ, endpoint, "InService", Duration.minutes(40), Duration.seconds(30))
    updating.next(alarms).next(force).next(rolled_back)


def _endpoint_status(integ: IntegTest, endpoint: str, status: str, total: Duration, interval: Duration) -> Any:
    """Wait until the endpoint's status is ``status``."""
    return harness.leaf(
        integ,
        "SageMaker",
        "describeEndpoint",
        {"EndpointName": endpoint},
        "EndpointStatus",
        ExpectedResult.exact(status),
        wait=(total, interval),
    )
