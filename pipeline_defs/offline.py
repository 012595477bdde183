"""The one place that keeps the sagemaker 3.x SDK off the network while rendering.

Rendering a pipeline definition must need no credentials, no network and no clock.
The SDK reaches out in these places, each handled here:

* import: ``sagemaker.core`` builds a default boto session at import and needs a region
  -> :func:`prepare_environment` sets ``AWS_DEFAULT_REGION`` before the first import.
* ``ModelTrainer`` validates its role through IAM/STS
  -> ``SAGEMAKER_VALIDATE_ROLE=false``, and the role is ARN-shaped (see
  ``Placeholders.execution_role_arn``) so it is never looked up with ``iam:GetRole``.
* ``Session.expand_role`` calls IAM for anything without a ``/`` -> the role has one.
* telemetry: every decorated SDK call sends an HTTP request (through ``requests``, not
  botocore) unless ``SageMaker.PythonSDK.Modules.TelemetryOptOut`` is true in the SDK
  config -> the session is given an explicit config with the opt-out set. Passing an
  explicit config also stops the SDK from reading ``~/.config/sagemaker/config.yaml`` or
  an S3 config (which would make the output depend on the machine).
  Cost, not network: the SDK re-validates that config against its JSON schema on every
  config lookup (~80 lookups, ~0.2 s each, more than the whole rest of a render), so
  :func:`_validate_config_once` validates our fixed config once and skips repeats of it.
* ``Session.default_bucket()`` lists/creates S3 buckets even when a bucket name is given
  -> the session's resolved bucket is pre-set, so the method returns at once.
* local ``code=`` / ``source_code`` is uploaded to S3 during ``definition()`` -> never
  used: step scripts are CDK assets and the definition references their S3 URIs.
* image URIs -> ``sagemaker.core.image_uris.retrieve`` reads the SDK's bundled JSON.

Anything missed fails loudly: the botocore session carries fake static credentials and
a ``before-send`` hook that raises :class:`NetworkAccessError` on any HTTP request.
"""

# The SDK is imported inside functions on purpose: this module is imported on the render
# cache-hit path too, which must not pay for (or need a region for) the SDK import.

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sagemaker.core.workflow.pipeline_context import PipelineSession

# Fake, static credentials: botocore signs requests before sending them, so without
# credentials a stray call would fail with NoCredentialsError instead of our clear error.
_FAKE_ACCESS_KEY = "OFFLINE-RENDER-NO-ACCESS"
_FAKE_SECRET_KEY = "offline-render-no-secret"  # noqa: S105 - deliberately fake

# The SDK config every render uses (validated by the SDK against its schema).
SDK_CONFIG: dict[str, Any] = {
    "SchemaVersion": "1.0",
    "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
}


class NetworkAccessError(RuntimeError):
    """Raised when the SDK tries to send an HTTP request during an offline render."""


def prepare_environment(region: str) -> None:
    """Set the process environment the SDK reads at import and at build time.

    Must run before ``sagemaker`` is first imported. Only variables the SDK reads are
    touched; a region the caller already set is kept for the import only (the session
    below always uses ``region``).
    """
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    os.environ["SAGEMAKER_VALIDATE_ROLE"] = "false"


def _refuse_request(request: Any, **_: Any) -> None:
    """botocore ``before-send`` hook: no request leaves an offline render."""
    raise NetworkAccessError(
        f"Offline pipeline render tried to call AWS: {request.method} {request.url}. "
        "Find the SDK call that needs the network and neutralise it in pipeline_defs/offline.py."
    )


def _validate_config_once() -> None:
    """Validate ``SDK_CONFIG`` once; let the SDK skip re-validating an equal config.

    Any other config still goes through the SDK's own validation unchanged.
    """
    from sagemaker.core.config.config_manager import SageMakerConfig

    original = SageMakerConfig.validate_sagemaker_config
    if getattr(original, "_offline_render", False):
        return
    original(SDK_CONFIG)

    def validate(sagemaker_config: dict[str, Any] | None = None) -> None:
        if sagemaker_config == SDK_CONFIG:
            return
        original(sagemaker_config)

    validate._offline_render = True  # type: ignore[attr-defined]
    SageMakerConfig.validate_sagemaker_config = staticmethod(validate)  # type: ignore[method-assign,assignment]


def offline_session(region: str, default_bucket: str) -> PipelineSession:
    """A ``PipelineSession`` that can build a definition with no credentials and no network.

    ``default_bucket`` is what the SDK uses for any path it generates itself (normally a
    placeholder such as ``${ArtifactBucket}``); no S3 call is made for it.
    """
    prepare_environment(region)
    import boto3
    import botocore.session
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    _validate_config_once()
    core = botocore.session.Session()
    core.set_credentials(_FAKE_ACCESS_KEY, _FAKE_SECRET_KEY)
    core.register("before-send", _refuse_request)
    boto_session = boto3.Session(botocore_session=core, region_name=region)
    session = PipelineSession(
        boto_session=boto_session,
        default_bucket=default_bucket,
        sagemaker_config=SDK_CONFIG,
    )
    # default_bucket() returns this attribute as-is when set; the constructor only sets
    # the *override*, which default_bucket() then verifies (and creates) through S3.
    session._default_bucket = default_bucket
    return session
