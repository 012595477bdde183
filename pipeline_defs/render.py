"""Render a pipeline definition to canonical JSON, offline, cached by content.

Used at CDK synth: ``render_definition("pipeline_defs.training_pipeline:build_training_pipeline",
settings)``. The cache key is the sha256 of the settings, the sagemaker version and every
``.py`` under ``pipeline_defs/``; on a hit the sagemaker SDK is not imported at all
(importing it costs ~2 s, and synth time is benchmarked).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from pipeline_defs.settings import Placeholders

PIPELINE_DEFS_DIR = Path(__file__).resolve().parent
REPO_ROOT = PIPELINE_DEFS_DIR.parent
DEFAULT_CACHE_DIR = REPO_ROOT / ".pipeline-cache"
# Bump when the rendering itself (not the builders) changes shape.
_RENDER_FORMAT = "1"


class RenderSettings(Protocol):
    """What a builder's settings must offer to be rendered."""

    @property
    def region(self) -> str:
        """The AWS region the definition is rendered for (image URIs depend on it)."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """A stable, JSON-able view of the settings."""
        ...


Builder = Callable[[Any, Any], Any]


class BuilderPathError(ValueError):
    """A builder reference is not an importable ``module:function``."""


def resolve_builder(path: str) -> Builder:
    """Import ``package.module:function`` and return the function, or explain what is wrong."""
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr or ":" in attr:
        raise BuilderPathError(
            f"Pipeline builder {path!r} must look like 'package.module:function', "
            "e.g. 'pipeline_defs.training_pipeline:build_training_pipeline'."
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise BuilderPathError(f"Pipeline builder {path!r}: cannot import module {module_name!r} ({error}).") from error
    builder = getattr(module, attr, None)
    if builder is None or not callable(builder):
        raise BuilderPathError(f"Pipeline builder {path!r}: module {module_name!r} has no callable {attr!r}.")
    return builder  # type: ignore[no-any-return]


def _builder_id(builder: str | Builder) -> str:
    if isinstance(builder, str):
        return builder
    return f"{builder.__module__}:{builder.__qualname__}"


def sagemaker_version() -> str:
    """The installed sagemaker SDK version, read without importing the SDK."""
    return importlib.metadata.version("sagemaker")


def source_digest(root: Path = PIPELINE_DEFS_DIR) -> str:
    """sha256 over every ``.py`` under ``root`` (relative path and bytes, sorted by path)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py"), key=lambda p: p.relative_to(root).as_posix()):
        relative = path.relative_to(root).as_posix()
        if "__pycache__" in relative:
            continue
        data = path.read_bytes()
        digest.update(f"{relative}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def builder_source_digest(builder: str | Builder) -> str:
    """sha256 of the file that defines ``builder`` when it lives outside ``pipeline_defs/`` (a model's own module).

    Found without importing the module, so a cache hit stays cheap; pipeline_defs/ is covered by source_digest.
    """
    module_name = builder.partition(":")[0] if isinstance(builder, str) else builder.__module__
    try:
        spec = importlib.util.find_spec(module_name)
    except ImportError:
        spec = None
    if spec is None or not spec.origin or not Path(spec.origin).is_file():
        raise BuilderPathError(f"Pipeline builder {_builder_id(builder)!r}: cannot import module {module_name!r}.")
    origin = Path(spec.origin).resolve()
    if origin.is_relative_to(PIPELINE_DEFS_DIR.resolve()):
        return ""
    return hashlib.sha256(origin.read_bytes()).hexdigest()


def cache_key(builder: str | Builder, settings: RenderSettings, placeholders: frozenset[str] | None = None) -> str:
    """The content hash that names a rendered definition in the cache."""
    material = {
        "placeholders": sorted(_allowed(placeholders)),
        "format": _RENDER_FORMAT,
        "builder": _builder_id(builder),
        "builder_source": builder_source_digest(builder),
        "settings": settings.to_dict(),
        "sagemaker": sagemaker_version(),
        "sources": source_digest(),
    }
    encoded = json.dumps(material, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()


def canonical_json(definition: str, placeholders: frozenset[str] | None = None) -> str:
    """Sorted keys, compact separators and ``${!`` for literal ``${`` (see below).

    Fn::Sub reads every ``${X}`` as a variable; a ``${`` that is not one of our
    placeholders (or a pseudo parameter) must be written ``${!`` to stay literal.
    """
    text = json.dumps(json.loads(definition), sort_keys=True, separators=(",", ":"))
    return escape_for_fn_sub(text, placeholders)


def _allowed(placeholders: frozenset[str] | None) -> frozenset[str]:
    return (Placeholders.all() if placeholders is None else placeholders) | Placeholders.PSEUDO_PARAMETERS


def escape_for_fn_sub(text: str, placeholders: frozenset[str] | None = None) -> str:
    """Escape every ``${`` that does not open one of ``placeholders`` (default: the training pipeline's) as ``${!``."""
    allowed = _allowed(placeholders)
    out: list[str] = []
    index = 0
    while True:
        found = text.find("${", index)
        if found < 0:
            out.append(text[index:])
            return "".join(out)
        out.append(text[index:found])
        end = text.find("}", found)
        name = text[found + 2 : end] if end >= 0 else None
        out.append("${" if name in allowed else "${!")
        index = found + 2


def _read_cache(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8")
        json.loads(text)  # a truncated or corrupt entry is a miss, never an error
    except (OSError, ValueError):
        return None
    return text


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        Path(temp).replace(path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _quiet_sdk() -> Iterator[None]:
    """Keep the SDK's expected chatter out of synth output.

    At import the SDK logs at INFO/DEBUG through the root logger, and ``definition()`` warns about fields it
    pops on purpose (job names SageMaker sets per execution). None of it is actionable at synth; errors still
    surface as exceptions.
    """
    # The SDK sets its loggers' levels while it is imported, inside this block, so a level set here first would
    # be overwritten: disable records up to WARNING process-wide for the duration instead.
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"sagemaker(\..*)?")
            yield
    finally:
        logging.disable(previous)


def build_definition(
    builder: str | Builder, settings: RenderSettings, placeholders: frozenset[str] | None = None
) -> str:
    """Build the definition with an offline session (imports the sagemaker SDK)."""
    # Imported here, not at the top: a cache hit must not pay for the SDK.
    from pipeline_defs.offline import offline_session, prepare_environment, shared_clients

    with _quiet_sdk(), shared_clients():
        # Before resolve_builder: a builder module may import sagemaker at module level.
        prepare_environment(settings.region)
        function = resolve_builder(builder) if isinstance(builder, str) else builder
        session = offline_session(settings.region, default_bucket=Placeholders.ref(Placeholders.ARTIFACT_BUCKET))
        return canonical_json(function(settings, session).definition(), placeholders)


def render_definition(
    builder: str | Builder,
    settings: RenderSettings,
    cache_dir: Path | str | None = DEFAULT_CACHE_DIR,
    *,
    placeholders: frozenset[str] | None = None,
) -> str:
    """Canonical JSON of the pipeline ``builder`` makes from ``settings``.

    ``builder`` is ``"module:function"`` (so a model's config can point at its own
    module) or the function itself. ``cache_dir=None`` disables the cache. ``placeholders``
    are the ``${Name}`` variables the definition may hold for ``Fn::Sub`` (default: the
    training pipeline's, :meth:`Placeholders.all`); any other ``${`` is escaped.
    """
    if isinstance(builder, str):
        # Fail on a bad path before any cache lookup, without importing the module yet.
        module_name, sep, attr = builder.partition(":")
        if not sep or not module_name or not attr or ":" in attr:
            resolve_builder(builder)
    if cache_dir is None:
        return build_definition(builder, settings, placeholders)
    path = Path(cache_dir) / f"{cache_key(builder, settings, placeholders)}.json"
    cached = _read_cache(path)
    if cached is not None:
        return cached
    rendered = build_definition(builder, settings, placeholders)
    _write_atomic(path, rendered)
    return rendered
