"""What every integration test here shares: the target account, a validated configuration, and the platform's
real stacks built for one environment, exactly as ``stacks.stage.MlopsStage`` wires them.

The tests run under ``@aws-cdk/integ-runner`` (``make integ-snapshots`` offline, ``make integ`` on AWS). The
runner starts each ``integ_*.py`` from this folder, so the repository root is put on ``sys.path`` here.

Target: integ-runner synthesizes snapshots with ``CDK_INTEG_ACCOUNT=12345678`` and ``CDK_INTEG_REGION=test-region``
(its ``DEFAULT_SYNTH_OPTIONS``, ``lib/runner/runner-base.js``); the platform's configuration needs a 12-digit
account and a Region with SageMaker, so a snapshot uses :data:`SNAPSHOT_ACCOUNT` / :data:`SNAPSHOT_REGION`
instead. On a real run the CDK CLI sets ``CDK_DEFAULT_ACCOUNT`` / ``CDK_DEFAULT_REGION`` from the credentials and
``--parallel-regions``; those are used. Nothing here calls AWS at synth.

Why the stacks are not inside a ``cdk.Stage``: integ-runner's snapshot reads the stacks of the top-level cloud
assembly only, so :func:`environment_stacks` builds the same stack classes with the same arguments directly
under the App. cdk-nag is not applied: the assertion stack's provider functions are integ-tests-alpha's, not
ours; the platform's own stacks pass nag in ``make synth`` and the test suite.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
# Synth is quiet: jsii deprecation warnings are app.py's choice too.
os.environ.setdefault("JSII_DEPRECATED", "quiet")

import aws_cdk as cdk  # noqa: E402

from mlops_config import PlatformConfig  # noqa: E402
from mlops_config.loader import parse_config  # noqa: E402
from mlops_constructs import naming  # noqa: E402
from stacks.data_stack import DataStack  # noqa: E402
from stacks.model_stack import ModelStack, model_stack_id  # noqa: E402
from stacks.tagging import tag_resources  # noqa: E402
from stacks.training_stack import TrainingStack  # noqa: E402

ASSETS = Path(__file__).resolve().parent / "assets"
# integ-runner's own placeholders for snapshot synth, and what the platform's configuration gets instead.
RUNNER_SNAPSHOT_ACCOUNT = "12345678"
RUNNER_SNAPSHOT_REGION = "test-region"
SNAPSHOT_ACCOUNT = "123456789012"
SNAPSHOT_REGION = "eu-west-1"
# The tiny XGBoost model the serving tests register (integ/assets/README.md says how it was made).
TINY_MODEL = ASSETS / "xgboost-model"
# Every integ test names its own project, so its registry groups are new and its package versions start at 1.
MODEL = "breast-cancer"


@dataclass(frozen=True)
class Target:
    """The account and Region the test deploys to (placeholders for a snapshot)."""

    account: str
    region: str
    snapshot: bool

    @property
    def env(self) -> cdk.Environment:
        return cdk.Environment(account=self.account, region=self.region)


def target(environ: Mapping[str, str] | None = None) -> Target:
    """The deployment target: integ-runner's snapshot placeholders mapped to valid ones, else the CLI's account."""
    environ = os.environ if environ is None else environ
    account = environ.get("CDK_INTEG_ACCOUNT") or environ.get("CDK_DEFAULT_ACCOUNT")
    region = environ.get("CDK_INTEG_REGION") or environ.get("CDK_DEFAULT_REGION")
    if account in (None, RUNNER_SNAPSHOT_ACCOUNT) or region in (None, RUNNER_SNAPSHOT_REGION):
        return Target(SNAPSHOT_ACCOUNT, SNAPSHOT_REGION, snapshot=True)
    assert account is not None and region is not None
    return Target(account, region, snapshot=False)


def new_app() -> cdk.App:
    """An App with the repository's feature flags (cdk.json), which the runner does not read from this folder.

    The output directory is the runner's ``CDK_OUTDIR`` read here, in Python, as each App is made (the jsii kernel
    reads its environment once, when it starts): ``integ/snapshots.py`` runs several tests in one process.
    """
    context = json.loads((REPO / "cdk.json").read_text(encoding="utf-8"))["context"]
    return cdk.App(context=context, outdir=os.environ.get("CDK_OUTDIR"))


def integ_config(
    source: str,
    *,
    project: str,
    environments: list[dict[str, Any]],
    models: list[dict[str, Any]],
    registry_environment: str,
) -> PlatformConfig:
    """A configuration validated like config/platform.yaml (errors name ``source``)."""
    raw = {
        "project": project,
        "registry_environment": registry_environment,
        "environments": environments,
        "models": models,
    }
    return parse_config(raw, source=Path(source))


@dataclass
class EnvironmentStacks:
    """The platform stacks of one environment, as MlopsStage builds them."""

    data: DataStack
    training: dict[str, TrainingStack] = field(default_factory=dict)
    # The model stacks (stacks/model_stack.py): each model's serving and, where enabled, its monitoring.
    serving: dict[str, ModelStack] = field(default_factory=dict)

    def all(self) -> list[cdk.Stack]:
        return [self.data, *self.training.values(), *self.serving.values()]


def environment_stacks(
    app: cdk.App,
    config: PlatformConfig,
    environment_name: str,
    *,
    packages: Mapping[str, str] | None = None,
    with_training: bool = True,
) -> EnvironmentStacks:
    """The Data, Training and model stacks of ``environment_name`` (same classes, ids and names as stacks/stage.py),
    each model served from ``packages[model]`` when given."""
    environment = config.environment(environment_name)
    env = cdk.Environment(account=environment.account, region=environment.region)
    prefix = f"{config.project}-{environment.name}"
    tags = {"project": config.project, "environment": environment.name}
    data = DataStack(
        app,
        f"{prefix}-Data",
        config=config,
        environment=environment,
        env=env,
        stack_name=naming.stack_name(config.project, environment.name, "data"),
    )
    tag_resources(data, tags)
    stacks = EnvironmentStacks(data=data)
    for model in config.models:
        if with_training and environment.trains:
            stacks.training[model.name] = TrainingStack(
                app,
                f"{prefix}-Training-{model.name}",
                config=config,
                environment=environment,
                model=model,
                data=data,
                env=env,
                stack_name=naming.stack_name(config.project, environment.name, f"{model.name}-training"),
            )
        package = (packages or {}).get(model.name)
        in_env = model.in_environment(environment.name)
        if package is None or in_env.serving.mode == "none":
            continue
        stacks.serving[model.name] = ModelStack(
            app,
            f"{prefix}-{model_stack_id(model.name)}",
            config=config,
            environment=environment,
            model=model,
            data=data,
            package_arn=package,
            env=env,
            stack_name=naming.stack_name(config.project, environment.name, f"{model.name}-serving"),
        )
    for stack in stacks.all():
        tag_resources(stack, {**tags, "integ-test": "true"})
    return stacks


def package_arn(target: Target, project: str, model: str, version: int) -> str:
    """ARN of version ``version`` of ``model``'s package group: a group created by the test numbers from 1."""
    group = naming.model_package_group_name(project, model)
    return f"arn:aws:sagemaker:{target.region}:{target.account}:model-package/{group}/{version}"


def model_tarball(out_dir: Path, *, model_file: Path = TINY_MODEL) -> tuple[Path, str]:
    """``model.tar.gz`` holding ``model_file`` as ``xgboost-model`` (the built-in container's layout), built the same
    bytes every synth (fixed mtime, owner and gzip header), and its SHA-256."""
    raw = model_file.read_bytes()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        info = tarfile.TarInfo("xgboost-model")
        info.size = len(raw)
        info.mtime = 0
        info.mode = 0o644
        archive.addfile(info, io.BytesIO(raw))
    import gzip

    compressed = gzip.compress(buffer.getvalue(), mtime=0)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "model.tar.gz"
    path.write_bytes(compressed)
    return path, hashlib.sha256(compressed).hexdigest()


def leaf(  # noqa: PLR0917 - aws_api_call(service, api, parameters) then assert_at_path(path, expected)
    integ: Any,
    service: str,
    api: str,
    parameters: Mapping[str, Any],
    path: str,
    expected: Any,
    *,
    wait: tuple[Any, Any] | None = None,
) -> Any:
    """An AWS API call asserting the one value at ``path`` of its response (waiting ``(total, interval)``).

    Only that value goes back to CloudFormation: a custom resource's response body can't exceed 4096 bytes
    (CloudFormation, "Custom resource response objects"), which a whole DescribeEndpoint or DescribeModelPackage
    can. A call whose attributes are read (``get_att_string``) is never also asserted: that flattens its response
    and the assertion then sees nothing (aws/aws-cdk issue 30477).
    """
    call = integ.assertions.aws_api_call(service, api, dict(parameters), output_paths=[path])
    call.assert_at_path(path, expected)
    if wait is not None:
        call.wait_for_assertions(total_timeout=wait[0], interval=wait[1])
    return call
