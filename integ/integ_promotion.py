"""Integration test: promotion into a second environment.

Two environments of the platform in the sandbox account, in two Regions (the configuration allows one
environment per account and Region): ``reg`` holds the registry, ``serve`` serves the model serverless. The test
registers a package in ``reg`` from its tiny artifact and approves it (registered ``Approved``, the state an
approver's UpdateModelPackage leaves; the release pipeline's resolver, scripts/resolve_approved_models.py, serves
the latest Approved version), then deploys ``serve`` with it, as the release pipeline does after an approval.
The assertions check that ``serve``'s promotion copier (mlops_constructs/promotion.py) wrote the tarball into
``serve``'s own bucket (SSE-KMS), that the endpoint's lineage tags name the package, the artifact's SHA-256 and
the copy, and that the endpoint answers with one probability.

Regions: the first from the CLI (``make integ INTEG_REGION=...``), the second from ``INTEG_SECOND_REGION``
(default eu-central-1; it must differ from the first).

Cost and duration (estimate from the AWS pricing pages for SageMaker serverless inference, Lambda, S3 and KMS,
not measured): a few serverless invocations and the copier's Lambda run, under USD 0.05, plus two KMS keys at
USD 1/month each, prorated; wall clock 25-40 minutes with deploy and destroy (two Regions must be bootstrapped).
Cleanup: ``make integ`` destroys the stacks; both environments have ``retain_data: false``. The copy is written
once (S3 conditional writes) and goes with its bucket.
"""

from __future__ import annotations

import os

import harness
from aws_cdk import Duration, Stack
from aws_cdk.integ_tests_alpha import ExpectedResult, IntegTest, Match
from fixtures import RegisteredPackages
from serving_scenario import ONE_PROBABILITY, SAMPLE_ROW

from mlops_constructs import naming
from mlops_constructs.promotion import promoted_paths

PROJECT = "iprom"
MODEL = "promoted-model"
INSTANCE = "ml.m5.large"

app = harness.new_app()
where = harness.target()
second_region = "eu-central-1" if where.snapshot else os.environ.get("INTEG_SECOND_REGION", "eu-central-1")
serve_env = harness.Target(where.account, second_region, snapshot=where.snapshot)
config = harness.integ_config(
    __file__,
    project=PROJECT,
    registry_environment="reg",
    environments=[
        {
            "name": "reg",
            "account": where.account,
            "region": where.region,
            "trains": True,
            "retain_data": False,
            "log_retention_days": 1,
        },
        {
            "name": "serve",
            "account": serve_env.account,
            "region": serve_env.region,
            "retain_data": False,
            "log_retention_days": 1,
        },
    ],
    models=[
        {
            "name": MODEL,
            "environments": {
                "serve": {
                    "serving": {"mode": "serverless", "serverless": {"memory_size_mb": 2048, "max_concurrency": 1}}
                }
            },
        }
    ],
)
package = harness.package_arn(where, PROJECT, MODEL, 1)
registry = harness.environment_stacks(app, config, "reg", with_training=False)
serving = harness.environment_stacks(app, config, "serve", packages={MODEL: package})

fixture = Stack(app, f"{PROJECT}-reg-Packages", env=where.env)
RegisteredPackages(
    fixture, "Packages", project=PROJECT, model=MODEL, data=registry.data, versions=1, instance_types=[INSTANCE]
)
for serving_stack in serving.serving.values():
    # Ordering only (another Region): the package exists before the copier reads it.
    serving_stack.add_dependency(fixture)

assertions = Stack(app, f"{PROJECT}-serve-Assertions", env=serve_env.env)
test_stacks = [*registry.all(), fixture, *serving.all()]
for stack in test_stacks:
    assertions.add_dependency(stack)
integ = IntegTest(app, "Promotion", test_cases=test_stacks, assertion_stack=assertions)

_, sha256 = harness.model_tarball(harness.REPO / "build" / "integ" / "tarball")
bucket = naming.artifact_bucket_name(PROJECT, "serve", serve_env.account, serve_env.region)
copy_key = promoted_paths(MODEL, 1).artifact_key
endpoint = naming.served_endpoint_name(PROJECT, "serve", MODEL, config.models[0].in_environment("serve").serving)
assert endpoint is not None

copied = integ.assertions.aws_api_call("S3", "headObject", {"Bucket": bucket, "Key": copy_key})
copied.expect(ExpectedResult.object_like({"ServerSideEncryption": "aws:kms"}))
lineage = integ.assertions.aws_api_call(
    "SageMaker",
    "listTags",
    {"ResourceArn": f"arn:aws:sagemaker:{serve_env.region}:{serve_env.account}:endpoint/{endpoint.lower()}"},
)
lineage.expect(
    ExpectedResult.object_like(
        {
            "Tags": Match.array_with(
                [
                    {"Key": "mlops:model-package-arn", "Value": package},
                    {"Key": "mlops:model-artifact-sha256", "Value": sha256},
                    {"Key": "mlops:model-data-url", "Value": f"s3://{bucket}/{copy_key}"},
                ]
            )
        }
    )
)
in_service = harness.leaf(
    integ,
    "SageMaker",
    "describeEndpoint",
    {"EndpointName": endpoint},
    "EndpointStatus",
    ExpectedResult.exact("InService"),
    wait=(Duration.minutes(20), Duration.seconds(30)),
)
answer = integ.assertions.aws_api_call(
    "SageMakerRuntime",
    "invokeEndpoint",
    {"EndpointName": endpoint, "ContentType": "text/csv", "Accept": "text/csv", "Body": SAMPLE_ROW},
)
answer.provider.add_to_role_policy({"Effect": "Allow", "Action": ["sagemaker:InvokeEndpoint"], "Resource": ["*"]})
answer.expect(ExpectedResult.object_like({"Body": Match.string_like_regexp(ONE_PROBABILITY)}))
copied.next(lineage).next(in_service).next(answer)

app.synth()
