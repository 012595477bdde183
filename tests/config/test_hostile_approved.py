"""The approved-models file (the resolver's output, hand-edited in emergencies): every ARN part is checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlops_config import ConfigError
from mlops_config.approved import load_approved_models

GOOD = "arn:aws:sagemaker:eu-west-1:111111111111:model-package/mlops-breast-cancer/3"
ALLOWED = "allowed: arn:aws:sagemaker:eu-west-1:111111111111:model-package/mlops-breast-cancer/<version, 1 or more>"


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "approved-models.json"
    path.write_bytes(data)
    return path


def _entry(arn: Any) -> bytes:
    return json.dumps({"prod": {"breast-cancer": arn}}).encode()


@pytest.mark.parametrize(
    "encoded",
    [
        _entry(GOOD),
        b"\xef\xbb\xbf" + _entry(GOOD),
        _entry(GOOD).decode().encode("utf-16"),  # with its byte-order mark, as PowerShell writes
        json.dumps({"prod": {"breast-cancer": GOOD}}, indent=2, sort_keys=True).encode() + b"\n",
    ],
    ids=["utf-8", "utf-8 with BOM", "utf-16", "as the resolver writes"],
)
def test_encodings_the_resolver_or_an_editor_writes_are_read(
    tmp_path: Path, default_config: Any, encoded: bytes
) -> None:
    assert load_approved_models(_write(tmp_path, encoded), default_config) == {"prod": {"breast-cancer": GOOD}}


ARN_PARTS = [
    ("partition", GOOD.replace("arn:aws:", "arn:aws-cn:"), "partition 'aws-cn' is not the registry's 'aws'"),
    ("region", GOOD.replace("eu-west-1", "us-east-1"), "region 'us-east-1' is not the registry's 'eu-west-1'"),
    (
        "account",
        GOOD.replace("111111111111", "222222222222"),
        "account '222222222222' is not the registry's '111111111111'",
    ),
    (
        "group of another model",
        GOOD.replace("mlops-breast-cancer", "mlops-churn"),
        "group 'mlops-churn' is not the registry's 'mlops-breast-cancer'",
    ),
    ("version 0", GOOD[:-1] + "0", "version '0' is not a package version (1 or more, no leading zeros)"),
    ("version 03", GOOD[:-1] + "03", "version '03' is not a package version (1 or more, no leading zeros)"),
    ("no version", GOOD[:-2], "is not a versioned model package ARN"),
    ("service", GOOD.replace(":sagemaker:", ":s3:"), "is not a versioned model package ARN"),
    ("resource type", GOOD.replace("model-package/", "model/"), "is not a versioned model package ARN"),
    ("trailing newline", GOOD + "\n", "is not a versioned model package ARN"),
    ("non-ASCII digits", GOOD.replace("111111111111", "\u0661" * 12), "is not a versioned model package ARN"),
    ("a number", 3, "is not a versioned model package ARN"),
    ("null", None, "is not a versioned model package ARN"),
]


@pytest.mark.parametrize(("part", "arn", "problem"), ARN_PARTS, ids=[p[0] for p in ARN_PARTS])
def test_every_arn_part_is_checked_and_the_entry_named(
    tmp_path: Path, default_config: Any, part: str, arn: Any, problem: str
) -> None:
    path = _write(tmp_path, _entry(arn))
    with pytest.raises(ConfigError) as caught:
        load_approved_models(path, default_config)
    assert str(caught.value) == f"{path}: prod.breast-cancer: {arn!r} {problem}; {ALLOWED}"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfe\xfd", "not readable JSON: byte at offset"),
        (b'{"prod": {"breast-cancer": "\xe9"}}', "not readable JSON: byte at offset 28 is not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "not readable JSON: nested too deeply"),
        (b"", "not readable JSON: line 1, column 1: Expecting value"),
        (b'{"prod": []}', "prod: expected {model: package ARN}, got list"),
        (b'{"prod": {"' + b"x" * 100_000 + b'": "a"}}', "prod.'" + "x" * 57),
    ],
    ids=["binary", "latin-1", "deep", "empty", "list", "huge model name"],
)
def test_unreadable_files_fail_naming_the_file_without_a_traceback(
    tmp_path: Path, default_config: Any, data: bytes, message: str
) -> None:
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        load_approved_models(path, default_config)
    text = str(caught.value)
    assert text.startswith(f"{path}: "), text
    assert message in text, text
    assert len(text) < 500


def test_a_file_larger_than_the_limit_is_not_parsed(tmp_path: Path, default_config: Any) -> None:
    path = _write(tmp_path, b" " * 1_048_577)
    with pytest.raises(ConfigError) as caught:
        load_approved_models(path, default_config)
    assert str(caught.value) == (
        f"{path}: the approved-models file is larger than 1048576 bytes; allowed: a smaller file"
    )
