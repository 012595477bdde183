"""Integration test: training.

The dev-like environment's real Data and Training stacks deploy; a fixture uploads the bundled sample dataset
to the data bucket; the assertions start the training pipeline through the SageMaker API, wait for the
execution to succeed, and check that the registry holds a package with its model metrics, drift-check baselines
and the artifact's SHA-256 (customer metadata ``ModelArtifactSha256``, ``pipeline_defs/training_pipeline.py``).

Cost and duration (estimate from the AWS pricing pages for SageMaker, Lambda, S3, KMS; not measured): one
pipeline run is a processing job, a training job, an evaluation and two baselining jobs on ml.m5.large-class
instances, about 25-40 minutes of instance time, so about USD 0.10-0.30 per run plus the stacks' KMS key
(USD 1/month, prorated) and a few cents of Lambda and S3; wall clock 30-50 minutes including deploy and destroy.
Cleanup: integ-runner destroys the stacks; the dev environment has ``retain_data: false``, so buckets, key and
registry group go with them. SageMaker keeps the pipeline execution's jobs' records (no charge).
"""

from __future__ import annotations

import harness
from aws_cdk import Duration, Stack
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk.integ_tests_alpha import ExpectedResult, IntegTest

from mlops_constructs import naming
from pipeline_defs.steps.sample_data import write_sample_dataset

PROJECT = "itrain"
ENV = "dev"

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
    models=[{"name": harness.MODEL, "training": {"quality_gate": {"metric": "auc", "threshold": 0.9}}}],
)
stacks = harness.environment_stacks(app, config, ENV)
model = config.models[0]

# Fixture (the test's own, not the platform's): the raw training data where the pipeline reads it.
fixture = Stack(app, f"{PROJECT}-{ENV}-Fixture", env=where.env)
dataset = write_sample_dataset(harness.REPO / "build" / "integ" / "training-data" / "raw.csv")
upload = s3deploy.BucketDeployment(
    fixture,
    "TrainingData",
    sources=[s3deploy.Source.asset(str(dataset.parent))],
    destination_bucket=stacks.data.data_bucket,
    destination_key_prefix=model.training_data_prefix,
    server_side_encryption=s3deploy.ServerSideEncryption.AWS_KMS,
    server_side_encryption_aws_kms_key_id=stacks.data.key.key_id,
    retain_on_delete=False,
)
stacks.data.key.grant_encrypt_decrypt(upload.handler_role)

assertions = Stack(app, f"{PROJECT}-{ENV}-Assertions", env=where.env)
for stack in (fixture, *stacks.all()):
    assertions.add_dependency(stack)
integ = IntegTest(app, "Training", test_cases=[*stacks.all(), fixture], assertion_stack=assertions)

pipeline = naming.pipeline_name(PROJECT, ENV, model.name, "training")
group = naming.model_package_group_name(PROJECT, model.name)
start = integ.assertions.aws_api_call(
    "SageMaker",
    "startPipelineExecution",
    {
        "PipelineName": pipeline,
        "PipelineExecutionDisplayName": "integ-training",
        "PipelineParameters": [{"Name": "TriggerReason", "Value": "integ-test"}],
    },
)
execution = integ.assertions.aws_api_call(
    "SageMaker", "describePipelineExecution", {"PipelineExecutionArn": start.get_att_string("PipelineExecutionArn")}
)
execution.expect(ExpectedResult.object_like({"PipelineExecutionStatus": "Succeeded"})).wait_for_assertions(
    total_timeout=Duration.hours(1), interval=Duration.minutes(1)
)
latest = integ.assertions.aws_api_call(
    "SageMaker",
    "listModelPackages",
    {"ModelPackageGroupName": group, "SortBy": "CreationTime", "SortOrder": "Descending", "MaxResults": 1},
    output_paths=["ModelPackageSummaryList.0.ModelPackageArn"],
)
# The registered package, one recorded value at a time (a whole DescribeModelPackage can exceed what a custom
# resource may return).
package = {"ModelPackageName": latest.get_att_string("ModelPackageSummaryList.0.ModelPackageArn")}
S3_URI = ExpectedResult.string_like_regexp("^s3://")
recorded = [
    harness.leaf(integ, "SageMaker", "describeModelPackage", package, path, expected)
    for path, expected in (
        ("ModelPackageGroupName", ExpectedResult.exact(group)),
        ("ModelApprovalStatus", ExpectedResult.string_like_regexp("^(PendingManualApproval|Approved)$")),
        ("ModelMetrics.ModelQuality.Statistics.S3Uri", S3_URI),
        ("ModelMetrics.ModelQuality.Constraints.S3Uri", S3_URI),
        ("ModelMetrics.ModelDataQuality.Statistics.S3Uri", S3_URI),
        ("ModelMetrics.ModelDataQuality.Constraints.S3Uri", S3_URI),
        ("DriftCheckBaselines.ModelDataQuality.Statistics.S3Uri", S3_URI),
        ("DriftCheckBaselines.ModelDataQuality.Constraints.S3Uri", S3_URI),
        ("DriftCheckBaselines.ModelQuality.Constraints.S3Uri", S3_URI),
        ("CustomerMetadataProperties.ModelArtifactSha256", ExpectedResult.string_like_regexp("^[0-9a-f]{64}$")),
        ("CustomerMetadataProperties.TrainingBaselineS3Uri", S3_URI),
        ("CustomerMetadataProperties.TriggerReason", ExpectedResult.exact("integ-test")),
    )
]
chain = start.next(execution).next(latest)
for call in recorded:
    chain = chain.next(call)


app.synth()
