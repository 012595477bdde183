"""The renderer: canonical bytes, determinism across processes, the content cache, builder paths."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipeline_defs import render
from pipeline_defs.render import (
    BuilderPathError,
    cache_key,
    canonical_json,
    escape_for_fn_sub,
    render_definition,
    resolve_builder,
)
from pipeline_defs.settings import TrainingPipelineSettings
from pipeline_defs.training_pipeline import build_training_pipeline

REPO = Path(__file__).resolve().parents[2]
BUILDER = "pipeline_defs.training_pipeline:build_training_pipeline"
SETTINGS_CODE = (
    "from pipeline_defs.settings import TrainingPipelineSettings\n"
    "settings = TrainingPipelineSettings(pipeline_name='render-test', region='eu-west-1',"
    " model_package_group_name='render-test')\n"
)


def make_settings() -> TrainingPipelineSettings:
    """The settings SETTINGS_CODE builds in a subprocess."""
    return TrainingPipelineSettings(
        pipeline_name="render-test", region="eu-west-1", model_package_group_name="render-test"
    )


def run_python(code: str, hash_seed: str) -> str:
    """Run ``code`` in a fresh interpreter (own hash seed, no credentials) and return stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(REPO), "AWS_DEFAULT_REGION": "eu-west-1"})
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip()


@pytest.fixture(scope="module")
def rendered() -> str:
    return render_definition(BUILDER, make_settings(), cache_dir=None)


def test_output_is_canonical_json(rendered: str) -> None:
    assert rendered == json.dumps(json.loads(rendered), sort_keys=True, separators=(",", ":"))


def test_byte_identical_across_renders(rendered: str) -> None:
    assert render_definition(BUILDER, make_settings(), cache_dir=None) == rendered


@pytest.fixture(scope="module")
def fresh_process() -> dict[str, Any]:
    """Every pipeline kind rendered in one fresh interpreter (fixed hash seed 0, no credentials): the SHA-256 of the
    training render and the top-level modules the renders imported. One SDK import serves both tests below."""
    code = (
        "import hashlib, json, sys\n"
        "from pipeline_defs.batch_settings import render_batch_definition\n"
        "from mlops_constructs.drift_monitor import BUILDER as MONITORING\n"
        "from pipeline_defs.monitoring_settings import MonitoringPlaceholders as P\n"
        "from pipeline_defs.render import render_definition\n"
        "from tests.pipeline_defs import test_batch_pipeline, test_monitoring_pipeline, test_render\n"
        "text = render_definition(test_render.BUILDER, test_render.make_settings(), cache_dir=None)\n"
        "render_definition(MONITORING, test_monitoring_pipeline.make_settings(), cache_dir=None,"
        " placeholders=P.all() | P.own())\n"
        "render_batch_definition(test_batch_pipeline.make_settings(), cache_dir=None)\n"
        "print(json.dumps({'sha256': hashlib.sha256(text.encode()).hexdigest(),"
        " 'modules': sorted({name.split('.')[0] for name in sys.modules})}))\n"
    )
    result: dict[str, Any] = json.loads(run_python(code, "0").splitlines()[-1])
    return result


def test_byte_identical_across_processes(rendered: str, fresh_process: dict[str, Any]) -> None:
    # ``rendered`` came from this process (a random hash seed); the child used a fixed, different one.
    assert fresh_process["sha256"] == hashlib.sha256(rendered.encode()).hexdigest()


def test_cache_hit_does_not_import_sagemaker(tmp_path: Path, rendered: str) -> None:
    assert render_definition(BUILDER, make_settings(), cache_dir=tmp_path) == rendered
    assert len(list(tmp_path.glob("*.json"))) == 1
    code = SETTINGS_CODE + (
        "import sys\nfrom pipeline_defs.render import render_definition\n"
        f"text = render_definition({BUILDER!r}, settings, cache_dir={str(tmp_path)!r})\n"
        "assert 'sagemaker' not in sys.modules, sorted(m for m in sys.modules if 'sagemaker' in m)\n"
        "print(len(text))\n"
    )
    assert run_python(code, "7") == str(len(rendered))


def test_cache_entry_is_used_and_corrupt_entries_rerender(tmp_path: Path, rendered: str) -> None:
    settings = make_settings()
    entry = tmp_path / f"{cache_key(BUILDER, settings)}.json"
    entry.write_text('{"marker":true}', encoding="utf-8")
    assert render_definition(BUILDER, settings, cache_dir=tmp_path) == '{"marker":true}'
    entry.write_text('{"truncated": ', encoding="utf-8")
    assert render_definition(BUILDER, settings, cache_dir=tmp_path) == rendered
    assert entry.read_text(encoding="utf-8") == rendered
    entry.unlink()
    assert render_definition(BUILDER, settings, cache_dir=tmp_path) == rendered
    assert entry.exists()
    assert not list(tmp_path.glob("*.tmp"))


def test_cache_key_follows_settings_sources_and_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make_settings()
    key = cache_key(BUILDER, settings)
    assert cache_key(BUILDER, settings) == key
    other = TrainingPipelineSettings(
        pipeline_name="render-test", region="eu-west-1", model_package_group_name="render-test", quality_threshold=0.8
    )
    assert cache_key(BUILDER, other) != key
    monkeypatch.setattr(render, "sagemaker_version", lambda: "0.0.0")
    assert cache_key(BUILDER, settings) != key
    monkeypatch.undo()
    monkeypatch.setattr(render, "source_digest", lambda: "changed")
    assert cache_key(BUILDER, settings) != key


def test_source_digest_covers_every_py_file(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.py").write_text("y = 2\n")
    before = render.source_digest(tmp_path)
    (tmp_path / "sub" / "b.py").write_text("y = 3\n")
    assert render.source_digest(tmp_path) != before
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / "sub" / "b.py").write_text("y = 2\n")
    assert render.source_digest(tmp_path) == before


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("pipeline_defs.training_pipeline", "must look like 'package.module:function'"),
        ("pipeline_defs.no_such_module:build", "cannot import module 'pipeline_defs.no_such_module'"),
        ("pipeline_defs.training_pipeline:no_such_function", "has no callable 'no_such_function'"),
        ("pipeline_defs.training_pipeline:AUC_JSON_PATH", "has no callable 'AUC_JSON_PATH'"),
    ],
)
def test_bad_builder_path_is_a_clear_error(path: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(BuilderPathError, match=message):
        render_definition(path, make_settings(), cache_dir=tmp_path)


def test_builder_path_resolves() -> None:
    assert resolve_builder(BUILDER) is build_training_pipeline


def test_literal_dollar_brace_is_escaped_for_fn_sub() -> None:
    text = '{"a":"${ArtifactBucket}","b":"${HOME}","c":"arn:${AWS::Partition}","d":"$(ls)"}'
    assert escape_for_fn_sub(text) == (
        '{"a":"${ArtifactBucket}","b":"${!HOME}","c":"arn:${AWS::Partition}","d":"$(ls)"}'
    )
    assert canonical_json('{"b": "${x}", "a": 1}') == '{"a":1,"b":"${!x}"}'


def test_renders_of_one_process_build_each_botocore_client_once(rendered: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Building clients (service models decoded, operations built) made every render miss cost ~1.8 s."""
    import dataclasses

    import botocore.client

    built: list[str] = []
    original = botocore.client.ClientCreator.create_client

    def create_client(self: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
        built.append(service_name)
        return original(self, service_name, *args, **kwargs)

    monkeypatch.setattr(botocore.client.ClientCreator, "create_client", create_client)
    other = dataclasses.replace(make_settings(), model_package_group_name="render-test-other")
    assert render_definition(BUILDER, other, cache_dir=None) != rendered
    assert render_definition(BUILDER, make_settings(), cache_dir=None) == rendered
    assert built == []


def test_clients_the_sdk_builds_during_a_render_refuse_the_network() -> None:
    import boto3
    import botocore.session

    from pipeline_defs.offline import NetworkAccessError, shared_clients

    original = botocore.session.Session.create_client
    with shared_clients():
        # As LocalSession does inside TrainingStep: a default session of its own, real credential chain.
        client = boto3.Session(region_name="eu-west-1").client("s3")
        with pytest.raises(NetworkAccessError):
            client.list_buckets()
    assert botocore.session.Session.create_client is original


# The import name of each distribution synth-excludes.txt leaves out of the `make synth` venv.
EXCLUDED_MODULES = {
    "matplotlib": "matplotlib",
    "scikit-learn": "sklearn",
    "skops": "skops",
    "sqlalchemy": "sqlalchemy",
    "alembic": "alembic",
    "flask": "flask",
    "flask-cors": "flask_cors",
    "gunicorn": "gunicorn",
    "huey": "huey",
    "waitress": "waitress",
    "databricks-sdk": "databricks",
    "pyiceberg": "pyiceberg",
}


def test_rendering_every_pipeline_imports_nothing_the_synth_venv_leaves_out(fresh_process: dict[str, Any]) -> None:
    """`make synth` installs without synth-excludes.txt: rendering must never import one of those libraries."""
    excluded = [
        line.strip()
        for line in (REPO / "synth-excludes.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert sorted(excluded) == sorted(EXCLUDED_MODULES), "name the import module of every excluded distribution"
    loaded = set(fresh_process["modules"])
    assert "sagemaker" in loaded  # the renders really ran
    assert sorted(loaded & set(EXCLUDED_MODULES.values())) == []
