"""Physical names that are part of a contract between environments, scripts and accounts.

CDK names everything else. These few are read across accounts (the registry and its artifact bucket), by
scripts (the resolver, the smoke test) or by operators, so they are derived here, in one place, from the
project, environment and model names the configuration has already validated.
"""

from __future__ import annotations


def model_package_group_name(project: str, model: str) -> str:
    """The registry's package group of ``model`` (at most 12 + 1 + 24 characters)."""
    return f"{project}-{model}"


BUCKET_PURPOSES = ("data", "models", "capture", "reports")


def bucket_name(project: str, environment: str, purpose: str, account: str, region: str) -> str:
    """An environment bucket (``purpose`` in BUCKET_PURPOSES); at most 12+12+7+12+14+4 = 61 characters.

    Named, not CDK-generated, for two reasons: serving accounts read model tarballs from the registry
    environment's ``models`` bucket by name, and consumer stacks reference the buckets by literal ARN instead of
    CloudFormation exports, so a data stack never gets stuck on an export another stack still imports.
    """
    if purpose not in BUCKET_PURPOSES:
        raise ValueError(f"bucket purpose {purpose!r}; allowed: {', '.join(BUCKET_PURPOSES)}")
    return f"{project}-{environment}-{purpose}-{account}-{region}"


def artifact_bucket_name(project: str, environment: str, account: str, region: str) -> str:
    """The bucket holding pipeline artifacts and model tarballs; serving accounts read models from it."""
    return bucket_name(project, environment, "models", account, region)


def key_alias_name(project: str, environment: str) -> str:
    """Alias of the environment's data key; serving accounts scope their decrypt permission with it."""
    return f"alias/{project}-{environment}-data"


def key_arn_parameter_name(project: str, environment: str) -> str:
    """SSM parameter holding the ARN of the environment's data key, for stacks that must not import it.

    SageMaker pipeline definitions need the key's ARN inside an ``Fn::Sub`` variable map, where a cross-stack
    reference fails at deploy (see ``mlops_constructs.sagemaker_pipeline.key_arn_from_parameter``).
    """
    return f"/{project}/{environment}/data-key-arn"


def pipeline_name(project: str, environment: str, model: str, kind: str) -> str:
    """A SageMaker pipeline of ``model``; ``kind`` is training, batch or monitoring."""
    return f"{project}-{environment}-{model}-{kind}"


def endpoint_name(project: str, environment: str, model: str) -> str:
    """The endpoint serving ``model``; stable so that a new model version updates it in place."""
    return f"{project}-{environment}-{model}"


def stack_name(project: str, environment: str, unit: str) -> str:
    """CloudFormation stack name of one unit (``data``, ``model-<name>``) of an environment."""
    return f"{project}-{environment}-{unit}"


def alarm_name(project: str, environment: str, model: str, kind: str) -> str:
    """A CloudWatch alarm of ``model`` that other parts react to; ``kind`` is e.g. feature-drift or model-quality.

    The retraining Lambda matches "CloudWatch Alarm State Change" events on exactly these names.
    """
    return f"{project}-{environment}-{model}-{kind}"


def cicd_role_name(project: str, purpose: str) -> str:
    """An IAM role of the CI/CD toolchain that another account trusts or the pipeline assumes by name.

    Roles on both sides of a cross-account trust need names known to both accounts before either exists.
    """
    return f"{project}-cicd-{purpose}"


def release_pipeline_name(project: str) -> str:
    """The CodePipeline that tests, synthesizes and deploys every environment; operators look it up by name."""
    return f"{project}-release"
