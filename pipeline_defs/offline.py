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

import contextlib
import os
from collections.abc import Iterator
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
    # Sessions validate through the module-level function, imported by name into these modules.
    from sagemaker.core.helper import session_helper
    from sagemaker.core.local import local_session

    for module in (session_helper, local_session):
        module_original = module.validate_sagemaker_config

        def validate_in_module(
            sagemaker_config: dict[str, Any] | None = None, _original: Any = module_original
        ) -> None:
            if sagemaker_config == SDK_CONFIG:
                return
            _original(sagemaker_config)

        module.validate_sagemaker_config = validate_in_module


# One offline botocore session and one client per (service, Region) for every render of the process: building a
# client decodes the service's JSON model and builds its operation models (~0.1 s each, a dozen per render, and the
# SDK's steps build more through sessions of their own), which made every render cost ~1.8 s, more than the SDK
# import. No client here ever sends a request, so sharing them between renders carries no state between them.
_CLIENTS: dict[tuple[str, str | None], Any] = {}
_OFFLINE_CORE: list[Any] = []
_SHARED_LOADER: list[Any] = []


def _offline_core() -> Any:
    """The process's offline botocore session: fake static credentials and the ``before-send`` refusal."""
    if not _OFFLINE_CORE:
        import botocore.session

        core = botocore.session.Session()
        core.set_credentials(_FAKE_ACCESS_KEY, _FAKE_SECRET_KEY)
        core.register("before-send", _refuse_request)
        _OFFLINE_CORE.append(core)
    return _OFFLINE_CORE[0]


@contextlib.contextmanager
def shared_clients() -> Iterator[None]:
    """While rendering, build every botocore client from the offline session, once per service and Region.

    The SDK also builds clients through sessions of its own (``LocalSession`` in ``TrainingStep`` uses
    ``boto3.Session()``); routed here, those get the fake credentials and the network refusal too. Image URIs
    resolve the ECR endpoint through a new default loader per lookup (the endpoints file decoded each time); one
    loader keeps its decoded files. Both patches are undone on exit, so clients built outside a render (moto in
    tests, scripts/) are untouched.
    """
    import botocore.loaders
    import botocore.session

    original_client = botocore.session.Session.create_client
    original_loader = botocore.loaders.create_loader
    if not _SHARED_LOADER:
        _SHARED_LOADER.append(original_loader())

    def create_client(self: Any, service_name: str, region_name: str | None = None, *args: Any, **kwargs: Any) -> Any:
        key = (service_name, region_name or self.get_config_variable("region"))
        client = _CLIENTS.get(key)
        if client is None:
            client = original_client(_offline_core(), service_name, key[1])
            _CLIENTS[key] = client
        return client

    def create_loader(search_path_string: str | None = None) -> Any:
        return _SHARED_LOADER[0] if search_path_string is None else original_loader(search_path_string)

    botocore.session.Session.create_client = create_client  # type: ignore[method-assign]
    botocore.loaders.create_loader = create_loader
    try:
        yield
    finally:
        botocore.session.Session.create_client = original_client  # type: ignore[method-assign]
        botocore.loaders.create_loader = original_loader


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
