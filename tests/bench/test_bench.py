"""The benchmark harness's pure parts: generated configurations, the slope arithmetic, targets and the report."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from bench import gen_config, lambdas, quotas, report, stats
from bench import run as bench_run
from bench.run import parse_args, parse_pytest_counts
from mlops_config import ConfigError, parse_config
from mlops_config.approved import load_approved_models, served_package
from tests.conftest import REPO, raw_default_config


@pytest.mark.parametrize("count", [1, 10, 50])
def test_generated_config_is_valid_with_n_cloned_models(count: int) -> None:
    base = raw_default_config()
    raw = gen_config.generate_config(base, count)
    config = parse_config(raw, source=Path(f"platform-{count}.yaml"))
    names = [model.name for model in config.models]
    assert names == gen_config.model_names(count)
    assert len(set(names)) == count
    sample = base["models"][0]
    for model in config.models:
        # Each clone keeps the sample's per-environment serving, monitoring and retraining settings.
        assert set(model.environments) == set(sample["environments"])
        assert model.training_data_prefix == f"{model.name}/training/"
        assert model.in_environment("prod").serving.mode == sample["environments"]["prod"]["serving"]["mode"]
    assert config.tooling is not None and config.tooling.connection_arn is not None


def test_generated_config_leaves_the_base_untouched_and_is_deterministic() -> None:
    base = raw_default_config()
    before = json.dumps(base, sort_keys=True)
    first = gen_config.generate_config(base, 3)
    assert json.dumps(base, sort_keys=True) == before
    assert json.dumps(first, sort_keys=True) == json.dumps(gen_config.generate_config(base, 3), sort_keys=True)


def test_clones_drop_the_samples_pinned_package() -> None:
    base = raw_default_config()
    pin = "arn:aws:sagemaker:eu-west-1:111111111111:model-package/mlops-breast-cancer/3"
    base["models"][0]["environments"]["prod"]["serving"]["model_package_arn"] = pin
    config = parse_config(gen_config.generate_config(base, 2), source=Path("pinned.yaml"))
    assert all(model.in_environment("prod").serving.model_package_arn is None for model in config.models)


def test_without_cicd_the_connection_is_left_as_the_base_has_it() -> None:
    base = raw_default_config()
    base["tooling"].pop("connection_arn", None)
    raw = gen_config.generate_config(base, 1, with_cicd=False)
    assert "connection_arn" not in raw["tooling"]


@pytest.mark.parametrize(("count", "first", "last"), [(1, "model-01", "model-01"), (100, "model-001", "model-100")])
def test_model_names_are_zero_padded(count: int, first: str, last: str) -> None:
    names = gen_config.model_names(count)
    assert (names[0], names[-1]) == (first, last)
    assert names == sorted(names)


def test_zero_models_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        gen_config.model_names(0)


def test_written_inputs_serve_every_model_in_every_environment(tmp_path: Path) -> None:
    config_path, approved_path = gen_config.write_scale_inputs(10, tmp_path, base=raw_default_config())
    from mlops_config import load_config

    config = load_config(config_path)
    # The app's own loader accepts the file: every ARN is a versioned package in the registry's account.
    approved = load_approved_models(approved_path, config)
    for env in config.environments:
        for model in config.models:
            arn = served_package(config, approved, env.name, model.name)
            assert arn == (
                f"arn:aws:sagemaker:{config.registry.region}:{config.registry.account}:"
                f"model-package/{config.project}-{model.name}/1"
            )
    again = gen_config.write_scale_inputs(10, tmp_path / "again", base=raw_default_config())
    assert again[0].read_bytes() == config_path.read_bytes()
    assert again[1].read_bytes() == approved_path.read_bytes()


def test_an_invalid_base_fails_before_anything_is_written(tmp_path: Path) -> None:
    base = raw_default_config()
    base["models"][0]["training"]["quality_gate"] = {"metric": "auc", "threshold": 2}
    with pytest.raises(ConfigError, match=r"models\[0\]\.training\.quality_gate"):
        gen_config.write_scale_inputs(2, tmp_path / "out", base=base)
    assert not (tmp_path / "out").exists()


def test_least_squares_slope_of_exact_and_noisy_lines() -> None:
    assert stats.least_squares_slope([(1, 10.0), (10, 14.5), (50, 34.5)]) == pytest.approx(0.5)
    # Symmetric noise around y = 2x + 1 leaves the slope unchanged.
    assert stats.least_squares_slope([(0, 1.5), (1, 2.5), (2, 5.5), (3, 6.5)]) == pytest.approx(1.8)
    with pytest.raises(ValueError, match="two distinct"):
        stats.least_squares_slope([(10, 1.0), (10, 2.0)])


def test_linearity_is_last_segment_slope_over_first() -> None:
    linear = [(50, 34.5), (1, 10.0), (10, 14.5)]  # unsorted on purpose
    assert stats.segment_slopes(linear) == pytest.approx([0.5, 0.5])
    assert stats.linearity(linear) == pytest.approx(1.0)
    # 1->10 costs 0.5 s/model, 10->50 costs 1.5 s/model: three times superlinear.
    assert stats.linearity([(1, 10.0), (10, 14.5), (50, 74.5)]) == pytest.approx(3.0)
    assert stats.linearity([(1, 10.0), (10, 14.5)]) is None
    assert stats.linearity([(1, 10.0), (10, 10.0), (50, 12.0)]) is None


def test_median_of_samples() -> None:
    assert stats.median([3.0, 1.0, 2.0]) == 2.0
    assert stats.median([4.0, 1.0, 2.0, 3.0]) == 2.5
    with pytest.raises(ValueError, match="no samples"):
        stats.median([])


def _stack(path: str, resources: int, template_bytes: int, outputs: int = 1, parameters: int = 1) -> dict[str, Any]:
    return report.stack_facts(path, resources, outputs, parameters, template_bytes)


def _report(**overrides: Any) -> dict[str, Any]:
    result: dict[str, Any] = {
        "generated_at": "2026-01-01T00:00:00+00:00",
        "machine": {"cpu_model": "Test CPU", "cores": 2, "memory_gb": 8.0, "python": "3.11.7", "node": "v22"},
        "options": {"runs": 5},
        "synth": {
            "floors": {"import_median_s": 1.0, "app_median_s": 4.0, "import_samples_s": [1.0], "app_samples_s": [4.0]},
            "full": {"median_s": 6.0, "samples_s": [6.0], "cold_s": 9.0, "ratio_to_floor": 1.5, "stacks": []},
            "breakdown": {"phases": {"imports": 1.0, "synth": 3.0}, "renders": 2, "render_cache_misses": 0},
        },
        "scale": {
            "points": [
                {"models": 1, "median_s": 6.0, "stacks": [_stack("dev/Data", 40, 90_000)]},
                {
                    "models": 50,
                    "median_s": 30.0,
                    "stacks": [_stack("dev/Data", 120, 300_000), _stack("dev/Model-07", 60, 520_000)],
                },
            ],
            "seconds_per_model": 0.49,
            "segment_slopes": [0.49],
            "linearity": None,
        },
        "lambda": [
            {"function": "a", "asset_bytes": 12_000, "import_ms": 80.0, "env_source": "template", "error": None},
            {"function": "b", "asset_bytes": 9_000, "import_ms": None, "env_source": "guessed", "error": "Boom"},
        ],
        "tests": {"wall_s": 75.0, "counts": {"passed": 120, "failed": 2}, "exit_code": 1},
    }
    result.update(overrides)
    return result


def test_targets_are_judged_on_the_right_values() -> None:
    targets = {t["key"]: t for t in report.evaluate_targets(_report())}
    assert targets["synth_ratio"]["value"] == 1.5 and targets["synth_ratio"]["met"] is True
    assert targets["seconds_per_model"]["met"] is True
    # Judged at the largest model count only: 120 resources (met), 520 KB (missed).
    assert targets["max_resources_at_scale"]["value"] == 120 and targets["max_resources_at_scale"]["met"] is True
    assert targets["max_template_kb_at_scale"]["value"] == 520 and targets["max_template_kb_at_scale"]["met"] is False
    # A handler that failed to import is not measured, not counted as fast.
    assert targets["handler_import_ms"]["value"] == 80.0
    assert targets["asset_kb"]["value"] == 12.0 and targets["asset_kb"]["met"] is True
    assert targets["test_suite_s"]["met"] is False


def test_targets_not_measured_are_none_not_met() -> None:
    targets = report.evaluate_targets(_report(scale={}, tests=None, synth={}))
    by_key = {t["key"]: t for t in targets}
    for key in ("synth_ratio", "seconds_per_model", "max_resources_at_scale", "test_suite_s"):
        assert by_key[key]["value"] is None and by_key[key]["met"] is None


def test_stack_facts_name_the_cloudformation_limits_broken() -> None:
    assert _stack("ok", 500, 1_000_000, outputs=200, parameters=200)["over_limits"] == []
    assert _stack("big", 501, 1_000_001, outputs=201, parameters=201)["over_limits"] == [
        "resources",
        "template_bytes",
        "outputs",
        "parameters",
    ]


def test_markdown_report_states_every_verdict_plainly() -> None:
    result = _report()
    result["targets"] = report.evaluate_targets(result)
    text = report.format_markdown(result)
    assert text.startswith("# Benchmark results\n")
    assert "Test CPU, 2 cores" in text
    assert "| largest template at the largest model count | <= 500 KB | 520.00 | **missed** |" in text
    assert "| full default synth / one-bucket app synth | <= 1.6 x | 1.50 | met |" in text
    assert "| 50 | 30.00 |" in text and "520.0 (dev/Model-07)" in text
    assert "| b | n/a | 9.0 | guessed | failed: Boom |" in text
    assert "2 failed, 120 passed" in text
    assert "no stack over any limit" in text


def test_markdown_report_lists_stacks_over_limits() -> None:
    result = _report()
    result["scale"]["points"][1]["stacks"].append(_stack("prod/Huge", 600, 10_000))
    assert "prod/Huge over ['resources']" in report.format_markdown(result)


def test_pytest_summary_counts() -> None:
    summary = "= 3 failed, 120 passed, 2 skipped, 1 error, 4 warnings in 41.20s ="
    assert parse_pytest_counts(summary) == {"failed": 3, "passed": 120, "skipped": 2, "errors": 1}


def test_quick_option_is_a_small_smoke_pass() -> None:
    quick = parse_args(["--quick"])
    assert (quick.runs, quick.scale_runs, quick.model_counts, quick.skip_tests) == (2, 1, [1, 3], True)
    full = parse_args(["--runs", "3", "--models", "50,1,10"])
    assert (full.runs, full.scale_runs, full.model_counts, full.skip_tests) == (3, 3, [1, 10, 50], False)
    with pytest.raises(SystemExit):
        parse_args(["--models", "1,ten"])


def test_lambda_asset_size_excludes_bytecode_and_matches_a_real_zip(tmp_path: Path) -> None:
    folder = tmp_path / "fn"
    (folder / "__pycache__").mkdir(parents=True)
    (folder / "handler.py").write_text("import logic\n" * 50)
    (folder / "logic.py").write_text("VALUE = 1\n")
    (folder / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"\0" * 50_000)
    size = lambdas.asset_zip_bytes(folder)
    archive = tmp_path / "fn.zip"
    archive.write_bytes(b"")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for name in ("handler.py", "logic.py"):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            out.writestr(info, (folder / name).read_bytes(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    assert size == archive.stat().st_size
    assert size < 50_000


def test_lambda_environment_comes_from_the_template_when_the_asset_matches(tmp_path: Path) -> None:
    folder = tmp_path / "lambda" / "fn"
    folder.mkdir(parents=True)
    (folder / "handler.py").write_text('import os\nNAME = os.environ["PIPELINE_NAME"]\nREGION = os.getenv("REGION")\n')
    asset = tmp_path / "out" / "asset.abc"
    asset.mkdir(parents=True)
    (asset / "handler.py").write_bytes((folder / "handler.py").read_bytes())
    template = tmp_path / "out" / "Stack.template.json"
    function = {
        "Type": "AWS::Lambda::Function",
        "Metadata": {"aws:asset:path": "asset.abc"},
        "Properties": {"Environment": {"Variables": {"PIPELINE_NAME": "mlops-dev-x-training", "BUCKET": {"Ref": "B"}}}},
    }
    template.write_text(json.dumps({"Resources": {"Fn": function}}))
    synthesized = lambdas.template_environments([template])
    env, source = lambdas.handler_environment(folder, synthesized)
    assert source == "template"
    # Exactly the template's variables (REGION, which the source reads but the function is not given, is left to
    # the handler's default); tokens get a guessed value.
    assert env == {"PIPELINE_NAME": "mlops-dev-x-training", "BUCKET": "bench-bucket"}
    guessed_env, guessed = lambdas.handler_environment(folder, {})
    assert guessed == "guessed"
    assert guessed_env == {"PIPELINE_NAME": "bench-name", "REGION": "eu-west-1"}


def test_a_queue_url_is_guessed_in_the_shape_sqs_gives_it() -> None:
    assert lambdas.guess_value("QUEUE_URL") == "https://sqs.eu-west-1.amazonaws.com/111111111111/bench"
    assert lambdas.guess_value("WEBHOOK_URL") == "https://example.invalid/bench"


@pytest.mark.parametrize(
    ("message", "value"),
    [
        ("FEATURES must be a JSON list of feature names", '["bench"]'),
        ("LIMIT='x' is invalid (expected an integer)", "1"),
        ("something else went wrong", None),
    ],
)
def test_import_errors_suggest_the_shape_of_a_value(message: str, value: str | None) -> None:
    assert lambdas.value_from_message(message) == value


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (None, "ok"),
        ("RuntimeError: ValidationFailed: Validation failed.", "completed, but cdk-nag validation failed"),
        ("error: invalid configuration", "failed: error: invalid configuration"),
    ],
)
def test_run_status_tells_nag_findings_from_failures(error: str | None, expected: str) -> None:
    assert report.status(error) == expected


# --- the project rule pack and the event-bus quotas (bench/quotas.py) -------------------------------------------


def _bus_assembly(root: Path, statements: int, wildcard_rules: int, account: str = "111111111111") -> Path:
    """A one-stack cloud assembly with ``statements`` bus-policy statements and ``wildcard_rules`` wildcard rules."""
    from tests.cfn_rules.test_eventbridge import PREFIX, WILDCARD, _bus_policy, _rule

    resources: dict[str, Any] = {f"Allow{i}": _bus_policy(i) for i in range(statements)}
    resources.update({f"Wild{i}": _rule(WILDCARD) for i in range(wildcard_rules)})
    resources["Plain"] = _rule(PREFIX)
    root.mkdir(parents=True, exist_ok=True)
    (root / "Stack.template.json").write_text(json.dumps({"Resources": resources}), encoding="utf-8")
    artifact = {
        "type": "aws:cloudformation:stack",
        "environment": f"aws://{account}/eu-west-1",
        "properties": {"templateFile": "Stack.template.json"},
        "displayName": "dev/Stack",
    }
    (root / "manifest.json").write_text(
        json.dumps({"version": "1", "artifacts": {"Stack": artifact}}), encoding="utf-8"
    )
    return root


def test_bus_facts_count_policy_characters_and_wildcard_rules_per_bus(tmp_path: Path) -> None:
    one = quotas.bus_facts(_bus_assembly(tmp_path / "one", 1, 0))
    five = quotas.bus_facts(_bus_assembly(tmp_path / "five", 5, 3))
    assert [(r["bus"], r["wildcard_rules"]) for r in one] == [("default", 0)]
    assert [(r["bus"], r["wildcard_rules"]) for r in five] == [("default", 3)]
    assert 300 < one[0]["policy_chars"] < 400
    assert 4.5 * one[0]["policy_chars"] < five[0]["policy_chars"] < 5.1 * one[0]["policy_chars"]
    assert quotas.bus_facts(_bus_assembly(tmp_path / "none", 0, 0)) == []


def test_separate_environment_synths_add_up_per_account_and_bus() -> None:
    rows = [
        {"account": "1", "region": "r", "bus": "default", "policy_chars": 100, "wildcard_rules": 2},
        {"account": "1", "region": "r", "bus": "default", "policy_chars": 50, "wildcard_rules": 1},
        {"account": "2", "region": "r", "bus": "default", "policy_chars": 7, "wildcard_rules": 0},
    ]
    merged = quotas.merge_facts(rows)
    assert [(m["account"], m["policy_chars"], m["wildcard_rules"]) for m in merged] == [("1", 150, 3), ("2", 7, 0)]
    assert quotas.largest(merged, "policy_chars") == 150
    assert quotas.largest(merged, "wildcard_rules") == 3
    assert quotas.largest([], "policy_chars") == 0


def test_measure_quotas_synthesizes_each_environment_once_per_count(tmp_path: Path) -> None:
    calls: list[dict[str, str]] = []

    def fake_synth(extra: Any) -> tuple[float, str | None, Path]:
        calls.append(dict(extra))
        count = int(Path(extra["config"]).stem.split("-")[1])
        # dev carries a statement per model; prod a wildcard rule per model, in its own account.
        if extra["env"] == "dev":
            out = _bus_assembly(tmp_path / f"dev-{count}", count, 0)
        else:
            out = _bus_assembly(tmp_path / f"prod-{count}", 0, count, account="333333333333")
        return 1.0, None, out

    result = quotas.measure_quotas(fake_synth, tmp_path / "scratch", [2, 40], ["dev", "prod"])
    assert [(c["env"], Path(c["config"]).name) for c in calls] == [
        ("dev", "platform-2.yaml"),
        ("prod", "platform-2.yaml"),
        ("dev", "platform-40.yaml"),
        ("prod", "platform-40.yaml"),
    ]
    small, big = result["points"]
    assert small["max_wildcard_rules"] == 2 and big["max_wildcard_rules"] == 40
    assert big["max_policy_chars"] > quotas.POLICY_CHARACTERS_QUOTA > small["max_policy_chars"]
    report_ = _report(quotas=dict(result, points=[dict(small, models=50), dict(big, models=200)]))
    targets = {t["key"]: t for t in report.evaluate_targets(report_)}
    assert targets["bus_policy_chars_50"]["met"] is True and targets["bus_policy_chars_200"]["met"] is False
    assert targets["wildcard_rules_50"]["met"] is True and targets["wildcard_rules_200"]["met"] is False


def test_a_failed_quota_synth_is_not_measured(tmp_path: Path) -> None:
    def failing(extra: Any) -> tuple[float, str | None, Path]:
        return 1.0, "error: invalid configuration", tmp_path / "missing"

    point = quotas.measure_quotas(failing, tmp_path / "scratch", [2], ["dev"])["points"][0]
    assert point["max_policy_chars"] is None and point["max_wildcard_rules"] is None
    report_ = _report(quotas={"points": [dict(point, models=50)]})
    targets = {t["key"]: t for t in report.evaluate_targets(report_)}
    assert targets["bus_policy_chars_50"]["met"] is None
    assert targets["bus_policy_chars_200"]["value"] is None


def test_rule_pack_counts_findings_by_rule(tmp_path: Path) -> None:
    pack = quotas.rule_pack(_bus_assembly(tmp_path / "out", 40, 31))
    assert pack["templates"] == 1
    assert pack["rules_ran"] >= 14
    # One template over both quotas: the cfn-lint rules and the assembly checks each fire; the wildcard and
    # plain rules have dead-letter queues.
    assert pack["by_rule"] == {"E9030": 1, "E9031": 1, "E9101": 1, "E9102": 1}
    assert pack["project_findings"] == 4
    assert pack["seconds"] > 0


def test_report_shows_the_rule_pack_and_quota_verdicts() -> None:
    result = _report()
    result["scale"]["points"][1]["rule_pack"] = {
        "seconds": 12.5,
        "templates": 160,
        "rules_ran": 18,
        "project_findings": 0,
        "cfn_lint_findings": 0,
        "by_rule": {},
    }
    result["quotas"] = {
        "points": [
            {
                "models": 200,
                "environments": ["dev", "prod"],
                "synths": [{"environment": "dev", "seconds": 100.0, "error": None}],
                "buses": [{"account": "1", "region": "r", "bus": "default", "policy_chars": 700, "wildcard_rules": 31}],
                "max_policy_chars": 700,
                "max_wildcard_rules": 31,
            }
        ],
        "quotas": {"policy_chars": 10_240, "wildcard_rules": 30},
    }
    result["targets"] = report.evaluate_targets(result)
    text = report.format_markdown(result)
    assert "## Project rule pack at 50 models" in text
    assert "18 project rules" in text and "160 templates" in text
    assert "| 200 | dev, prod | largest bus policy (characters) | 700 | <= 10,240 | met | 100 |" in text
    assert "| 200 | dev, prod | most wildcard rules on a bus | 31 | <= 30 | **missed** | 100 |" in text
    assert (
        "| project-rule findings over every template at the largest model count | <= 0 findings | 0.00 | met |" in text
    )


def test_quota_options() -> None:
    default = parse_args([])
    assert (default.quota_model_counts, default.quota_environments, default.skip_quotas) == (
        [50, 200],
        ["dev", "prod"],
        False,
    )
    assert parse_args(["--quick"]).quota_model_counts == [3]
    chosen = parse_args(["--quota-models", "200,50,50", "--quota-envs", "dev"])
    assert (chosen.quota_model_counts, chosen.quota_environments) == ([50, 200], ["dev"])
    with pytest.raises(SystemExit):
        parse_args(["--quota-models", "lots"])


def _scale_50(cold_s: float | None, gates: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "points": [{"models": 50, "median_s": 30.0, "cold_s": cold_s, "gates": gates, "stacks": [_stack("a", 1, 1)]}]
    }


def test_issue_18_targets_first_run_cold_synth_and_gates() -> None:
    result = _report(
        scale=_scale_50(45.0, {"cold_s": 20.0, "warm_s": 2.0, "error": None}),
        first_run={"command": "make synth", "seconds": 150.0, "venv_bytes": int(1.1 * report.GIB), "error": None},
    )
    targets = {t["key"]: t for t in report.evaluate_targets(result)}
    assert (targets["first_run_s"]["value"], targets["first_run_s"]["met"]) == (150.0, True)
    assert targets["first_run_venv_gib"]["value"] == pytest.approx(1.1, abs=1e-6)
    assert targets["first_run_venv_gib"]["met"] is True
    assert (targets["cold_warm_ratio_50"]["value"], targets["cold_warm_ratio_50"]["met"]) == (1.5, True)
    assert targets["gates_ratio_50"]["value"] == pytest.approx(50 / 30)
    assert targets["gates_ratio_50"]["met"] is False
    assert targets["gates_ratio_50_warm"]["value"] == pytest.approx(32 / 30)
    assert targets["gates_ratio_50_warm"]["met"] is True
    result["targets"] = list(targets.values())
    text = report.format_markdown(result)
    assert "| 50 | 30.00 | 45.00 |" in text and "| 1.50 | 20.00 | 2.00 | ok |" in text
    assert "## First run\n\n`make synth`: 150.0 s; .venv 1.10 GiB; ok." in text


def test_issue_18_targets_failed_or_missing_runs_are_not_measured() -> None:
    result = _report(
        scale=_scale_50(None, {"cold_s": 20.0, "warm_s": 2.0, "error": "E3001 finding"}),
        first_run={"command": "make synth", "seconds": 12.0, "venv_bytes": 10, "error": "error: no network"},
    )
    targets = {t["key"]: t for t in report.evaluate_targets(result)}
    for key in ("first_run_s", "first_run_venv_gib", "cold_warm_ratio_50", "gates_ratio_50", "gates_ratio_50_warm"):
        assert (targets[key]["value"], targets[key]["met"]) == (None, None), key
    assert "failed: E3001 finding" in report.format_markdown(result)


def test_directory_bytes_count_a_hard_linked_file_once(tmp_path: Path) -> None:
    from bench.run import _directory_bytes

    (tmp_path / "a").write_bytes(b"x" * 100_000)
    alone = _directory_bytes(tmp_path)
    (tmp_path / "b").hardlink_to(tmp_path / "a")
    assert alone >= 100_000
    assert _directory_bytes(tmp_path) == alone


def test_the_default_scale_covers_200_models_and_quick_skips_the_first_run() -> None:
    assert parse_args([]).model_counts == [1, 10, 50, 200]
    assert parse_args([]).skip_first_run is False
    assert parse_args(["--quick"]).skip_first_run is True


def _cicd_assembly(tmp_path: Path, stages: list[tuple[str, int]]) -> Path:
    pipeline = {
        "Type": "AWS::CodePipeline::Pipeline",
        "Properties": {
            "Stages": [{"Name": name, "Actions": [{"Name": f"a{i}"} for i in range(count)]} for name, count in stages]
        },
    }
    template = {"Resources": {"Pipeline9850B417": pipeline, "Bucket": {"Type": "AWS::S3::Bucket"}}}
    (tmp_path / "Cicd.template.json").write_text(json.dumps(template), encoding="utf-8")
    (tmp_path / "assembly-dev").mkdir()
    (tmp_path / "assembly-dev" / "devData.template.json").write_bytes(b"x" * 1000)
    return tmp_path


def test_pipeline_facts_count_stages_actions_and_the_deployed_artifact(tmp_path: Path) -> None:
    outdir = _cicd_assembly(tmp_path, [("Source", 1), ("Build", 1), ("dev.1", 50), ("dev.2", 3)])
    facts = quotas.pipeline_facts(outdir)
    assert facts is not None
    template_bytes = (outdir / "Cicd.template.json").stat().st_size
    assert (facts["stages"], facts["actions"], facts["max_actions_per_stage"]) == (4, 55, 50)
    assert facts["stage_actions"][2] == {"name": "dev.1", "actions": 50}
    assert (facts["template_bytes"], facts["assembly_bytes"]) == (template_bytes, template_bytes + 1000)
    assert facts["quotas"] == {"stages": 50, "actions_per_stage": 50, "cloudformation_input_artifact_bytes": 2**28}


def test_no_pipeline_stack_means_no_pipeline_facts(tmp_path: Path) -> None:
    assert quotas.pipeline_facts(tmp_path) is None


def _pipeline_point(models: int, stacks: int, stages: int, max_actions: int) -> dict[str, Any]:
    return {
        "models": models,
        "median_s": 10.0,
        "stacks": [_stack(f"s{i}", 10, 1000) for i in range(stacks)],
        "pipeline": {
            "stages": stages,
            "actions": stages * 10,
            "max_actions_per_stage": max_actions,
            "stage_actions": [{"name": "dev.1", "actions": max_actions}],
            "template_bytes": 420_000,
            "assembly_bytes": 30 * report.MIB,
        },
    }


def test_issue_18_targets_stacks_per_model_and_the_pipeline_quotas() -> None:
    # 1 model: 7 shared stacks + 4; 50 models: 7 + 200 -> 4 stacks per added model.
    scale = {"points": [_pipeline_point(1, 11, 8, 12), _pipeline_point(50, 207, 13, 50)]}
    targets = {t["key"]: t for t in report.evaluate_targets(_report(scale=scale))}
    assert (targets["stacks_per_model"]["value"], targets["stacks_per_model"]["met"]) == (4.0, True)
    assert (targets["pipeline_stages_50"]["value"], targets["pipeline_stages_50"]["met"]) == (13, True)
    assert targets["pipeline_actions_per_stage_50"]["met"] is True
    assert (targets["pipeline_artifact_mb_50"]["value"], targets["pipeline_artifact_mb_50"]["met"]) == (30.0, True)
    assert (targets["cicd_template_kb_50"]["value"], targets["cicd_template_kb_50"]["met"]) == (420.0, True)
    missed = {"points": [_pipeline_point(1, 14, 8, 12), _pipeline_point(50, 357, 51, 51)]}
    targets = {t["key"]: t for t in report.evaluate_targets(_report(scale=missed))}
    assert targets["stacks_per_model"]["value"] == 7.0 and targets["stacks_per_model"]["met"] is False
    assert targets["pipeline_stages_50"]["met"] is False and targets["pipeline_actions_per_stage_50"]["met"] is False
    text = report.format_markdown(_report(scale=scale))
    assert "| 50 | 13 | 130 | 50 | 420.0 | 30.0 |" in text and "Stages at 50 models (actions): dev.1 50." in text


def test_stacks_per_model_needs_two_model_counts() -> None:
    assert report.stacks_per_model({"points": [_pipeline_point(50, 207, 13, 50)]}) is None
    assert report.stacks_per_model({}) is None


def test_the_test_run_gets_the_installed_node_and_checkov_venv(tmp_path: Path) -> None:
    source, workspace = tmp_path / "repo", tmp_path / "snapshot"
    (source / ".venv-checkov" / "bin").mkdir(parents=True)
    workspace.mkdir()
    (workspace / "node_modules").mkdir()  # already there: left alone

    assert bench_run.link_installed_tools(workspace, source) == workspace

    assert (workspace / ".venv-checkov").is_symlink()
    assert (workspace / ".venv-checkov" / "bin").is_dir()
    assert not (workspace / "node_modules").is_symlink()


def test_handler_variables_come_from_a_synth_that_serves_every_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    def synth_once(workspace: Path, script: str, context: str, scratch: Path) -> tuple[float, str | None, Path]:
        calls.append((script, json.loads(context)))
        return 1.0, None, scratch / "out"

    monkeypatch.setattr(bench_run, "synth_once", synth_once)
    assert bench_run.served_synth(tmp_path, tmp_path) == tmp_path / "out"
    ((script, context),) = calls
    assert script == "app.py"
    assert context["approved_models"] == str(tmp_path / "config" / "approved-models.example.json")
    assert (REPO / "config" / "approved-models.example.json").is_file()

    monkeypatch.setattr(bench_run, "synth_once", lambda *_: (1.0, "RuntimeError: boom", tmp_path / "out"))
    assert bench_run.served_synth(tmp_path, tmp_path) is None
