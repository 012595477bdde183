"""The drift step's readers of data capture and ground truth, pinned exactly (the survivors of `make mutate`)."""

from __future__ import annotations

import base64
import importlib
import json
from pathlib import Path
from typing import Any

import pytest

# By package name, as in test_drift.py: mutmut only switches on mutants of pipeline_defs.steps.drift.
drift = importlib.import_module("pipeline_defs.steps.drift")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


@pytest.mark.parametrize(
    ("payload", "text"),
    [
        ({"data": "1,2", "encoding": "CSV"}, "1,2"),
        ({"data": "1,2"}, "1,2"),  # no encoding: CSV as written
        ({"data": _b64("1,é"), "encoding": "BASE64"}, "1,é"),
        ({"data": _b64("3,4"), "encoding": "base64"}, "3,4"),
        ({"encoding": "CSV"}, ""),  # no data: nothing captured
    ],
)
def test_a_capture_payload_decodes_to_its_text(payload: dict[str, Any], text: str) -> None:
    # Data capture writes "encoding": "CSV" for text it can store as is, "BASE64" otherwise.
    assert drift._decode(payload) == text


def test_csv_rows_drop_blank_lines_and_carriage_returns() -> None:
    assert drift._csv_rows("a,b\r\n\r\nc,d\n \n") == ["a,b", "c,d"]


def _truth(event_id: str, label: str) -> str:
    return json.dumps({"groundTruthData": {"data": label, "encoding": "CSV"}, "eventMetadata": {"eventId": event_id}})


def test_ground_truth_is_read_from_json_and_jsonl_files_past_blank_lines(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "labels.jsonl").write_text(_truth("e1", "1") + "\n\n" + _truth("e2", " 0.0 ") + "\n")
    (tmp_path / "b.json").write_text(_truth("e3", "1.0"))

    labels = drift.read_ground_truth(tmp_path)

    assert labels.to_dict("records") == [
        {"event_id": "e1", "label": 1},
        {"event_id": "e2", "label": 0},
        {"event_id": "e3", "label": 1},
    ]
    assert list(labels.columns) == ["event_id", "label"]


def test_a_folder_without_ground_truth_gives_an_empty_frame(tmp_path: Path) -> None:
    labels = drift.read_ground_truth(tmp_path / "missing")

    assert labels.empty
    assert list(labels.columns) == ["event_id", "label"]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (
            "{",
            "not a ground-truth record (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))",
        ),
        (json.dumps({"eventMetadata": {"eventId": "e"}}), "not a ground-truth record ('groundTruthData')"),
        (_truth("e", "yes"), "not a ground-truth record (could not convert string to float: 'yes')"),
        (json.dumps({"groundTruthData": {"data": "1"}}), "not a ground-truth record ('eventMetadata')"),
    ],
)
def test_a_bad_ground_truth_line_is_named_by_file_and_line(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text(_truth("e0", "1") + "\n" + line + "\n")

    with pytest.raises(drift.DriftInputError) as error:
        drift.read_ground_truth(tmp_path)

    assert str(error.value) == f"{path}:2: {problem}"
