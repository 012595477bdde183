"""The model-baselines file (the resolver's ``--baselines-out``): drift-check baselines per approved package."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_config import ConfigError
from mlops_config.approved import load_model_baselines, split_s3_uri

ARN = "arn:aws:sagemaker:eu-west-1:111111111111:model-package/mlops-breast-cancer/3"
URI = "s3://mlops-dev-models-111111111111-eu-west-1/pipelines/run-1/data-quality/constraints.json"


def test_model_baselines_file(tmp_path: Path) -> None:
    path = tmp_path / "model-baselines.json"
    path.write_text(json.dumps({ARN: {"data_constraints": URI}, ARN[:-1] + "2": {}}), encoding="utf-8")

    baselines = load_model_baselines(path)

    assert baselines == {ARN: {"data_constraints": URI}, ARN[:-1] + "2": {}}
    assert load_model_baselines(tmp_path / "missing.json") == {}
    assert load_model_baselines(None) == {}


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("{", ["not readable JSON"]),
        ("[1]", ["(top level)", "expected {model package ARN"]),
        (json.dumps({"mlops-breast-cancer": {}}), ["mlops-breast-cancer: not a versioned model package ARN"]),
        (json.dumps({ARN: [URI]}), [f"{ARN}: expected {{baseline: S3 URI}}"]),
        (
            json.dumps({ARN: {"data_quality": URI}}),
            [f"{ARN}.data_quality: not a baseline", "data_constraints, data_statistics, explainability_config"],
        ),
        (
            json.dumps({ARN: {"data_constraints": "https://bucket.s3.amazonaws.com/key.json"}}),
            [f"{ARN}.data_constraints: 'https://bucket.s3.amazonaws.com/key.json' is not an S3 object URI"],
        ),
        (
            json.dumps({ARN: {"data_statistics": "s3://bucket-only/"}}),
            [f"{ARN}.data_statistics:", "s3://<bucket>/<key>"],
        ),
        (json.dumps({ARN: {"bias_config": "s3://b/key"}}), [f"{ARN}.bias_config: 's3://b/key' is not an S3 object"]),
        (json.dumps({ARN: {"bias_constraints": 3}}), [f"{ARN}.bias_constraints: 3 is not an S3 object URI"]),
    ],
)
def test_bad_model_baselines_file(tmp_path: Path, content: str, words: list[str]) -> None:
    path = tmp_path / "model-baselines.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_model_baselines(path)
    for word in words:
        assert word in str(caught.value)
    assert str(path) in str(caught.value)


def test_split_s3_uri() -> None:
    assert split_s3_uri(URI) == (
        "mlops-dev-models-111111111111-eu-west-1",
        "pipelines/run-1/data-quality/constraints.json",
    )
    for bad in ("s3://bucket", "s3://Bucket/key", "s3://bucket/prefix/*", "bucket/key"):
        with pytest.raises(ValueError, match="not an S3 object URI"):
            split_s3_uri(bad)
