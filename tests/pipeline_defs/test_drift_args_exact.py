"""The drift step's command line pinned exactly: defaults, required options, the refused values and the help a user
reads (the survivors of `make mutate` over ``parse_args``)."""

from __future__ import annotations

import sys

import pytest

from tests.pipeline_defs.test_drift import drift

REQUIRED = ["--model", "m", "--environment", "e", "--endpoint", "ep"]


@pytest.fixture(autouse=True)
def program_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """argparse names the program after ``sys.argv[0]``: the job runs ``drift.py``."""
    monkeypatch.setattr(sys, "argv", ["drift.py"])
    monkeypatch.setenv("COLUMNS", "120")


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The last line argparse writes when it refuses ``argv`` (it exits 2)."""
    with pytest.raises(SystemExit) as exit_:
        drift.parse_args(argv)
    assert exit_.value.code == 2
    return capsys.readouterr().err.splitlines()[-1]


def test_the_defaults_of_both_commands() -> None:
    assert vars(drift.parse_args(["analyse", *REQUIRED])) == {
        "command": "analyse",
        "base_dir": "/opt/ml/processing",
        "model": "m",
        "environment": "e",
        "endpoint": "ep",
        "capture_dir": None,
        "ground_truth_dir": None,
        "target_column": "target",
        "problem_type": "binary_classification",
        "categorical": "",
        "psi_threshold": 0.2,
        "p_value_threshold": 0.01,
        "lookback_hours": 24,
        "min_records": 30,
        "shadow_capture_dir": None,
    }
    assert vars(drift.parse_args(["publish"])) == {"command": "publish", "base_dir": "/opt/ml/processing"}


def test_numbers_on_the_command_line_are_read_as_numbers() -> None:
    args = drift.parse_args(
        ["analyse", *REQUIRED, "--psi-threshold", "0.3", "--p-value-threshold", "0.05", "--lookback-hours", "1.5"]
    )
    assert (args.psi_threshold, args.p_value_threshold, args.lookback_hours) == (0.3, 0.05, 1.5)


def test_a_command_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    assert _refused([], capsys) == "drift.py: error: the following arguments are required: command"


@pytest.mark.parametrize("option", ["--model", "--environment", "--endpoint"])
def test_the_model_environment_and_endpoint_are_required(option: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = list(REQUIRED)
    index = argv.index(option)
    del argv[index : index + 2]
    assert (
        _refused(["analyse", *argv], capsys)
        == f"drift.py analyse: error: the following arguments are required: {option}"
    )


THRESHOLDS = "drift.py: error: --psi-threshold must be > 0 and --p-value-threshold within (0, 1)"
COUNTS = "drift.py: error: --min-records must be >= 1 and --lookback-hours >= 0"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--psi-threshold", "0"], THRESHOLDS),
        (["--psi-threshold", "-0.1"], THRESHOLDS),
        (["--p-value-threshold", "0"], THRESHOLDS),
        (["--p-value-threshold", "1"], THRESHOLDS),
        (["--p-value-threshold", "1.5"], THRESHOLDS),
        (["--psi-threshold", "nan"], THRESHOLDS),
        (["--min-records", "0"], COUNTS),
        (["--lookback-hours", "-1"], COUNTS),
        (["--lookback-hours", "nan"], COUNTS),
    ],
)
def test_values_out_of_range_are_refused(extra: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _refused(["analyse", *REQUIRED, *extra], capsys) == message


def test_the_edges_of_the_ranges_are_accepted() -> None:
    edges = ["--psi-threshold", "1e-9", "--p-value-threshold", "0.999", "--min-records", "1", "--lookback-hours", "0"]
    args = drift.parse_args(["analyse", *REQUIRED, *edges])
    assert (args.psi_threshold, args.p_value_threshold, args.min_records, args.lookback_hours) == (1e-9, 0.999, 1, 0)


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_:
        drift.parse_args(argv)
    assert exit_.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # the words, whatever the wrapping


def test_the_help_says_what_each_command_and_option_does(capsys: pytest.CaptureFixture[str]) -> None:
    top = _help(["--help"], capsys)
    assert "{analyse,publish} ... Drift and model-quality monitoring without Model Monitor. positional" in top
    assert "analyse compare captured data with the baseline" in top
    assert "publish publish the metrics file to CloudWatch" in top

    analyse = _help(["analyse", "--help"], capsys)
    for option_and_help in [
        "--capture-dir CAPTURE_DIR default: <base>/input/capture",
        "--ground-truth-dir GROUND_TRUTH_DIR default: <base>/input/ground-truth",
        "--categorical CATEGORICAL comma-separated categorical features (chi-squared)",
        "--lookback-hours LOOKBACK_HOURS 0 analyses every captured record",
        "--min-records MIN_RECORDS fewer records: report, but no drift verdict",
        "--shadow-capture-dir SHADOW_CAPTURE_DIR a shadow variant's capture: compare its predictions (default: none)",
    ]:
        assert option_and_help in analyse
