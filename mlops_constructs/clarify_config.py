"""The Clarify analysis config of the model an endpoint serves now, written at deploy time.

Clarify's explainability job names the model it explains in its analysis config (``predictor.model_name``; it makes
its shadow endpoint from that model, "Configure the Analysis"). The serving stack's ``AWS::SageMaker::Model`` has a
CloudFormation-generated name that changes on every approval (a new package replaces the Model), so a config that
names it at synth time, or one written once, goes stale after the first promotion. This construct copies the
explainability baseline's analysis config with ``predictor.model_name`` set to the served Model's name, a deploy-time
value (``ServedModel.model_name``), through a custom resource whose ``ModelName`` property changes with the model:
every promotion rewrites the config, at the same S3 key, so the job definition reading it never changes.

The name reaches this stack as a plain property of the custom resource (a weak cross-stack reference,
``Fn::GetStackOutput``, never inside an ``Fn::Sub`` variable map: the ``Fn::GetStackOutput`` reference page, "Known
limitations").
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CustomResource, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import custom_resources as cr
from constructs import Construct

from mlops_constructs.lambda_runtime import python_function
from mlops_constructs.nag import acknowledge

CODE_DIR = Path(__file__).resolve().parent.parent / "lambda" / "clarify_config"


class ServedModelAnalysisConfig(Construct):
    """Writes ``target_bucket``/``target_key``: the analysis config at ``source_bucket``/``source_key`` for the model
    called ``model_name`` (a token of the serving stack's Model), encrypted with ``key``.

    ``config_uri`` is the written object's S3 URI, stable across promotions; ``resource`` is the custom resource, on
    which a job definition reading the config should depend. ``role`` is the function's role: it may read the source
    object, write the target object and use ``key``; grant it decryption of another key if the source has one.
    The function (arm64, Powertools layer, JSON logs kept ``log_retention_days``) runs only during deploys.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source_bucket: s3.IBucket,
        source_key: str,
        target_bucket: s3.IBucket,
        target_key: str,
        key: kms.IKey,
        model_name: str,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(self, "Logs", encryption_key=key)
        log_group_resource = self.log_group.node.default_child
        assert isinstance(log_group_resource, logs.CfnLogGroup)
        log_group_resource.retention_in_days = log_retention_days
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Writes the Clarify analysis config of the served model",
        )
        self.log_group.grant_write(self.role)
        source_bucket.grant_read(self.role, source_key)
        # Not grant_put: it adds PutObjectRetention, PutObjectLegalHold and tagging, which a config writer never needs.
        iam.Grant.add_to_principal(
            grantee=self.role, actions=["s3:PutObject"], resource_arns=[target_bucket.arn_for_objects(target_key)]
        )
        key.grant_encrypt_decrypt(self.role)
        self.function = python_function(
            self,
            "Function",
            description="Clarify analysis config of the served model (deploy time only)",
            code_dir=CODE_DIR,
            handler="handler.on_event",
            role=self.role,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            memory_size=128,
            timeout=Duration.seconds(30),
            environment={"POWERTOOLS_SERVICE_NAME": "clarify-config"},
        )
        function_resource = self.function.node.default_child
        assert isinstance(function_resource, lambda_.CfnFunction)
        # The Provider framework's own function: a role of ours, so that it writes only to this log group (not the
        # managed AWSLambdaBasicExecutionRole, which writes to every log group of the account).
        self.framework_role = iam.Role(
            self,
            "FrameworkRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Runs the CDK custom-resource framework of the served model's Clarify config",
        )
        self.log_group.grant_write(self.framework_role)
        self.provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=self.function,
            framework_on_event_role=self.framework_role,
            log_group=self.log_group,
        )
        # W3005: CDK adds an explicit DependsOn on each function's role next to the GetAtt of it, to order the role's
        # default policy before the function too; harmless.
        for child in (function_resource, *self.provider.node.find_all()):
            if isinstance(child, lambda_.CfnFunction):
                child.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})
        acknowledge(
            self.framework_role,
            "AwsSolutions-IAM5",
            "The CDK Provider framework grants lambda:InvokeFunction on the handler function and its versions "
            "(<function ARN>:*); it invokes only that one function.",
            applies_to=[f"Resource::<{Stack.of(self).get_logical_id(function_resource)}.Arn>:*"],
        )
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=self.provider.service_token,
            resource_type="Custom::ClarifyAnalysisConfig",
            properties={
                "SourceBucket": source_bucket.bucket_name,
                "SourceKey": source_key,
                "TargetBucket": target_bucket.bucket_name,
                "TargetKey": target_key,
                "KmsKeyId": key.key_arn,
                "ModelName": model_name,
            },
        )
        self.config_uri = target_bucket.s3_url_for_object(target_key)
