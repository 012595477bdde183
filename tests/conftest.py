"""Shared fixtures: an offline AWS environment, the repo's CDK feature flags, and apps built once per session."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import botocore.loaders
import botocore.session
import pytest

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO / "config" / "platform.yaml"

# jsii starts `node` from PATH: use the project's pinned LTS when it is installed, as the Makefile does.
_NODE_BIN = REPO / "node_modules" / ".bin"
if _NODE_BIN.is_dir() and str(_NODE_BIN) not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = f"{_NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
# Tests never reach AWS: fake credentials, a fixed region, no metadata-service probing.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
)
os.environ.pop("AWS_PROFILE", None)
# Under pytest-xdist a test worker already runs on every core: each worker's cfn-lint passes (scripts/synth_report.py)
# use one process instead of one per core, which would only add cfn-lint start-ups (~1.5 s of CPU each).
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("LINT_WORKERS", "1")

# Every boto3/botocore session the tests make (moto accounts, assumed-role sessions, each cold start of a handler)
# would otherwise build its own loader and parse the service models again: SageMaker's alone is megabytes of JSON,
# about 0.5 s per session. One loader per test process serves them all; botocore already shares one loader's
# parsed models between the clients of a session, which treat them as read-only.
botocore.session.create_loader = functools.cache(botocore.loaders.create_loader)  # type: ignore[attr-defined]


def cdk_feature_flags() -> dict[str, Any]:
    """The context of cdk.json (feature flags), which the CLI would pass to app.py."""
    return dict(json.loads((REPO / "cdk.json").read_text(encoding="utf-8"))["context"])


def raw_default_config() -> dict[str, Any]:
    """The shipped configuration as plain data, to derive variants from in tests."""
    import yaml

    return dict(yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8")))


@pytest.fixture(scope="session")
def default_config() -> Any:
    """The shipped configuration, validated."""
    from mlops_config import load_config

    return load_config(DEFAULT_CONFIG)


AppFactory = Callable[..., Any]


def build_app(
    config: Any,
    *,
    approved: Mapping[str, Mapping[str, str]] | None = None,
    environments: list[str] | None = None,
    outdir: Path | None = None,
    with_cicd: bool = False,
) -> tuple[Any, dict[str, Any]]:
    """Build the whole platform app like app.py does; returns the App and its stages by environment."""
    import aws_cdk as cdk

    from stacks.platform import build_platform

    app = cdk.App(context=cdk_feature_flags(), outdir=str(outdir) if outdir else None)
    stages = build_platform(
        app,
        config,
        environments=environments or [env.name for env in config.environments],
        approved={k: dict(v) for k, v in (approved or {}).items()},
        **({"with_cicd": True} if with_cicd else {}),
    )
    return app, stages


@pytest.fixture(scope="session")
def default_app(default_config: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict[str, Any]]]:
    """The shipped configuration built and synthesized once (cdk-nag runs during this synth)."""
    app, stages = build_app(default_config, outdir=tmp_path_factory.mktemp("cdk.out"))
    app.synth()
    yield app, stages


APPROVED_PACKAGE = "arn:aws:sagemaker:eu-west-1:111111111111:model-package/mlops-breast-cancer/3"


@pytest.fixture(scope="session")
def approved_app(default_config: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, Any]]:
    """The shipped configuration with version 3 of the sample model approved everywhere: every stack exists."""
    approved = {env.name: {"breast-cancer": APPROVED_PACKAGE} for env in default_config.environments}
    app, stages = build_app(default_config, approved=approved, outdir=tmp_path_factory.mktemp("cdk.out.approved"))
    app.synth()
    return app, stages


@pytest.fixture(scope="session")
def release_app(default_config: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every stack kind the shipped config deploys, with the release pipeline: config/approved-models.example.json
    approves the sample model everywhere. Synthesized once (cdk-nag passes on every stack for this)."""
    from mlops_config.approved import load_approved_models

    approved = load_approved_models(REPO / "config" / "approved-models.example.json", default_config)
    outdir = tmp_path_factory.mktemp("cdk.out.release")
    app, stages = build_app(default_config, approved=approved, with_cicd=True, outdir=outdir)
    app.synth()
    return {"app": app, "stages": stages, "outdir": outdir}


@pytest.fixture(scope="session")
def cicd_app(default_config: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, Any], Any, Path]:
    """The shipped configuration with the release pipeline, built and synthesized once (cdk-nag runs on every stack).

    Returns the App, its stages, the cloud assembly and its output directory.
    """
    outdir = tmp_path_factory.mktemp("cicd.out")
    app, stages = build_app(default_config, with_cicd=True, outdir=outdir)
    return app, stages, app.synth(), outdir


def config_with_monitoring(change: Mapping[str, Mapping[str, Any]]) -> Any:
    """The shipped configuration with the sample model's ``monitoring`` section replaced per environment."""
    from mlops_config import parse_config

    raw = raw_default_config()
    for env, monitoring in change.items():
        raw["models"][0]["environments"][env]["monitoring"] = dict(monitoring)
    return parse_config(raw, source=Path("config/platform.yaml"))


MODEL_MONITOR = {"backend": "model_monitor", "bias": True, "explainability": True}


@pytest.fixture(scope="session")
def model_monitor_stage(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """prod alone, with ``backend: model_monitor`` and all four kinds (for accounts that still have Model Monitor),
    version 3 approved, synthesized once (cdk-nag runs)."""
    app, built = build_app(
        config_with_monitoring({"prod": MODEL_MONITOR}),
        approved={"prod": {"breast-cancer": APPROVED_PACKAGE}},
        environments=["prod"],
        outdir=tmp_path_factory.mktemp("cdk.out.mm"),
    )
    app.synth()
    return built["prod"]


# Session fixtures are built once per xdist worker that needs them, and a whole-app synth is the suite's largest
# cost. ``make test`` runs ``-n 2 --dist worksteal``: xdist hands each worker a contiguous half of the collection
# and an idle worker later steals from the *end* of the other's queue (xdist/scheduler/worksteal.py). So the
# collection is ordered: the tests of one group of apps first, then light tests up to the midpoint; the tests of
# the other apps, then the rest. Each app is then built by one worker, and what gets stolen is light. Order only:
# every test still runs, with the same fixtures.
WORKER_GROUPS: tuple[tuple[str, ...], ...] = (
    ("approved_app", "integ_snapshots"),
    ("release_app", "all_templates", "cicd_app", "default_app"),
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Order the collection for two workers (see above); the order is the same in every worker, as xdist needs."""
    groups: list[list[pytest.Item]] = [[] for _ in WORKER_GROUPS]
    light: list[pytest.Item] = []
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        index = next((i for i, group in enumerate(WORKER_GROUPS) if names & set(group)), None)
        (light if index is None else groups[index]).append(item)
    first, second = groups
    fill = max(0, len(items) // 2 - len(first))
    items[:] = [*first, *light[:fill], *second, *light[fill:]]
