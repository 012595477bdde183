"""One batch run per arrival window: drain the new-data queue, write a manifest of the new keys, start once.

Kept free of Lambda and Powertools so it can be driven directly with injected AWS clients and a logger.

Contract (docs/serving.md, "Batch inference"):
- The queue holds S3 "Object Created" EventBridge events (EventBridge -> SQS) for the batch input prefix.
- One invocation drains what is visible now (up to ``max_keys`` distinct keys), rejects malformed or foreign
  events (logged with an excerpt, then deleted), de-duplicates keys (S3 and EventBridge deliver at least once),
  writes a manifest in the format CreateTransformJob's ``S3DataType=ManifestFile`` reads (API reference,
  "TransformS3DataSource": ``[{"prefix": "s3://bucket/prefix/"}, "relative/key", ...]``) and starts ONE
  execution of the batch pipeline with it. An empty window starts nothing.
- Nothing is half-acted on: the events are deleted only after the execution started. If writing the manifest or
  starting fails, the messages become visible again after the queue's visibility timeout and the next window
  retries them (the queue moves a message that keeps failing to its dead-letter queue). The manifest name and
  the start's ClientRequestToken derive from the manifest's content, so a retry of the same window neither
  writes a second manifest nor starts a second execution.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

S3_SOURCE: Final = "aws.s3"
OBJECT_CREATED: Final = "Object Created"
# SQS ReceiveMessage returns at most 10 messages per call; DeleteMessageBatch takes at most 10 entries.
SQS_BATCH: Final = 10
EXCERPT_MAX: Final = 512
# StartPipelineExecution limits.
DISPLAY_NAME_MAX: Final = 82
PARAMETER_VALUE_MAX: Final = 1024

_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()/-]+/$")
_PIPELINE_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$")
_QUEUE_URL = re.compile(r"^https://sqs\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/\d{12}/[A-Za-z0-9_-]{1,80}$")
_LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(ValueError):
    """The function's environment variables are missing or invalid (raised at cold start)."""


class EventRejectedError(ValueError):
    """A queued event this function must not act on; ``code`` is stable for log queries."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class Logger(Protocol):
    """What the logic needs from a logger (Powertools ``Logger`` and ``logging.Logger`` fit)."""

    def info(self, msg: object, *, extra: Mapping[str, object] | None = ...) -> None: ...

    def warning(self, msg: object, *, extra: Mapping[str, object] | None = ...) -> None: ...

    def error(self, msg: object, *, extra: Mapping[str, object] | None = ...) -> None: ...


@dataclass(frozen=True)
class Settings:
    """The function's configuration, from the environment variables the CDK construct sets."""

    queue_url: str
    pipeline_name: str
    data_bucket: str
    input_prefix: str
    manifest_prefix: str
    expected_account: str
    expected_region: str
    input_parameter: str = "InputDataUri"
    input_type_parameter: str = "InputDataType"
    trigger_parameter: str = "TriggerReason"
    max_keys: int = 10000
    receive_wait_seconds: int = 1
    visibility_timeout_seconds: int = 900
    service_name: str = "batch-window"
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Read and validate the settings; ``ConfigError`` names every bad variable."""
        errors: list[str] = []

        def text(name: str, pattern: re.Pattern[str], default: str | None = None) -> str:
            value = env.get(name, default)
            if value is None:
                errors.append(f"{name} is required")
                return ""
            if not pattern.match(value):
                errors.append(f"{name}={value!r} is malformed")
            return value

        def number(name: str, default: int, low: int, high: int) -> int:
            raw = env.get(name, str(default))
            try:
                value = int(raw)
            except ValueError:
                errors.append(f"{name}={raw!r} is not an integer")
                return default
            if not low <= value <= high:
                errors.append(f"{name}={value} is outside {low}-{high}")
            return value

        settings = cls(
            queue_url=text("QUEUE_URL", _QUEUE_URL),
            pipeline_name=text("PIPELINE_NAME", _PIPELINE_NAME),
            data_bucket=text("DATA_BUCKET", _BUCKET),
            input_prefix=text("INPUT_PREFIX", _PREFIX),
            manifest_prefix=text("MANIFEST_PREFIX", _PREFIX),
            expected_account=text("EXPECTED_ACCOUNT", _ACCOUNT),
            expected_region=text("EXPECTED_REGION", _REGION),
            max_keys=number("MAX_KEYS", 10000, 1, 100000),
            receive_wait_seconds=number("RECEIVE_WAIT_SECONDS", 1, 0, 20),
            visibility_timeout_seconds=number("VISIBILITY_TIMEOUT_SECONDS", 900, 30, 43200),
            service_name=env.get("POWERTOOLS_SERVICE_NAME", "batch-window"),
            log_level=env.get("LOG_LEVEL", "INFO").upper(),
        )
        if settings.log_level not in _LOG_LEVELS:
            errors.append(f"LOG_LEVEL={settings.log_level!r}; allowed: {', '.join(_LOG_LEVELS)}")
        prefixes = (settings.input_prefix, settings.manifest_prefix)
        if all(prefixes) and (prefixes[0].startswith(prefixes[1]) or prefixes[1].startswith(prefixes[0])):
            errors.append("INPUT_PREFIX/MANIFEST_PREFIX overlap: a manifest would count as new data")
        if errors:
            raise ConfigError("invalid batch-window configuration: " + "; ".join(errors))
        return settings


@dataclass(frozen=True)
class AwsClients:
    """The boto3 clients the logic calls."""

    sqs: Any
    s3: Any
    sagemaker: Any


@dataclass(frozen=True)
class QueuedMessage:
    """One received SQS message."""

    message_id: str
    receipt_handle: str
    body: str


@dataclass
class Window:
    """What one drain found: the new keys (each with the messages that named it) and the rejected messages."""

    keys: dict[str, list[QueuedMessage]] = field(default_factory=dict)
    rejected: list[tuple[QueuedMessage, EventRejectedError]] = field(default_factory=list)
    duplicates: int = 0

    @property
    def accepted(self) -> list[QueuedMessage]:
        """Every message that named an accepted key (duplicates included)."""
        return [message for messages in self.keys.values() for message in messages]


@dataclass(frozen=True)
class Outcome:
    """What one invocation did (returned by the handler, logged as one line)."""

    status: str
    new_keys: int = 0
    duplicates: int = 0
    rejected: int = 0
    manifest_uri: str = ""
    execution_arn: str = ""

    def as_result(self) -> dict[str, Any]:
        """The handler's return value."""
        return {key: value for key, value in self.__dict__.items() if value not in ("", None)}


def safe_excerpt(text: str, limit: int = EXCERPT_MAX) -> str:
    """A log-safe excerpt: bounded, control characters escaped."""
    return json.dumps(text[:limit])[1:-1]


def parse_object_key(body: str, settings: Settings) -> str:
    """The new object's key from one queued EventBridge event, or ``EventRejectedError``.

    The event is what Amazon S3 sends to EventBridge (S3 user guide, "EventBridge event message structure"):
    ``source`` aws.s3, ``detail-type`` Object Created, ``detail.bucket.name``, ``detail.object.key``/``size``.
    """
    try:
        event = json.loads(body)
    except ValueError:
        raise EventRejectedError("not-json", "message body is not JSON") from None
    if not isinstance(event, dict):
        raise EventRejectedError("not-an-object", f"event is a {type(event).__name__}, not a JSON object")
    if event.get("source") != S3_SOURCE or event.get("detail-type") != OBJECT_CREATED:
        raise EventRejectedError(
            "wrong-event", f"source={event.get('source')!r} detail-type={event.get('detail-type')!r}"
        )
    if event.get("account") != settings.expected_account or event.get("region") != settings.expected_region:
        raise EventRejectedError("wrong-origin", f"account={event.get('account')!r} region={event.get('region')!r}")
    detail = event.get("detail")
    bucket = detail.get("bucket") if isinstance(detail, dict) else None
    obj = detail.get("object") if isinstance(detail, dict) else None
    if not isinstance(bucket, dict) or not isinstance(obj, dict):
        raise EventRejectedError("bad-field", "detail.bucket and detail.object must be objects")
    if bucket.get("name") != settings.data_bucket:
        raise EventRejectedError("wrong-bucket", f"detail.bucket.name={bucket.get('name')!r}")
    key = obj.get("key")
    if not isinstance(key, str) or not key:
        raise EventRejectedError("bad-field", "detail.object.key must be a non-empty string")
    if not key.startswith(settings.input_prefix) or key == settings.input_prefix:
        raise EventRejectedError("outside-prefix", f"key {safe_excerpt(key, 200)!r} is not under the input prefix")
    if key.endswith("/"):
        raise EventRejectedError("folder-marker", "key is a folder marker")
    size = obj.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise EventRejectedError("bad-field", "detail.object.size must be a non-negative integer")
    if size == 0:
        raise EventRejectedError("empty-object", "an empty object has no rows to score")
    return key


def drain(settings: Settings, clients: AwsClients, logger: Logger) -> Window:
    """Receive what the queue holds now (up to ``settings.max_keys`` distinct keys), sorted into a window."""
    window = Window()
    received = 0
    # Bounded even while files keep arriving: what is left waits for the next window.
    while len(window.keys) < settings.max_keys and received < 2 * settings.max_keys:
        response = clients.sqs.receive_message(
            QueueUrl=settings.queue_url,
            MaxNumberOfMessages=SQS_BATCH,
            WaitTimeSeconds=settings.receive_wait_seconds,
            VisibilityTimeout=settings.visibility_timeout_seconds,
        )
        messages = response.get("Messages", [])
        if not messages:
            break
        received += len(messages)
        for raw in messages:
            message = QueuedMessage(raw["MessageId"], raw["ReceiptHandle"], raw.get("Body", ""))
            try:
                key = parse_object_key(message.body, settings)
            except EventRejectedError as rejected:
                logger.warning(
                    "batch-window event rejected",
                    extra={
                        "code": rejected.code,
                        "detail": rejected.detail,
                        "message_id": message.message_id,
                        "excerpt": safe_excerpt(message.body),
                    },
                )
                window.rejected.append((message, rejected))
                continue
            if key in window.keys:
                window.duplicates += 1
            window.keys.setdefault(key, []).append(message)
    return window


def manifest_body(settings: Settings, keys: list[str]) -> str:
    """The manifest for ``keys`` (sorted, relative to the input prefix), as CreateTransformJob reads it."""
    prefix = f"s3://{settings.data_bucket}/{settings.input_prefix}"
    entries: list[object] = [{"prefix": prefix}]
    entries.extend(key[len(settings.input_prefix) :] for key in sorted(keys))
    return json.dumps(entries, separators=(",", ":"))


def start_window(settings: Settings, clients: AwsClients, window: Window) -> tuple[str, str]:
    """Write the window's manifest and start the batch pipeline once with it; returns (manifest URI, ARN)."""
    body = manifest_body(settings, list(window.keys))
    digest = hashlib.sha256(f"{settings.pipeline_name}\n{body}".encode()).hexdigest()
    manifest_key = f"{settings.manifest_prefix}{digest[:32]}.manifest"
    clients.s3.put_object(
        Bucket=settings.data_bucket,
        Key=manifest_key,
        Body=body.encode(),
        ContentType="application/json",
    )
    manifest_uri = f"s3://{settings.data_bucket}/{manifest_key}"
    reason = f"new-data:{len(window.keys)} files"
    response = clients.sagemaker.start_pipeline_execution(
        PipelineName=settings.pipeline_name,
        PipelineExecutionDisplayName=f"new-data-{digest[:16]}"[:DISPLAY_NAME_MAX],
        PipelineExecutionDescription=f"Scores {len(window.keys)} new files listed in {manifest_uri}",
        PipelineParameters=[
            {"Name": settings.input_parameter, "Value": manifest_uri[:PARAMETER_VALUE_MAX]},
            {"Name": settings.input_type_parameter, "Value": "ManifestFile"},
            {"Name": settings.trigger_parameter, "Value": reason},
        ],
        # Same window content, same token: a retried start never starts a second execution.
        ClientRequestToken=digest,
    )
    return manifest_uri, str(response["PipelineExecutionArn"])


def delete_messages(settings: Settings, clients: AwsClients, messages: list[QueuedMessage], logger: Logger) -> None:
    """Delete ``messages`` from the queue; a failed delete only means the key is scored again next window."""
    for start in range(0, len(messages), SQS_BATCH):
        chunk = messages[start : start + SQS_BATCH]
        response = clients.sqs.delete_message_batch(
            QueueUrl=settings.queue_url,
            Entries=[{"Id": str(index), "ReceiptHandle": m.receipt_handle} for index, m in enumerate(chunk)],
        )
        for failure in response.get("Failed", []):
            logger.error(
                "batch-window message not deleted; its key will be scored again",
                extra={"message_id": chunk[int(failure["Id"])].message_id, "code": failure.get("Code", "")},
            )


def run_window(settings: Settings, clients: AwsClients, logger: Logger) -> Outcome:
    """Drain the queue and start at most one pipeline execution for what arrived in this window."""
    window = drain(settings, clients, logger)
    # Rejected events can never succeed: logged above, dropped now.
    delete_messages(settings, clients, [message for message, _ in window.rejected], logger)
    if not window.keys:
        return Outcome(status="empty", rejected=len(window.rejected))
    # Raises on failure with the accepted messages still in flight: they come back after the visibility timeout.
    manifest_uri, execution_arn = start_window(settings, clients, window)
    delete_messages(settings, clients, window.accepted, logger)
    return Outcome(
        status="started",
        new_keys=len(window.keys),
        duplicates=window.duplicates,
        rejected=len(window.rejected),
        manifest_uri=manifest_uri,
        execution_arn=execution_arn,
    )
