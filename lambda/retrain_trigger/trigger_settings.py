"""The retrain trigger's configuration: its environment variables, validated at cold start into ``Settings``."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_PIPELINE_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$")
_PARAMETER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(ValueError):
    """The function's environment variables are missing or invalid (raised at cold start)."""


@dataclass(frozen=True)
class Settings:
    """Validated configuration of one function (one model in one environment)."""

    pipeline_name: str
    model_name: str
    environment_name: str
    expected_account: str
    expected_region: str
    alarm_names: frozenset[str]
    data_bucket: str
    data_prefix: str
    min_new_objects: int
    min_new_bytes: int
    cooldown: timedelta
    daily_cap: int
    trigger_parameter_name: str = "TriggerReason"
    service_name: str = "retrain-trigger"
    log_level: str = "INFO"
    max_event_bytes: int = 65536
    history_lookback: timedelta = timedelta(hours=168)
    max_listed_objects: int = 100_000
    # Other (account, region) pairs whose alarm state changes are forwarded to this bus: drift alarms of serving
    # environments in other accounts. S3 and schedule events must still come from this account and region.
    alarm_sources: frozenset[tuple[str, str]] = frozenset()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Read and validate the environment; raise ``ConfigError`` naming every bad variable."""
        reader = _EnvReader(env)
        settings = cls(
            pipeline_name=reader.pattern("PIPELINE_NAME", _PIPELINE_NAME, "a SageMaker pipeline name"),
            model_name=reader.pattern("MODEL_NAME", _NAME, "1-64 of [A-Za-z0-9._-]"),
            environment_name=reader.pattern("ENVIRONMENT_NAME", _NAME, "1-64 of [A-Za-z0-9._-]"),
            expected_account=reader.pattern("EXPECTED_ACCOUNT", _ACCOUNT, "a 12-digit account id"),
            expected_region=reader.pattern("EXPECTED_REGION", _REGION, "a region such as eu-west-1"),
            alarm_names=reader.alarm_names("ALARM_NAMES"),
            data_bucket=reader.pattern("DATA_BUCKET", _BUCKET, "an S3 bucket name"),
            data_prefix=reader.prefix("DATA_PREFIX"),
            min_new_objects=reader.integer("MIN_NEW_OBJECTS", 0, 10_000_000),
            min_new_bytes=reader.integer("MIN_NEW_BYTES", 0, 2**53),
            cooldown=timedelta(minutes=reader.integer("COOLDOWN_MINUTES", 0, 10_080)),
            daily_cap=reader.integer("DAILY_CAP", 1, 100),
            trigger_parameter_name=reader.pattern(
                "TRIGGER_PARAMETER_NAME",
                _PARAMETER_NAME,
                "1-256 of [A-Za-z0-9_-]",
                "TriggerReason",
            ),
            service_name=reader.pattern(
                "POWERTOOLS_SERVICE_NAME",
                re.compile(r"^\S{1,128}$"),
                "a non-empty name",
            ),
            log_level=reader.choice("LOG_LEVEL", _LOG_LEVELS, "INFO"),
            max_event_bytes=reader.integer("MAX_EVENT_BYTES", 1024, 1_048_576, 65536),
            history_lookback=timedelta(hours=reader.integer("HISTORY_LOOKBACK_HOURS", 24, 24 * 90, 168)),
            max_listed_objects=reader.integer("MAX_LISTED_OBJECTS", 1000, 10_000_000, 100_000),
            alarm_sources=reader.alarm_sources("ALARM_SOURCES"),
        )
        if (
            "MIN_NEW_OBJECTS" not in reader.errors
            and "MIN_NEW_BYTES" not in reader.errors
            and settings.min_new_objects == 0
            and settings.min_new_bytes == 0
        ):
            reader.fail("MIN_NEW_OBJECTS", "and MIN_NEW_BYTES are both 0; set at least one > 0")
        if reader.errors:
            problems = "; ".join(reader.errors.values())
            raise ConfigError(f"invalid retrain-trigger configuration: {problems}")
        if settings.cooldown > settings.history_lookback:
            raise ConfigError(
                "invalid retrain-trigger configuration: COOLDOWN_MINUTES must not exceed "
                "HISTORY_LOOKBACK_HOURS, or the last start could be missed"
            )
        return settings


class _EnvReader:
    """Collects every configuration problem instead of stopping at the first."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self.errors: dict[str, str] = {}

    def fail(self, name: str, problem: str) -> None:
        joiner = "" if problem.startswith("=") else " "
        self.errors.setdefault(name, f"{name}{joiner}{problem}")

    def _raw(self, name: str, default: str | None) -> str | None:
        value = self._env.get(name)
        if value is None or value.strip() == "":
            if default is None:
                self.fail(name, "is missing")
            return default
        return value.strip()

    def pattern(
        self,
        name: str,
        regex: re.Pattern[str],
        allowed: str,
        default: str | None = None,
    ) -> str:
        value = self._raw(name, default)
        if value is None:
            return ""
        if not regex.fullmatch(value):
            self.fail(name, f"={value[:80]!r} is invalid (expected {allowed})")
        return value

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = (self._raw(name, default) or default).upper()
        if value not in allowed:
            self.fail(
                name,
                f"={value[:80]!r} is invalid (expected one of {', '.join(allowed)})",
            )
        return value

    def integer(self, name: str, low: int, high: int, default: int | None = None) -> int:
        raw = self._raw(name, None if default is None else str(default))
        if raw is None:
            return 0
        try:
            value = int(raw, 10)
        except ValueError:
            self.fail(name, f"={raw[:80]!r} is not an integer (expected {low}..{high})")
            return 0
        if not low <= value <= high:
            self.fail(name, f"={value} is out of range (expected {low}..{high})")
        return value

    def prefix(self, name: str) -> str:
        value = self._raw(name, None)
        if value is None:
            return ""
        if value.startswith("/") or not value.endswith("/") or len(value) > 512:
            self.fail(
                name,
                f"={value[:80]!r} is invalid (expected 'some/prefix/': no leading /, trailing /)",
            )
        return value

    def alarm_names(self, name: str) -> frozenset[str]:
        raw = self._raw(name, None)
        if raw is None:
            return frozenset()
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        if not isinstance(parsed, list) or not all(isinstance(item, str) and 0 < len(item) <= 255 for item in parsed):
            self.fail(name, f"={raw[:80]!r} is invalid (expected a JSON list of alarm names)")
            return frozenset()
        return frozenset(parsed)

    def alarm_sources(self, name: str) -> frozenset[tuple[str, str]]:
        raw = self._raw(name, "[]")
        try:
            parsed = json.loads(raw or "[]")
        except ValueError:
            parsed = None
        pairs = [item.split(":") for item in parsed if isinstance(item, str)] if isinstance(parsed, list) else []
        if (
            not isinstance(parsed, list)
            or len(pairs) != len(parsed)
            or not all(len(p) == 2 and _ACCOUNT.fullmatch(p[0]) and _REGION.fullmatch(p[1]) for p in pairs)
        ):
            self.fail(name, f'={(raw or "")[:80]!r} is invalid (expected a JSON list of "<account>:<region>")')
            return frozenset()
        return frozenset((account, region) for account, region in pairs)
