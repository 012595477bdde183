"""The drift step's input readers pinned exactly: the baseline, the capture and the encodings it reads them in.

The survivors of `make mutate` over ``read_baseline``, ``read_capture``, ``_csv_rows`` and ``read_ground_truth``.
"""

from __future__ import annotations

import json
import locale
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import pandas as pd
import pytest

from tests.pipeline_defs.test_drift import drift

SINCE = datetime(2026, 6, 2, 11, 0, tzinfo=UTC)


@pytest.fixture
def c_locale() -> Iterator[None]:
    """The C locale (ASCII), as a container without LANG has: a reader that trusts the locale fails on UTF-8."""
    previous = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    try:
        yield
    finally:
        locale.setlocale(locale.LC_CTYPE, previous)


# --- read_baseline -------------------------------------------------------------------------------------------


def test_baseline_files_are_concatenated_in_path_order_with_a_fresh_index_and_no_target(tmp_path: Path) -> None:
    (tmp_path / "part-b").mkdir()
    (tmp_path / "part-b" / "0.csv").write_text("x,target,c\n3.0,1,q\n", encoding="utf-8")
    (tmp_path / "a.csv").write_text("x,target,c\n1.0,0,p\n2.0,1,p\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a baseline", encoding="utf-8")

    baseline = drift.read_baseline(tmp_path, "target")

    expected = pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["p", "p", "q"]})
    pd.testing.assert_frame_equal(baseline, expected)  # index 0, 1, 2: one frame, not two stacked


def test_a_baseline_without_the_target_column_is_read_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "b.csv").write_text("x,y\n1,2\n", encoding="utf-8")

    pd.testing.assert_frame_equal(drift.read_baseline(tmp_path, "target"), pd.DataFrame({"x": [1], "y": [2]}))


def test_baseline_files_with_other_columns_are_refused_naming_both(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x,y\n1,2\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("x,z\n1,2\n", encoding="utf-8")

    with pytest.raises(drift.DriftInputError) as error:
        drift.read_baseline(tmp_path, "target")

    assert str(error.value) == f"{tmp_path / 'b.csv'} has columns ['x', 'z'], {tmp_path / 'a.csv'} has ['x', 'y']"


def test_a_missing_baseline_names_the_folder_and_who_writes_it(tmp_path: Path) -> None:
    folder = tmp_path / "baseline"
    with pytest.raises(drift.DriftInputError) as error:
        drift.read_baseline(folder, "target")

    assert str(error.value) == f"no baseline *.csv under {folder}; the training pipeline's preprocess step writes it"


# --- read_capture ------------------------------------------------------------------------------------------


def _capture(
    data: str | None,
    answer: str | None = "0.5",
    *,
    event_id: str | None = "e",
    when: str | None = "2026-06-02T11:30:00Z",
    content_type: str | None = "text/csv",
) -> str:
    """One data-capture line; a None leaves its part out (as a record lacking it is written)."""
    capture: dict[str, Any] = {}
    if data is not None:
        capture["endpointInput"] = {"mode": "INPUT", "data": data, "encoding": "CSV"}
        if content_type is not None:
            capture["endpointInput"]["observedContentType"] = content_type
    if answer is not None:
        capture["endpointOutput"] = {"observedContentType": "text/csv", "mode": "OUTPUT", "data": answer}
    record: dict[str, Any] = {"captureData": capture, "eventVersion": "0"}
    if event_id is not None:
        record["eventMetadata"] = {"eventId": event_id, **({"inferenceTime": when} if when else {})}
    return json.dumps(record, ensure_ascii=False)


def _read(tmp_path: Path, *lines: str, since: datetime | None = SINCE) -> tuple[list[list[str]], list[Any]]:
    folder = tmp_path / "capture" / "ep" / "AllTraffic" / "2026" / "06" / "02" / "11"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "c.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    inputs, outputs = drift.read_capture(tmp_path / "capture", ["x", "y"], since=since)
    assert list(inputs.columns) == ["x", "y"]
    assert list(outputs.columns) == ["event_id", "output"]
    # pandas shows a missing event ID as NaN; None here.
    answers = [[None if pd.isna(event) else event, output] for event, output in outputs.to_numpy().tolist()]
    return inputs.to_numpy().tolist(), answers


def test_capture_reading_goes_on_past_old_records_blank_lines_and_records_without_input(tmp_path: Path) -> None:
    inputs, outputs = _read(
        tmp_path,
        _capture("0,0", event_id="old", when="2026-06-02T10:59:59Z"),  # before the window
        "",
        _capture(None, event_id="answer-only"),  # no endpointInput: nothing to analyse
        _capture("1,2", event_id="at-start", when="2026-06-02T11:00:00Z"),  # the window's first instant counts
        _capture("3,4", answer="0.25", event_id="late"),
    )
    assert inputs == [["1", "2"], ["3", "4"]]
    assert outputs == [["at-start", (0.5,)], ["late", (0.25,)]]


def test_a_record_without_event_metadata_is_read_without_an_event_id(tmp_path: Path) -> None:
    # No inferenceTime to test against the window, no eventId to join ground truth on.
    inputs, outputs = _read(tmp_path, _capture("1,2", event_id=None), _capture("3,4", event_id="e2"))
    assert inputs == [["1", "2"], ["3", "4"]]
    assert outputs == [[None, (0.5,)], ["e2", (0.5,)]]


def test_only_a_one_row_request_with_a_one_line_answer_gives_an_answer_to_join(tmp_path: Path) -> None:
    inputs, outputs = _read(
        tmp_path,
        _capture("1,2", answer=None, event_id="unanswered"),  # no endpointOutput
        _capture("3,4\n5,6", answer="0.75", event_id="two-rows"),  # which row was answered is unknown
        _capture("7,8", answer="0.1\n0.2", event_id="two-lines"),
        _capture("9,10", answer="0.3", event_id="one"),
    )
    assert inputs == [["1", "2"], ["3", "4"], ["5", "6"], ["7", "8"], ["9", "10"]]
    assert outputs == [["one", (0.3,)]]


class _Python39Datetime(datetime):
    """``datetime.fromisoformat`` of the processing image's Python 3.9, which reads no ``Z`` suffix.

    Python docs, datetime.fromisoformat (https://docs.python.org/3/library/datetime.html#datetime.datetime.fromisoformat):
    "Changed in version 3.11: Previously, this method only supported formats that could be emitted by
    date.isoformat() or datetime.isoformat()", which write "+00:00", never "Z".
    """

    @classmethod
    def fromisoformat(cls, date_string: str) -> Self:
        if date_string.endswith(("Z", "z")):
            raise ValueError(f"Invalid isoformat string: {date_string!r}")
        return super().fromisoformat(date_string)


def test_data_capture_times_ending_in_z_are_read_as_python_39_can(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(drift, "datetime", _Python39Datetime)
    inputs, _ = _read(
        tmp_path,
        _capture("1,2", event_id="before", when="2026-06-02T10:00:00Z"),
        _capture("3,4", event_id="after", when="2026-06-02T11:00:01Z"),
    )
    assert inputs == [["3", "4"]]


def test_a_line_that_is_not_a_capture_record_is_named_by_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(drift.DriftInputError) as error:
        _read(tmp_path, _capture("1,2"), json.dumps({"eventMetadata": {"eventId": "e"}}))

    path = tmp_path / "capture" / "ep" / "AllTraffic" / "2026" / "06" / "02" / "11" / "c.jsonl"
    assert str(error.value) == f"{path}:2: not a data-capture record ('captureData')"


def test_a_payload_that_is_not_csv_is_refused(tmp_path: Path) -> None:
    with pytest.raises(drift.DriftInputError) as error:
        _read(tmp_path, _capture('{"x": 1, "y": 2}', content_type="application/json"))

    path = tmp_path / "capture" / "ep" / "AllTraffic" / "2026" / "06" / "02" / "11" / "c.jsonl"
    assert str(error.value) == f"{path}:1: only CSV payloads are supported"


def test_a_payload_without_a_content_type_is_read_as_csv(tmp_path: Path) -> None:
    inputs, _ = _read(tmp_path, _capture("1,2", content_type=None))
    assert inputs == [["1", "2"]]


def test_a_row_with_another_number_of_values_names_both_counts(tmp_path: Path) -> None:
    with pytest.raises(drift.DriftInputError) as error:
        _read(tmp_path, _capture("1,2"), _capture("1,2,3"))

    path = tmp_path / "capture" / "ep" / "AllTraffic" / "2026" / "06" / "02" / "11" / "c.jsonl"
    assert str(error.value) == f"{path}:2: 3 values but the baseline has 2 features"


# --- _csv_rows -----------------------------------------------------------------------------------------------


def test_csv_rows_split_on_line_ends_only() -> None:
    # A value with a space (a categorical "New York") stays in its row.
    assert drift._csv_rows("New York, 2\nParis,3\n") == ["New York, 2", "Paris,3"]


# --- the encodings -------------------------------------------------------------------------------------------


def test_ground_truth_is_read_as_utf8_whatever_the_locale(tmp_path: Path, c_locale: None) -> None:
    record = {"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId": "é-1"}}
    (tmp_path / "labels.jsonl").write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")

    labels = drift.read_ground_truth(tmp_path)

    assert labels.to_dict("records") == [{"event_id": "é-1", "label": 1.0}]


def test_capture_is_read_as_utf8_whatever_the_locale(tmp_path: Path, c_locale: None) -> None:
    inputs, outputs = _read(tmp_path, _capture("Zürich,2", event_id="é-2"))

    assert inputs == [["Zürich", "2"]]
    assert outputs == [["é-2", (0.5,)]]


@pytest.mark.parametrize("text", ["nan", "inf", "-Infinity"])
def test_a_ground_truth_label_that_is_not_a_finite_number_is_refused(tmp_path: Path, text: str) -> None:
    record = {"groundTruthData": {"data": text, "encoding": "CSV"}, "eventMetadata": {"eventId": "e1"}}
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")

    with pytest.raises(drift.DriftInputError) as error:
        drift.read_ground_truth(tmp_path)

    assert str(error.value) == f"{path}:1: not a ground-truth record (label {float(text)} is not a finite number)"
