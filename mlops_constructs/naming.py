"""Physical names that are part of a contract between environments, scripts and accounts.

CDK names everything else. These few are read across accounts (the registry and its artifact bucket), by
scripts (the resolver, the smoke test) or by operators, so they are derived here, in one place, from the
project, environment and model names the configuration has already validated.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from mlops_config.inference_modes import SharedEndpointSettings
    from mlops_config.serving import ServingSettings


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


# Model Monitor names its job definitions and schedules "<endpoint>-<kind>" (at most 63 characters, kinds up to
# "-explain"), so an endpoint name may use 55.
ENDPOINT_NAME_MAX: Final = 55
SERVERLESS_SHAPE: Final = "serverless"
# What an instance-backed endpoint's shape starts with, per mode (real-time names predate the other modes).
_INSTANCE_SHAPES: Final = {"realtime": "", "async": "async-", "components": "ic-"}
_BASE36: Final = "0123456789abcdefghijklmnopqrstuvwxyz"


def endpoint_shape(mode: str, instance_type: str | None = None) -> str:
    """What an endpoint's name records of it: ``serverless``, or a real-time endpoint's instance type.

    Exactly what SageMaker cannot change on a running endpoint: it does not update a real-time endpoint to
    serverless ("Update a serverless endpoint"), and it refuses an update that changes the instance type of a
    variant registered with auto scaling ("Update endpoints that use auto scaling"). Everything else (a new model
    version, instance counts, scaling bounds, capture, rollout, serverless memory and concurrency) updates the
    endpoint in place under the same name.
    """
    if mode == "serverless":
        return SERVERLESS_SHAPE
    if mode in _INSTANCE_SHAPES:
        parts = (instance_type or "").split(".")
        if len(parts) != 3 or parts[0] != "ml" or not all(parts):
            raise ValueError(f"instance_type {instance_type!r}: a {mode} endpoint needs ml.<family>.<size>")
        # Real-time names keep their original shape; the other instance modes say what they are, since SageMaker
        # updates no endpoint between real-time, asynchronous and inference-component hosting in place.
        return _INSTANCE_SHAPES[mode] + f"{parts[1]}-{parts[2]}"
    raise ValueError(f"mode {mode!r} has no endpoint; allowed: realtime, serverless, async, components")


def _short_shape(shape: str) -> str:
    """Four base-36 characters of the shape's sha256, for names too long to spell the shape out."""
    number = int.from_bytes(hashlib.sha256(shape.encode()).digest()[:8], "big")
    return "".join(_BASE36[(number // 36**i) % 36] for i in range(4))


def endpoint_name(project: str, environment: str, model: str, *, mode: str, instance_type: str | None = None) -> str:
    """The endpoint serving ``model``: ``<project>-<environment>-<model>-<shape>`` (see ``endpoint_shape``).

    A new model version, capacity or rollout change keeps the name, so the endpoint is updated in place. A change
    SageMaker refuses in place (real-time <-> serverless, or another instance type under auto scaling) changes the
    name: CloudFormation creates the new endpoint, then deletes the old one, and everything that derives the name
    here (alarms, auto scaling, monitoring, the smoke test, the CI/CD invoke grant) follows. The shape is spelled
    out (``m5-large``) when the name fits ``ENDPOINT_NAME_MAX``, else abbreviated to four characters of its hash.
    """
    base = f"{project}-{environment}-{model}"
    shape = endpoint_shape(mode, instance_type)
    name = f"{base}-{shape}"
    return name if len(name) <= ENDPOINT_NAME_MAX else f"{base}-{_short_shape(shape)}"


def served_endpoint_name(
    project: str, environment: str, model: str, serving: ServingSettings, shared: SharedEndpointSettings | None = None
) -> str | None:
    """The name of ``model``'s endpoint in ``environment`` given its serving settings; None for mode ``none``.

    For mode ``components`` that is the environment's shared endpoint (``shared``, required then); the model is
    its inference component ``inference_component_name``.
    """
    if serving.mode == "none":
        return None
    if serving.mode == "components":
        if shared is None:
            raise ValueError(f"{model} in {environment}: mode 'components' needs the environment's shared endpoint")
        return shared_endpoint_name(project, environment, shared.instance_type)
    instance_type = {"realtime": serving.realtime.instance_type, "async": serving.async_inference.instance_type}.get(
        serving.mode
    )
    return endpoint_name(project, environment, model, mode=serving.mode, instance_type=instance_type)


SHARED_ENDPOINT_UNIT: Final = "shared"


def shared_endpoint_name(project: str, environment: str, instance_type: str) -> str:
    """The environment's endpoint of shared instances hosting inference components: ``<p>-<env>-shared-ic-<type>``."""
    return endpoint_name(project, environment, SHARED_ENDPOINT_UNIT, mode="components", instance_type=instance_type)


def inference_component_name(project: str, environment: str, model: str) -> str:
    """The inference component of ``model`` on its environment's shared endpoint (invoked with the endpoint)."""
    return f"{project}-{environment}-{model}"


def dashboard_name(project: str, environment: str, model: str) -> str:
    """The CloudWatch dashboard of ``model`` in ``environment``: stable, whatever the endpoint's shape."""
    return f"{project}-{environment}-{model}-monitoring"


def endpoint_parameter_name(project: str, environment: str, model: str) -> str:
    """SSM parameter holding the current endpoint name of ``model``: the stable key clients look the name up by."""
    return f"/{project}/{environment}/{model}/endpoint-name"


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


def managed_policy_path(project: str) -> str:
    """The IAM path of the project's customer managed policies (``policy/<project>/...``).

    The CloudFormation execution policy (bootstrap/execution-policy.json) may create and change policies under this
    path only; the permissions boundary and the execution policy itself sit at ``/``, out of its reach.
    """
    return f"/{project}/"


def release_pipeline_name(project: str) -> str:
    """The CodePipeline that tests, synthesizes and deploys every environment; operators look it up by name."""
    return f"{project}-release"
