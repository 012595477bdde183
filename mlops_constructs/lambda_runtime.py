"""The one Lambda runtime of the project: Python on arm64 with AWS's public Powertools layer.

Powertools comes from its public layer, not bundled into each asset, so function assets stay a few KB and
the library is patched by bumping one number here. The runtime follows the newest Python the pinned layer
version is published for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from mlops_constructs.nag import acknowledge

RUNTIME: Final = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE: Final = lambda_.Architecture.ARM_64
# AWS publishes the layer from this account in every commercial region.
POWERTOOLS_ACCOUNT: Final = "017000801446"
POWERTOOLS_LAYER_NAME: Final = "AWSLambdaPowertoolsPythonV3-python313-arm64"
POWERTOOLS_LAYER_VERSION: Final = 27
# Files never shipped in a function asset.
ASSET_EXCLUDES: Final = ("__pycache__", "*.pyc", ".*")


def powertools_layer(
    scope: Construct, construct_id: str = "Powertools", *, version: int = POWERTOOLS_LAYER_VERSION
) -> lambda_.ILayerVersion:
    """The public Powertools layer in ``scope``'s region and partition."""
    return lambda_.LayerVersion.from_layer_version_arn(
        scope,
        construct_id,
        Stack.of(scope).format_arn(
            service="lambda",
            account=POWERTOOLS_ACCOUNT,
            resource="layer",
            resource_name=f"{POWERTOOLS_LAYER_NAME}:{version}",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        ),
    )


def python_function(
    scope: Construct,
    construct_id: str,
    *,
    code_dir: Path,
    handler: str = "handler.lambda_handler",
    powertools_version: int = POWERTOOLS_LAYER_VERSION,
    **props: Any,
) -> lambda_.Function:
    """A function on the project's runtime: Python 3.13 on arm64 with the public Powertools layer, its code the folder
    ``code_dir`` (caches and dotfiles left out). ``props`` are the remaining ``lambda_.Function`` properties."""
    return lambda_.Function(
        scope,
        construct_id,
        runtime=RUNTIME,
        architecture=ARCHITECTURE,
        handler=handler,
        code=lambda_.Code.from_asset(str(code_dir), exclude=list(ASSET_EXCLUDES)),
        layers=[powertools_layer(scope, version=powertools_version)],
        **props,
    )


# Template metadata naming the opt-in settings a resource uses; the project's cfn-lint rules read it.
OPT_IN_METADATA_KEY: Final = "mlops"
RESERVED_CONCURRENCY_OPT_IN: Final = "reserved-concurrency"


def reserve_concurrency(function: lambda_.Function, reserved: int | None) -> None:
    """Reserve ``reserved`` concurrent executions for ``function`` when set (an opt-in), and say so in its metadata.

    Off by default: a reservation fails wherever it would leave the account fewer than 100 unreserved concurrent
    executions, which new accounts with low concurrency quotas hit at once (Lambda, "Configuring reserved
    concurrency for a function"). The template metadata ``{"mlops": {"opt_in": ["reserved-concurrency"]}}`` marks
    the reservation as deliberate for the synth-time rule that flags ``ReservedConcurrentExecutions``.
    """
    if reserved is None:
        return
    if reserved < 1:
        raise ValueError(f"reserved concurrency {reserved}: expected at least 1, or None for no reservation")
    resource = function.node.default_child
    assert isinstance(resource, lambda_.CfnFunction)
    resource.reserved_concurrent_executions = reserved
    resource.add_metadata(OPT_IN_METADATA_KEY, {"opt_in": [RESERVED_CONCURRENCY_OPT_IN]})


def acknowledge_pinned_runtime(function: lambda_.IFunction) -> None:
    """cdk-nag's latest-runtime rule (L1), for a function on ``RUNTIME``: it moves with the layer, not before."""
    acknowledge(
        function,
        "AwsSolutions-L1",
        f"Pinned to {RUNTIME.name} because the public Powertools layer is built per Python version; the runtime "
        f"moves together with POWERTOOLS_LAYER_NAME/VERSION in mlops_constructs/lambda_runtime.py.",
    )
