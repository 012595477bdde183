"""Load the configuration file into a frozen ``PlatformConfig``, or fail with one readable message per mistake."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from mlops_config.platform import PlatformConfig


class ConfigError(Exception):
    """A configuration mistake, already phrased for the person who made it (file, field path, value, allowed)."""


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(top level)"


def _describe(error: Any) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] in ("missing",):
        return "is required but missing"
    if error["type"] == "extra_forbidden":
        return "is not a known key"
    value = error.get("input")
    if error["type"].startswith(("literal_", "greater_", "less_", "too_", "int_", "float_", "string_", "bool_")):
        return f"{value!r}: {message}"
    return message


def format_validation_error(path: Path, error: ValidationError) -> str:
    """One line per mistake: ``<file>: <field path>: <what is wrong and what is allowed>``."""
    # Cross-field checks on the whole file already start their message with the field path they concern.
    lines = [
        f"{path}: {_field_path(tuple(e['loc']))}: {_describe(e)}" if e["loc"] else f"{path}: {_describe(e)}"
        for e in error.errors()
    ]
    return "invalid configuration\n  " + "\n  ".join(lines)


def parse_config(raw: Any, *, source: Path) -> PlatformConfig:
    """Validate already-parsed YAML; ``source`` names the file in errors."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: (top level): expected a mapping of settings, got {type(raw).__name__}")
    try:
        return PlatformConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(format_validation_error(source, error)) from None


def load_config(path: Path | str) -> PlatformConfig:
    """Read and validate the YAML configuration at ``path``."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{source}: cannot read the configuration: {error.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{source}: not valid YAML: {error}") from None
    return parse_config(raw, source=source)
