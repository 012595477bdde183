"""Shared building blocks of the configuration schema: a strict frozen base model and reusable field types."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from mlops_config.catalog import InstanceKind, instance_types, regions


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
                raise ValueError(
                    f"unknown key(s) {', '.join(repr(k) for k in unknown)}; allowed keys: {', '.join(sorted(allowed))}"
                )
        return data


_SLUG = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")


def _slug(max_length: int) -> AfterValidator:
    def check(value: str) -> str:
        if len(value) > max_length or not _SLUG.match(value) or "--" in value:
            raise ValueError(
                f"{value!r} is not a valid name; allowed: 2-{max_length} characters of lowercase letters, "
                "digits and single hyphens, starting with a letter and not ending with a hyphen"
            )
        return value

    return AfterValidator(check)


def _account(value: str) -> str:
    if not re.fullmatch(r"\d{12}", value):
        raise ValueError(f"{value!r} is not an AWS account ID; allowed: exactly 12 digits, quoted in YAML")
    return value


def _region(value: str) -> str:
    if value not in regions():
        raise ValueError(f"{value!r} is not an AWS region with SageMaker; allowed: {', '.join(sorted(regions()))}")
    return value


def _instance_type(kind: InstanceKind) -> AfterValidator:
    def check(value: str) -> str:
        allowed = instance_types(kind)
        if value not in allowed:
            examples = ", ".join(sorted(t for t in allowed if t.startswith(("ml.m5.", "ml.c5.")))[:6])
            raise ValueError(
                f"{value!r} is not a SageMaker {kind} instance type; allowed: one of the {len(allowed)} "
                f"ml.* types SageMaker accepts for {kind} (e.g. {examples})"
            )
        return value

    return AfterValidator(check)


def _s3_prefix(value: str) -> str:
    if value.startswith("/") or not value.endswith("/") or "//" in value or not value.strip("/"):
        raise ValueError(
            f"{value!r} is not an S3 key prefix; allowed: a relative prefix like 'my-model/training/' "
            "(no leading slash, ending with '/')"
        )
    if not re.fullmatch(r"[A-Za-z0-9!_.*'()/-]+", value):
        raise ValueError(
            f"{value!r} has characters that need URL-encoding; allowed: letters, digits, / ! _ . * ' ( ) -"
        )
    return value


_SCHEDULE = re.compile(r"^(cron\(\S+ \S+ \S+ \S+ \S+ \S+\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\))$")


def _schedule(value: str) -> str:
    if not _SCHEDULE.match(value):
        raise ValueError(
            f"{value!r} is not a schedule expression; allowed: 'cron(min hour day month weekday year)' "
            "with six fields, or 'rate(N minutes|hours|days)'"
        )
    return value


def _iso_duration(value: str) -> str:
    if not re.fullmatch(r"P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?", value):
        raise ValueError(f"{value!r} is not an ISO 8601 duration; allowed: e.g. 'P30D', 'PT12H'")
    return value


def _email(value: str) -> str:
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}", value):
        raise ValueError(f"{value!r} is not an e-mail address; allowed: name@example.com")
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
ScheduleExpression = Annotated[str, AfterValidator(_schedule)]
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
