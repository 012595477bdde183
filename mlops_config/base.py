"""Shared building blocks of the configuration schema: a strict frozen base model and reusable field types."""

from __future__ import annotations

import re
import reprlib
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from mlops_config.catalog import InstanceKind, instance_types, regions
from mlops_config.schedule import check_schedule_expression


class Settings(BaseModel):
    """Base of every configuration section: frozen, and unknown keys are an error that lists the allowed ones."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            allowed = set(cls.model_fields)
            unknown = sorted(str(key) for key in data if key not in allowed)
            if unknown:
                listed = ", ".join(shown(key) for key in unknown[:5]) + (
                    f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
                )
                raise ValueError(f"unknown key(s) {listed}; allowed keys: {', '.join(sorted(allowed))}")
        return data


SHOWN_MAX = 120
"""Longest excerpt of a bad value an error message quotes: a mistake is one readable line, never a dump."""


_REPR = reprlib.Repr()
_REPR.maxlevel = 2
_REPR.maxdict = _REPR.maxlist = _REPR.maxtuple = _REPR.maxset = 3
_REPR.maxstring = _REPR.maxother = SHOWN_MAX


def shown(value: Any, limit: int = SHOWN_MAX) -> str:
    """``repr(value)`` cut to about ``limit`` characters (``reprlib`` never walks a deep or huge value)."""
    text = _REPR.repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def ascii_fullmatch(pattern: str | re.Pattern[str], value: str) -> bool:
    """Whether all of ``value`` matches ``pattern`` with ASCII classes.

    ``re.match`` with ``$`` accepts a trailing newline, and without ``re.ASCII`` the classes ``\\d`` and ``\\w``
    accept Arabic-Indic digits and other letters; AWS identifiers are ASCII, so every identifier check uses this.
    """
    compiled = pattern if isinstance(pattern, re.Pattern) else re.compile(pattern, re.ASCII)
    return value.isascii() and compiled.fullmatch(value) is not None


_SLUG = re.compile(r"[a-z][a-z0-9-]*[a-z0-9]", re.ASCII)


def _slug(max_length: int) -> AfterValidator:
    def check(value: str) -> str:
        if len(value) > max_length or not ascii_fullmatch(_SLUG, value) or "--" in value:
            raise ValueError(
                f"{shown(value)} is not a valid name; allowed: 2-{max_length} characters of lowercase letters, "
                "digits and single hyphens, starting with a letter and not ending with a hyphen"
            )
        return value

    return AfterValidator(check)


def _account(value: str) -> str:
    if not ascii_fullmatch(r"[0-9]{12}", value):
        raise ValueError(f"{shown(value)} is not an AWS account ID; allowed: exactly 12 digits, quoted in YAML")
    return value


def _region(value: str) -> str:
    if value not in regions():
        raise ValueError(f"{shown(value)} is not an AWS region with SageMaker; allowed: {', '.join(sorted(regions()))}")
    return value


_EXAMPLE_INSTANCE_TYPES = ("ml.m5.large", "ml.m5.xlarge", "ml.c5.large", "ml.c5.xlarge", "ml.t3.medium")


def _instance_type(kind: InstanceKind) -> AfterValidator:
    def check(value: str) -> str:
        allowed = instance_types(kind)
        if value not in allowed:
            examples = ", ".join(t for t in _EXAMPLE_INSTANCE_TYPES if t in allowed)
            raise ValueError(
                f"{shown(value)} is not a SageMaker {kind} instance type; allowed: one of the {len(allowed)} "
                f"ml.* types SageMaker accepts for {kind} (e.g. {examples})"
            )
        return value

    return AfterValidator(check)


def _s3_prefix(value: str) -> str:
    if value.startswith("/") or not value.endswith("/") or "//" in value or not value.strip("/"):
        raise ValueError(
            f"{shown(value)} is not an S3 key prefix; allowed: a relative prefix like 'my-model/training/' "
            "(no leading slash, ending with '/')"
        )
    if not ascii_fullmatch(r"[A-Za-z0-9!_.*'()/-]+", value) or len(value) > 1024:
        raise ValueError(
            f"{shown(value)} has characters that need URL-encoding; allowed: letters, digits, / ! _ . * ' ( ) -"
        )
    return value


def _iso_duration(value: str) -> str:
    if not ascii_fullmatch(
        r"P(?=[0-9]|T[0-9])([0-9]+Y)?([0-9]+M)?([0-9]+W)?([0-9]+D)?(T(?=[0-9])([0-9]+H)?([0-9]+M)?([0-9]+S)?)?", value
    ):
        raise ValueError(f"{shown(value)} is not an ISO 8601 duration; allowed: e.g. 'P30D', 'PT12H'")
    return value


def _email(value: str) -> str:
    if len(value) > 254 or not ascii_fullmatch(r"[!-?A-~]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", value):
        raise ValueError(f"{shown(value)} is not an e-mail address; allowed: name@example.com")
    return value


EnvironmentName = Annotated[str, _slug(12)]
ModelName = Annotated[str, _slug(24)]
ProjectName = Annotated[str, _slug(12)]
AccountId = Annotated[str, AfterValidator(_account)]
Region = Annotated[str, AfterValidator(_region)]
EndpointInstanceType = Annotated[str, _instance_type("endpoint")]
TrainingInstanceType = Annotated[str, _instance_type("training")]
ProcessingInstanceType = Annotated[str, _instance_type("processing")]
TransformInstanceType = Annotated[str, _instance_type("transform")]
S3Prefix = Annotated[str, AfterValidator(_s3_prefix)]
ScheduleExpression = Annotated[str, AfterValidator(check_schedule_expression)]
IsoDuration = Annotated[str, AfterValidator(_iso_duration)]
Email = Annotated[str, AfterValidator(_email)]
InstanceCount = Annotated[int, Field(ge=1, le=100)]
Percent = Annotated[float, Field(gt=0, le=100)]

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


def _log_retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(
            f"{value} is not a CloudWatch Logs retention period; allowed days: "
            f"{', '.join(str(d) for d in LOG_RETENTION_DAYS)}"
        )
    return value


LogRetentionDays = Annotated[int, AfterValidator(_log_retention)]
