"""What kind of model a model is: its problem type, the metric that gates registration, and its container images.

A model's problem type decides which quality metrics its evaluation writes, which one gates registration, what
the drift monitor computes from ground truth and which alarms exist (``METRICS``). Its images say what trains,
processes and serves it: an AWS framework image, named by framework and version and resolved offline from the
sagemaker SDK's bundled image registry (the JSON files ``image_uris.retrieve`` reads), or the team's own ECR image.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from mlops_config.base import Settings, ascii_fullmatch, shown

ProblemType = Literal["binary_classification", "multiclass_classification", "regression"]
QualityMetric = Literal["auc", "accuracy", "f1", "rmse", "mae", "r2"]

METRICS: dict[str, tuple[QualityMetric, ...]] = {
    # Every metric a model of the type reports (evaluation report, drift monitor, alarms); the first is the default
    # gate of the types that have one.
    "binary_classification": ("auc", "accuracy", "f1"),
    # F1 is macro-averaged over the classes: a rare class counts as much as a common one.
    "multiclass_classification": ("accuracy", "f1"),
    "regression": ("rmse", "mae", "r2"),
}
LOWER_IS_BETTER: frozenset[str] = frozenset({"rmse", "mae"})
"""Error metrics: the gate passes at or below the threshold; every other metric passes at or above it."""

_BOUNDED = frozenset({"auc", "accuracy", "f1"})


class QualityGate(Settings):
    """Register a newly trained model only if ``metric`` on the test split meets ``threshold``.

    ``auc``, ``accuracy``, ``f1`` and ``r2`` pass at or above the threshold; ``rmse`` and ``mae`` (errors, in the
    target's own unit) at or below it.
    """

    metric: QualityMetric
    threshold: float = Field(allow_inf_nan=False)

    @model_validator(mode="after")
    def _threshold_in_range(self) -> QualityGate:
        if self.metric in _BOUNDED and not 0 < self.threshold <= 1:
            raise ValueError(
                f"threshold {self.threshold} is outside {self.metric}'s range; allowed: 0 < threshold <= 1"
            )
        if self.metric == "r2" and not self.threshold <= 1:
            raise ValueError(f"threshold {self.threshold} can never be met by r2; allowed: at most 1")
        if self.metric in LOWER_IS_BETTER and not self.threshold > 0:
            raise ValueError(f"threshold {self.threshold} can never be met by {self.metric}; allowed: greater than 0")
        return self

    @property
    def lower_is_better(self) -> bool:
        """Whether the gate passes at or below the threshold (error metrics)."""
        return self.metric in LOWER_IS_BETTER


DEFAULT_GATES: dict[str, QualityGate] = {
    # The sample model's bar; the other types have no meaningful default and must say theirs.
    "binary_classification": QualityGate(metric="auc", threshold=0.9),
}


def gate_for(problem_type: str, gate: QualityGate | None) -> QualityGate:
    """The gate a model of ``problem_type`` is registered by: its own, or the type's default."""
    chosen = gate or DEFAULT_GATES.get(problem_type)
    if chosen is None:
        raise ValueError(f"training.quality_gate is required for {problem_type} models (no default gate)")
    return chosen


# --- Images -----------------------------------------------------------------------------------------------

ImageScope = Literal["inference", "training"]
FRAMEWORKS = ("xgboost", "sklearn", "pytorch", "tensorflow")
"""AWS framework images a model may name; their registry entries share one shape (account per region, repository)."""

# <account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>(:<tag>|@sha256:<digest>): ECR's repository names
# ("Creating a private repository": lowercase, digits, '.', '_', '-', '/' namespaces) and Docker's tag grammar.
_ECR_URI = re.compile(
    r"(?P<account>[0-9]{12})\.dkr\.ecr\.(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9])\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repository>[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})|@(?P<digest>sha256:[0-9a-f]{64}))",
    re.ASCII,
)


@dataclass(frozen=True)
class ImageRepository:
    """Where an image lives: the ECR repository a role must be allowed to pull, and the image within it.

    ``reference`` is the tag or digest of a user image, ``None`` for an AWS framework image (whose tag the SDK
    composes when a pipeline is rendered).
    """

    account: str
    region: str
    repository: str
    reference: str | None = None

    @property
    def uri(self) -> str:
        """The image URI (user images only: a framework image's tag is the SDK's to compose)."""
        if self.reference is None:
            raise ValueError(f"{self.repository}: a framework image's URI comes from the SDK's image_uris")
        separator = "@" if self.reference.startswith("sha256:") else ":"
        return f"{self.account}.dkr.ecr.{self.region}.amazonaws.com/{self.repository}{separator}{self.reference}"


@cache
def _registry(framework: str) -> dict[str, Any]:
    spec = find_spec("sagemaker")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the sagemaker SDK is not installed; it provides the framework image registry")
    path = Path(next(iter(spec.submodule_search_locations))) / "core" / "image_uri_config" / f"{framework}.json"
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def framework_versions(framework: str, scope: ImageScope) -> tuple[str, ...]:
    """The versions of ``framework``'s ``scope`` images the SDK's registry lists (aliases included)."""
    section = _registry(framework).get(scope, {})
    return (*section.get("versions", {}), *section.get("version_aliases", {}))


def framework_repository(framework: str, version: str, scope: ImageScope, region: str) -> ImageRepository:
    """The AWS-owned repository serving ``framework`` ``version`` in ``region`` (``ValueError`` when none)."""
    section = _registry(framework).get(scope, {})
    version = section.get("version_aliases", {}).get(version, version)
    entry = section.get("versions", {}).get(version)
    if entry is None:
        raise ValueError(
            f"{framework} has no {scope} image version {shown(version)}; allowed: "
            f"{', '.join(framework_versions(framework, scope))}"
        )
    if "registries" not in entry:
        # A few old entries are split by Python version ({"py2": {...}, "py3": {...}}), which the SDK picks with a
        # py_version argument (sagemaker/core/image_uris.py: `version_config.get(py_version) or version_config`);
        # an image here names no Python version, so such an entry has no image this platform can resolve.
        raise ValueError(
            f"{framework} {version}'s {scope} images are listed per Python version ({', '.join(entry)}), which an "
            f"image setting cannot name; allowed: a version with one {scope} image per Region"
        )
    registries = entry["registries"]
    if region not in registries:
        raise ValueError(f"{framework} {version} has no {scope} image in region {region}")
    return ImageRepository(account=str(registries[region]), region=region, repository=str(entry["repository"]))


class ImageSettings(Settings):
    """One container image: ``{framework, version}`` (an AWS framework image) or ``{uri}`` (your own ECR image).

    A user image is pinned by digest (``...@sha256:<64 hex>``, recommended: a tag can be moved to other bytes
    after the model was approved) or by tag. It is pulled from its own account and region at run time, so each
    environment's account must be allowed to pull it (ECR repository policy, or replicate the repository into
    every environment and give each environment's URI; docs/bring-your-own-model.md).
    """

    framework: Literal["xgboost", "sklearn", "pytorch", "tensorflow"] | None = None
    version: str | None = Field(default=None, min_length=1, max_length=32)
    uri: str | None = Field(default=None, max_length=512)

    @model_validator(mode="after")
    def _one_kind(self) -> ImageSettings:
        if self.uri is not None:
            if self.framework is not None or self.version is not None:
                raise ValueError("give either uri or framework and version, not both")
            if not ascii_fullmatch(_ECR_URI, self.uri):
                raise ValueError(
                    f"uri {shown(self.uri)} is not an ECR image URI; allowed: "
                    "<account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<64 hex digits> (or :<tag>)"
                )
        elif self.framework is None or self.version is None:
            raise ValueError(
                f"an image needs framework and version (framework allowed: {', '.join(FRAMEWORKS)}) or uri"
            )
        return self

    def repository(self, scope: ImageScope, region: str) -> ImageRepository:
        """The repository this image is pulled from when used for ``scope`` in ``region``."""
        if self.uri is not None:
            match = _ECR_URI.fullmatch(self.uri)
            assert match is not None  # checked at validation
            return ImageRepository(
                account=match["account"],
                region=match["region"],
                repository=match["repository"],
                reference=match["tag"] or match["digest"],
            )
        assert self.framework is not None and self.version is not None  # checked at validation
        return framework_repository(self.framework, self.version, scope, region)


XGBOOST_IMAGE = ImageSettings(framework="xgboost", version="1.7-1")


class ModelImages(Settings):
    """What trains, processes and serves a model.

    ``training`` and ``serving`` default to the AWS XGBoost 1.7-1 image (the sample model's); ``processing``
    defaults to none, which leaves each processing step in the image its pipeline builder chose for it.
    """

    training: ImageSettings = XGBOOST_IMAGE
    processing: ImageSettings | None = None
    serving: ImageSettings = XGBOOST_IMAGE
