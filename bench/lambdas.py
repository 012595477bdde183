"""The Lambda cold path: how long each handler module takes to import, and how big its deployment asset is.

Each ``lambda/<function>/handler.py`` is imported in a fresh interpreter (its folder first on ``sys.path`` and as
the working directory, like /var/task) with the environment variables it reads at import. Those are the
function's own variables from the synthesized templates when the benchmark found its asset there, otherwise
plausible values guessed from the variable names the function's source mentions.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.stats import median

_EXCLUDED_PARTS = {"__pycache__"}
# Upper-case string literals with an underscore (PIPELINE_NAME), or any name read through os.environ/getenv.
_ENV_LITERAL = re.compile(r"""["']([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)["']""")
_ENV_READ = re.compile(r"""(?:environ(?:\.get)?\s*[\[(]|getenv\s*\()\s*["']([A-Z][A-Z0-9_]*)["']""")
# An upper-case word in an import error may be a variable the handler misses or rejects ("FEATURES must be ...").
_MENTIONED = re.compile(r"\b([A-Z][A-Z0-9_]{2,})\b")
_GUESS_RETRIES = 4
_IMPORT_PROBE = (
    "import sys, time\n"
    "sys.path.insert(0, sys.argv[1])\n"
    "start = time.perf_counter()\n"
    "import handler\n"
    "print(time.perf_counter() - start)\n"
)


@dataclass(frozen=True)
class HandlerResult:
    """Cold-path facts of one function folder."""

    function: str
    asset_bytes: int
    import_ms: float | None
    import_samples_ms: tuple[float, ...]
    env_source: str
    error: str | None = None


def discover_handlers(root: Path) -> list[Path]:
    """Every ``lambda/<function>/handler.py`` under ``root``, sorted by function name."""
    return sorted((root / "lambda").glob("*/handler.py"))


def _files(folder: Path) -> list[Path]:
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and not _EXCLUDED_PARTS & set(path.relative_to(folder).parts) and path.suffix != ".pyc"
    )


def asset_zip_bytes(folder: Path) -> int:
    """Size of ``folder`` zipped as a Lambda asset (deflate, level 9, no ``__pycache__``), in bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in _files(folder):
            # A fixed timestamp keeps the size independent of when the files were touched.
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    return buffer.getbuffer().nbytes


def folder_fingerprint(folder: Path) -> str:
    """A digest of the relative paths and bytes of ``folder`` (the files an asset would hold)."""
    digest = hashlib.sha256()
    for path in _files(folder):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def env_var_names(folder: Path) -> set[str]:
    """Environment variable names the function's source mentions (a superset is harmless)."""
    names: set[str] = set()
    for path in _files(folder):
        if path.suffix == ".py":
            text = path.read_text(encoding="utf-8", errors="replace")
            names.update(_ENV_LITERAL.findall(text))
            names.update(_ENV_READ.findall(text))
    return names


def guess_value(name: str) -> str:
    """A plausible value for the variable ``name``, from the usual shape of such names."""
    rules: list[tuple[tuple[str, ...], str]] = [
        (("ALARM_NAMES",), '["bench-alarm"]'),
        (("ACCOUNT",), "111111111111"),
        (("REGION",), "eu-west-1"),
        (("BUCKET",), "bench-bucket"),
        (("PREFIX",), "bench/prefix/"),
        (("LOG_LEVEL",), "INFO"),
        (("_ARN",), "arn:aws:sns:eu-west-1:111111111111:bench"),
        (("QUEUE_URL",), "https://sqs.eu-west-1.amazonaws.com/111111111111/bench"),
        (("_URL",), "https://example.invalid/bench"),
        (("_BYTES",), "65536"),
        (("_OBJECTS",), "1000"),
        (("_HOURS",), "24"),
        (("_MINUTES",), "60"),
        (("_SECONDS",), "60"),
        (("_DAYS",), "7"),
        (("_CAP", "_COUNT", "_LIMIT", "_MAX", "_MIN"), "3"),
        (("_PERCENT", "_THRESHOLD"), "10"),
        (("_ENABLED", "_DISABLED"), "false"),
        (("_JSON", "_NAMES", "_LIST", "_SOURCES", "_IDS", "_ARNS"), "[]"),
    ]
    for markers, value in rules:
        if any(marker in name for marker in markers):
            return value
    return "bench-name"


def template_environments(templates: list[Path]) -> dict[str, dict[str, object]]:
    """Asset fingerprint -> the Environment.Variables of the Lambda functions synthesized from that asset."""
    found: dict[str, dict[str, object]] = {}
    for template_path in templates:
        template = json.loads(template_path.read_text(encoding="utf-8"))
        for resource in template.get("Resources", {}).values():
            if resource.get("Type") != "AWS::Lambda::Function":
                continue
            asset = (resource.get("Metadata") or {}).get("aws:asset:path")
            asset_dir = (template_path.parent / asset) if isinstance(asset, str) else None
            if asset_dir is None or not asset_dir.is_dir():
                continue
            variables = ((resource.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}
            found.setdefault(folder_fingerprint(asset_dir), dict(variables))
    return found


def handler_environment(folder: Path, synthesized: Mapping[str, Mapping[str, object]]) -> tuple[dict[str, str], str]:
    """The variables to import ``folder``'s handler with, and where they came from (``template`` or ``guessed``).

    A synthesized function gets exactly its template's variables (the ones it leaves out take the handler's
    defaults); without a template, every variable the source mentions is guessed.
    """
    from_template = synthesized.get(folder_fingerprint(folder))
    names = set(from_template) if from_template is not None else env_var_names(folder)
    env = {}
    for name in sorted(names):
        value = (from_template or {}).get(name)
        # Tokens (Ref, Fn::GetAtt) only resolve at deploy time: guess those like the rest.
        env[name] = value if isinstance(value, str) else guess_value(name)
    return env, "template" if from_template is not None else "guessed"


def _import_seconds(folder: Path, env: Mapping[str, str]) -> tuple[float | None, str]:
    """One import of ``folder``'s handler in a fresh interpreter: seconds, or ``None`` and the last error line."""
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE, str(folder)],
        cwd=folder,
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines() or [f"exit code {result.returncode}"]
        return None, lines[-1][:500]
    return float(result.stdout.strip().splitlines()[-1]), ""


def value_from_message(message: str) -> str | None:
    """A value of the shape an error message asks for (``must be a JSON list``), or ``None``."""
    lowered = message.lower()
    shapes = [
        (("json list", "list of", "array"), '["bench"]'),
        (("json object", "mapping", "dict"), "{}"),
        (("integer", "number"), "1"),
        (("true or false", "boolean"), "false"),
    ]
    return next((value for markers, value in shapes if any(marker in lowered for marker in markers)), None)


def _retry_environment(env: dict[str, str], guessed: set[str], error: str) -> bool:
    """Adjust the guessed variables ``error`` names: add missing ones, reshape or drop bad ones; False: no change."""
    changed = False
    for name in sorted(set(_MENTIONED.findall(error))):
        if name not in env:
            env[name] = guess_value(name)
            guessed.add(name)
            changed = True
        elif name in guessed:
            shaped = value_from_message(error)
            if shaped is not None and env[name] != shaped:
                env[name] = shaped
            else:  # most variables are optional: without it the handler uses its default
                del env[name]
                guessed.discard(name)
            changed = True
    return changed


def measure_handler(
    handler: Path, base_env: Mapping[str, str], synthesized: Mapping[str, Mapping[str, object]], runs: int
) -> HandlerResult:
    """Median import time of ``handler`` over ``runs`` fresh interpreters (after one untimed warm-up).

    When the import fails, the guessed variables its error names are added, reshaped or dropped, and the import
    retried (a few times); values from the synthesized template are kept as they are.
    """
    folder = handler.parent
    env, source = handler_environment(folder, synthesized)
    guessed = set(env) if source == "guessed" else set()
    seconds, error = _import_seconds(folder, {**base_env, **env})  # also writes bytecode, as a deployment would
    for _ in range(_GUESS_RETRIES):
        if seconds is not None or not _retry_environment(env, guessed, error):
            break
        seconds, error = _import_seconds(folder, {**base_env, **env})
    if seconds is None:
        return HandlerResult(folder.name, asset_zip_bytes(folder), None, (), source, error)
    samples = []
    for _ in range(runs):
        seconds, error = _import_seconds(folder, {**base_env, **env})
        if seconds is None:
            return HandlerResult(folder.name, asset_zip_bytes(folder), None, (), source, error)
        samples.append(seconds * 1000)
    return HandlerResult(folder.name, asset_zip_bytes(folder), median(samples), tuple(samples), source)
