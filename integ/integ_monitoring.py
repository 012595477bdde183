"""Integration test: monitoring and retraining.

A real-time endpoint (the platform's ServingStack, 100% data capture) serves a package the test registers with
its training baseline (fixtures.py); the platform's MonitoringStack (open drift backend) and TrainingStack
(retraining on drift) deploy with it. The assertions send traffic in which one feature (``mean_radius``) is
shifted fivefold, wait for the capture to land, run the drift pipeline over the last hours, and expect the
drift alarm (derived name) in ALARM and then exactly one training pipeline execution, started by the retraining
trigger with a drift reason; that execution is stopped to save its cost.

Cost and duration (estimate from the AWS pricing pages for SageMaker real-time inference, Processing and
Pipelines, CloudWatch, not measured): one ml.m5.large endpoint instance for about 45 minutes (about USD 0.10),
the drift pipeline's analysis (ml.m5.large) and publish (ml.t3.medium) jobs a few minutes each (under USD 0.05),
the stopped training execution's first processing job up to a few minutes (under USD 0.05), alarms and Lambda
cents, the KMS keys USD 1/month each, prorated. Wall clock 45-70 minutes with deploy and destroy.
Cleanup: ``make integ`` destroys the stacks; ``retain_data: false``. Retained: SageMaker's /aws/sagemaker/ log
groups and the stopped execution's record (no charge).
"""

from __future__ import annotations

import harness
from aws_cdk import Duration, Stack
from aws_cdk.integ_tests_alpha import ExpectedResult, IntegTest, Match
from fixtures import RegisteredPackages

from mlops_constructs import naming
from pipeline_defs.steps.sample_data import TARGET_COLUMN, sample_dataframe

PROJECT = "imon"
ENV = "integ"
MODEL = "drift-model"
INSTANCE = "ml.m5.large"
SHIFTED_FEATURE = "mean_radius"
ROWS = 200

app = harness.new_app()
where = harness.target()
config = harness.integ_config(
    __file__,
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
            "name": MODEL,
            "environments": {
                ENV: {
                    "serving": {
                        "mode": "realtime",
                        "realtime": {
                            "instance_type": INSTANCE,
                            "initial_instance_count": 1,
                            "autoscaling": {"min_capacity": 1, "max_capacity": 1},
                            "data_capture_percent": 100,
                            "deployment": {"strategy": "all_at_once"},
                        },
                    },
                    # The drift alarm's window: one run, the shortest allowed, so it fires minutes after the run.
                    "monitoring": {"backend": "open", "alarms": {"monitoring_period_seconds": 300}},
                    "retraining": {"on_drift": True},
                }
            },
        }
    ],
)
package = harness.package_arn(where, PROJECT, MODEL, 1)
stacks = harness.environment_stacks(app, config, ENV, packages={MODEL: package})

# The training baseline: the bundled dataset's features with a header, as the preprocess step writes it.
frame = sample_dataframe()
baseline = harness.REPO / "build" / "integ" / "monitoring-baseline" / "baseline.csv"
baseline.parent.mkdir(parents=True, exist_ok=True)
frame.drop(columns=[TARGET_COLUMN]).to_csv(baseline, header=True, index=False)
fixture = Stack(app, f"{PROJECT}-{ENV}-Packages", env=where.env)
RegisteredPackages(
    fixture,
    "Packages",
    project=PROJECT,
    model=MODEL,
    data=stacks.data,
    versions=1,
    instance_types=[INSTANCE],
    training_baseline=baseline,
)
for serving in stacks.serving.values():
    serving.add_dependency(fixture)

assertions = Stack(app, f"{PROJECT}-{ENV}-Assertions", env=where.env)
test_stacks = [*stacks.all(), fixture]
for stack in test_stacks:
    assertions.add_dependency(stack)
integ = IntegTest(app, "MonitoringAndRetraining", test_cases=test_stacks, assertion_stack=assertions)

endpoint = naming.served_endpoint_name(PROJECT, ENV, MODEL, config.models[0].in_environment(ENV).serving)
assert endpoint is not None
# Shifted traffic: the first ROWS rows of the dataset with one feature five times larger, in baseline order.
shifted = frame.drop(columns=[TARGET_COLUMN]).head(ROWS).copy()
shifted[SHIFTED_FEATURE] = shifted[SHIFTED_FEATURE] * 5
body = "\n".join(",".join(f"{value:.6g}" for value in row) for row in shifted.itertuples(index=False))

in_service = harness.leaf(
    integ,
    "SageMaker",
    "describeEndpoint",
    {"EndpointName": endpoint},
    "EndpointStatus",
    ExpectedResult.exact("InService"),
    wait=(Duration.minutes(20), Duration.seconds(30)),
)
traffic = integ.assertions.aws_api_call(
    "SageMakerRuntime",
    "invokeEndpoint",
    {"EndpointName": endpoint, "ContentType": "text/csv", "Accept": "text/csv", "Body": body},
    # One probability per row comes back; only the content type is returned to CloudFormation (4 KB limit).
    output_paths=["ContentType"],
)
traffic.provider.add_to_role_policy({"Effect": "Allow", "Action": ["sagemaker:InvokeEndpoint"], "Resource": ["*"]})
captured = harness.leaf(
    integ,
    "S3",
    "listObjectsV2",
    {
        "Bucket": naming.bucket_name(PROJECT, ENV, "capture", where.account, where.region),
        "Prefix": f"{MODEL}/",
        "MaxKeys": 1,
    },
    "KeyCount",
    ExpectedResult.exact(1),
    wait=(Duration.minutes(15), Duration.minutes(1)),
)
monitoring_run = integ.assertions.aws_api_call(
    "SageMaker",
    "startPipelineExecution",
    {
        "PipelineName": naming.pipeline_name(PROJECT, ENV, MODEL, "monitoring"),
        "PipelineExecutionDisplayName": "integ-drift",
        "PipelineParameters": [{"Name": "LookbackHours", "Value": "3"}],
    },
)
monitoring_done = integ.assertions.aws_api_call(
    "SageMaker",
    "describePipelineExecution",
    {"PipelineExecutionArn": monitoring_run.get_att_string("PipelineExecutionArn")},
)
monitoring_done.expect(ExpectedResult.object_like({"PipelineExecutionStatus": "Succeeded"})).wait_for_assertions(
    total_timeout=Duration.minutes(45), interval=Duration.minutes(1)
)
drift_alarm = harness.leaf(
    integ,
    "CloudWatch",
    "describeAlarms",
    {"AlarmNames": [naming.alarm_name(PROJECT, ENV, MODEL, "feature-drift")]},
    "MetricAlarms.0.StateValue",
    ExpectedResult.exact("ALARM"),
    wait=(Duration.minutes(20), Duration.minutes(1)),
)
# Exactly one execution of the training pipeline: the list holds one summary (arrays match element by element).
retraining = integ.assertions.aws_api_call(
    "SageMaker",
    "listPipelineExecutions",
    {"PipelineName": naming.pipeline_name(PROJECT, ENV, MODEL, "training")},
)
retraining.expect(
    ExpectedResult.object_like({"PipelineExecutionSummaries": [Match.object_like({})]})
).wait_for_assertions(total_timeout=Duration.minutes(10), interval=Duration.seconds(30))
# A second, unasserted call gives the execution's ARN (reading attributes of an asserted call breaks it).
first = integ.assertions.aws_api_call(
    "SageMaker",
    "listPipelineExecutions",
    {"PipelineName": naming.pipeline_name(PROJECT, ENV, MODEL, "training")},
    output_paths=["PipelineExecutionSummaries.0.PipelineExecutionArn"],
)
execution = first.get_att_string("PipelineExecutionSummaries.0.PipelineExecutionArn")
reason = integ.assertions.aws_api_call(
    "SageMaker", "listPipelineParametersForExecution", {"PipelineExecutionArn": execution}
)
reason.expect(
    ExpectedResult.object_like(
        {
            "PipelineParameters": Match.array_with(
                [{"Name": "TriggerReason", "Value": Match.string_like_regexp("^alarm:.*feature-drift")}]
            )
        }
    )
)
stop = integ.assertions.aws_api_call("SageMaker", "stopPipelineExecution", {"PipelineExecutionArn": execution})
in_service.next(traffic).next(captured).next(monitoring_run).next(monitoring_done).next(drift_alarm).next(
    retraining
).next(first).next(reason).next(stop)

app.synth()
