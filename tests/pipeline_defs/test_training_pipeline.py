"""The training pipeline definition: graph, parameters, placeholders, API validity, offline rendering."""

from __future__ import annotations

import json
import re
import socket
from typing import Any

import pytest

from pipeline_defs.offline import NetworkAccessError, offline_session
from pipeline_defs.render import build_definition
from pipeline_defs.settings import Placeholders, TrainingPipelineSettings
from pipeline_defs.training_pipeline import (
    ARTIFACT_REPORT_FILE,
    ARTIFACT_REPORT_NAME,
    ARTIFACT_SHA256_JSON_PATH,
    AUC_JSON_PATH,
    CONDITION_STEP,
    DATA_QUALITY_STEP,
    EVALUATE_STEP,
    FAIL_STEP,
    MODEL_QUALITY_STEP,
    PREPROCESS_STEP,
    REGISTER_STEP,
    TRAIN_STEP,
    build_training_pipeline,
)
from tests.pipeline_defs.botocore_shapes import validate_step_arguments

BUILDER = "pipeline_defs.training_pipeline:build_training_pipeline"
KMS = Placeholders.ref(Placeholders.KMS_KEY_ARN)
ARTIFACTS = Placeholders.ref(Placeholders.ARTIFACT_BUCKET)


def make_settings(**overrides: Any) -> TrainingPipelineSettings:
    """Settings of a sample model; tests override what they look at."""
    values: dict[str, Any] = {
        "pipeline_name": "breast-cancer-training",
        "region": "eu-west-1",
        "model_package_group_name": "breast-cancer",
    }
    values.update(overrides)
    return TrainingPipelineSettings(**values)


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    """The rendered definition of the sample settings (rendered once: the SDK is slow)."""
    return dict(json.loads(build_definition(BUILDER, make_settings())))


def all_steps(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every step by name, including those nested in condition branches."""
    found: dict[str, dict[str, Any]] = {}

    def visit(steps: list[dict[str, Any]]) -> None:
        for step in steps:
            found[step["Name"]] = step
            arguments = step.get("Arguments", {})
            if step["Type"] == "Condition":
                visit(arguments["IfSteps"])
                visit(arguments["ElseSteps"])

    visit(definition["Steps"])
    return found


def gets(value: Any) -> set[str]:
    """Every ``{"Get": ...}`` reference inside ``value``."""
    text = json.dumps(value)
    return set(re.findall(r'"Get": "([^"]+)"', text))


def test_step_graph(definition: dict[str, Any]) -> None:
    steps = all_steps(definition)
    assert {name: step["Type"] for name, step in steps.items()} == {
        PREPROCESS_STEP: "Processing",
        DATA_QUALITY_STEP: "QualityCheck",
        TRAIN_STEP: "Training",
        EVALUATE_STEP: "Processing",
        MODEL_QUALITY_STEP: "QualityCheck",
        CONDITION_STEP: "Condition",
        REGISTER_STEP: "RegisterModel",
        FAIL_STEP: "Fail",
    }
    # Data dependencies are property references, which order the steps.
    assert any(ref.startswith("Steps.Preprocess.") for ref in gets(steps[DATA_QUALITY_STEP]))
    assert any("Outputs['baseline']" in ref for ref in gets(steps[DATA_QUALITY_STEP]))
    train_refs = gets(steps[TRAIN_STEP])
    assert any("Outputs['train']" in ref for ref in train_refs)
    assert any("Outputs['validation']" in ref for ref in train_refs)
    evaluate_refs = gets(steps[EVALUATE_STEP])
    assert "Steps.Train.ModelArtifacts.S3ModelArtifacts" in evaluate_refs
    assert any("Outputs['test']" in ref for ref in evaluate_refs)
    assert any("Outputs['quality_baseline']" in ref for ref in gets(steps[MODEL_QUALITY_STEP]))
    # The gate waits for the model-quality baseline, whose properties the registration uses.
    condition = steps[CONDITION_STEP]
    assert condition["DependsOn"] == [MODEL_QUALITY_STEP]
    assert [s["Name"] for s in condition["Arguments"]["IfSteps"]] == [REGISTER_STEP]
    assert [s["Name"] for s in condition["Arguments"]["ElseSteps"]] == [FAIL_STEP]


def test_auc_condition_reads_the_evaluation_report(definition: dict[str, Any]) -> None:
    steps = all_steps(definition)
    report = steps[EVALUATE_STEP]["PropertyFiles"]
    assert report == [
        {"FilePath": "evaluation.json", "OutputName": "evaluation", "PropertyFileName": "EvaluationReport"},
        {"FilePath": ARTIFACT_REPORT_FILE, "OutputName": "evaluation", "PropertyFileName": ARTIFACT_REPORT_NAME},
    ]
    (condition,) = steps[CONDITION_STEP]["Arguments"]["Conditions"]
    assert condition["Type"] == "GreaterThanOrEqualTo"
    assert condition["LeftValue"]["Std:JsonGet"]["Path"] == AUC_JSON_PATH
    assert condition["LeftValue"]["Std:JsonGet"]["PropertyFile"] == {
        "Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"
    }
    assert condition["RightValue"] == {"Get": "Parameters.AucThreshold"}


def test_fail_message_names_auc_and_threshold(definition: dict[str, Any]) -> None:
    message = all_steps(definition)[FAIL_STEP]["Arguments"]["ErrorMessage"]["Std:Join"]
    values = message["Values"]
    assert {"Get": "Parameters.AucThreshold"} in values
    assert any(isinstance(v, dict) and v.get("Std:JsonGet", {}).get("Path") == AUC_JSON_PATH for v in values)
    assert any(isinstance(v, str) and "threshold" in v for v in values)


def test_parameters_and_defaults(definition: dict[str, Any]) -> None:
    settings = make_settings()
    params = {p["Name"]: (p["Type"], p["DefaultValue"]) for p in definition["Parameters"]}
    assert params == {
        "InputDataUri": ("String", settings.input_data_uri),
        "ProcessingInstanceType": ("String", settings.processing_instance_type),
        "ProcessingInstanceCount": ("Integer", settings.processing_instance_count),
        "TrainingInstanceType": ("String", settings.training_instance_type),
        "TrainingInstanceCount": ("Integer", settings.training_instance_count),
        "AucThreshold": ("Float", settings.quality_threshold),
        "ModelApprovalStatus": ("String", "PendingManualApproval"),
        "TriggerReason": ("String", "manual"),
    }


def test_registration_has_metrics_and_drift_baselines(definition: dict[str, Any]) -> None:
    register = all_steps(definition)[REGISTER_STEP]["Arguments"]
    assert register["ModelPackageGroupName"] == "breast-cancer"
    assert register["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    container = register["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert "sagemaker-xgboost:1.7-1" in container["Image"]
    metrics = register["ModelMetrics"]
    assert "evaluation.json" in json.dumps(metrics["ModelQuality"]["Statistics"])
    assert gets(metrics["ModelQuality"]["Constraints"]) == {"Steps.ModelQualityBaseline.CalculatedBaselineConstraints"}
    assert gets(metrics["ModelDataQuality"]) == {
        "Steps.DataQualityBaseline.CalculatedBaselineStatistics",
        "Steps.DataQualityBaseline.CalculatedBaselineConstraints",
    }
    assert gets(register["DriftCheckBaselines"]) == {
        f"Steps.{step}.BaselineUsedForDriftCheck{kind}"
        for step in (DATA_QUALITY_STEP, MODEL_QUALITY_STEP)
        for kind in ("Statistics", "Constraints")
    }


def test_registered_container_is_the_algorithm_with_a_clean_environment(definition: dict[str, Any]) -> None:
    # No SAGEMAKER_PROGRAM / SAGEMAKER_SUBMIT_DIRECTORY: the XGBoost container imports any program name that is
    # not None (an empty one too) and then never answers /ping. See REGISTERED_ENVIRONMENT.
    register = all_steps(definition)[REGISTER_STEP]["Arguments"]
    assert register["InferenceSpecification"]["Containers"] == [
        {
            "Environment": {},
            "Image": "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1",
            "ModelDataUrl": {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"},
        }
    ]
    assert register["InferenceSpecification"]["SupportedContentTypes"] == ["text/csv"]
    assert register["InferenceSpecification"]["SupportedResponseMIMETypes"] == ["text/csv"]


def test_package_records_the_sha256_of_the_evaluated_artifact(definition: dict[str, Any]) -> None:
    steps = all_steps(definition)
    metadata = steps[REGISTER_STEP]["Arguments"]["CustomerMetadataProperties"]
    assert metadata == {
        "ModelArtifactSha256": {
            "Std:JsonGet": {
                "Path": ARTIFACT_SHA256_JSON_PATH,
                "PropertyFile": {"Get": f"Steps.{EVALUATE_STEP}.PropertyFiles.{ARTIFACT_REPORT_NAME}"},
            }
        },
        "TriggerReason": {"Get": "Parameters.TriggerReason"},
        # The open drift backend's training baseline, which promotion copies with the model.
        "TrainingBaselineS3Uri": {
            "Std:Join": {
                "On": "/",
                "Values": [
                    {"Get": f"Steps.{PREPROCESS_STEP}.ProcessingOutputConfig.Outputs['baseline'].S3Output.S3Uri"},
                    "baseline.csv",
                ],
            }
        },
    }
    # The digest is of the very tarball the package registers: Evaluate's model input is the training output.
    (model_input,) = [i for i in steps[EVALUATE_STEP]["Arguments"]["ProcessingInputs"] if i["InputName"] == "model"]
    package_data = steps[REGISTER_STEP]["Arguments"]["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    assert model_input["S3Input"]["S3Uri"] == package_data
    assert model_input["S3Input"]["LocalPath"] == "/opt/ml/processing/model"


def test_model_quality_check_is_binary_classification(definition: dict[str, Any]) -> None:
    step = all_steps(definition)[MODEL_QUALITY_STEP]
    env = step["Arguments"]["Environment"]
    assert env["problem_type"] == "BinaryClassification"
    assert env["probability_attribute"] == "probability"
    assert env["ground_truth_attribute"] == "label"
    assert step["CheckType"] == "MODEL_QUALITY"
    assert all_steps(definition)[DATA_QUALITY_STEP]["CheckType"] == "DATA_QUALITY"


def test_every_step_is_a_valid_api_call(definition: dict[str, Any]) -> None:
    validated = 0
    for step in all_steps(definition).values():
        if step["Type"] in ("Condition", "Fail"):
            continue
        validate_step_arguments(step)
        validated += 1
    assert validated == 6


def test_validator_rejects_a_bad_step(definition: dict[str, Any]) -> None:
    step = json.loads(json.dumps(all_steps(definition)[TRAIN_STEP]))
    step["Arguments"]["ResourceConfig"]["VolumeSizeInGB"] = "thirty"
    with pytest.raises(AssertionError, match="VolumeSizeInGB"):
        validate_step_arguments(step)


def test_every_job_is_isolated_and_encrypted(definition: dict[str, Any]) -> None:
    steps = all_steps(definition)
    for name in (PREPROCESS_STEP, EVALUATE_STEP, DATA_QUALITY_STEP, MODEL_QUALITY_STEP):
        args = steps[name]["Arguments"]
        assert args["NetworkConfig"]["EnableNetworkIsolation"] is True, name
        assert args["NetworkConfig"]["EnableInterContainerTrafficEncryption"] is True, name
        assert "VpcConfig" not in args["NetworkConfig"], name
        assert args["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == KMS, name
        assert args["ProcessingOutputConfig"]["KmsKeyId"] == KMS, name
    train = steps[TRAIN_STEP]["Arguments"]
    assert train["EnableNetworkIsolation"] is True
    assert train["EnableInterContainerTrafficEncryption"] is True
    assert train["ResourceConfig"]["VolumeKmsKeyId"] == KMS
    assert train["OutputDataConfig"]["KmsKeyId"] == KMS
    assert "VpcConfig" not in train


def test_vpc_config_when_settings_give_subnets() -> None:
    settings = make_settings(subnet_ids=("subnet-1", "subnet-2"), security_group_ids=("sg-1",))
    steps = all_steps(json.loads(build_definition(BUILDER, settings)))
    vpc = {"Subnets": ["subnet-1", "subnet-2"], "SecurityGroupIds": ["sg-1"]}
    for name in (PREPROCESS_STEP, EVALUATE_STEP, DATA_QUALITY_STEP, MODEL_QUALITY_STEP):
        assert steps[name]["Arguments"]["NetworkConfig"]["VpcConfig"] == vpc, name
    assert steps[TRAIN_STEP]["Arguments"]["VpcConfig"] == vpc


def test_outputs_are_under_the_artifact_bucket_per_execution(definition: dict[str, Any]) -> None:
    steps = all_steps(definition)
    uris = [
        output["S3Output"]["S3Uri"]
        for name in (PREPROCESS_STEP, EVALUATE_STEP, DATA_QUALITY_STEP, MODEL_QUALITY_STEP)
        for output in steps[name]["Arguments"]["ProcessingOutputConfig"]["Outputs"]
    ]
    uris.append(steps[TRAIN_STEP]["Arguments"]["OutputDataConfig"]["S3OutputPath"])
    for uri in uris:
        values = uri["Std:Join"]["Values"]
        assert values[:3] == ["s3:/", ARTIFACTS, "training-pipeline"], values
        assert values[3] == {"Get": "Execution.PipelineExecutionId"}


def test_step_scripts_come_from_their_asset_uris(definition: dict[str, Any]) -> None:
    steps = all_steps(definition)
    for name, bucket, key in (
        (PREPROCESS_STEP, Placeholders.PREPROCESS_SCRIPT_BUCKET, Placeholders.PREPROCESS_SCRIPT_KEY),
        (EVALUATE_STEP, Placeholders.EVALUATE_SCRIPT_BUCKET, Placeholders.EVALUATE_SCRIPT_KEY),
    ):
        inputs = {i["InputName"]: i["S3Input"] for i in steps[name]["Arguments"]["ProcessingInputs"]}
        assert inputs["code"]["S3Uri"] == Placeholders.s3_uri(bucket, key)
        entrypoint = steps[name]["Arguments"]["AppSpecification"]["ContainerEntrypoint"]
        assert inputs["code"]["LocalPath"] in entrypoint[2]
    raw = {i["InputName"]: i for i in steps[PREPROCESS_STEP]["Arguments"]["ProcessingInputs"]}["raw"]
    assert raw["S3Input"]["S3Uri"] == {"Get": "Parameters.InputDataUri"}
    assert raw["S3Input"]["LocalPath"] == "/opt/ml/processing/input/raw"


def test_retry_policies_and_caching(definition: dict[str, Any]) -> None:
    steps = all_steps(definition)
    for name in (PREPROCESS_STEP, TRAIN_STEP, EVALUATE_STEP):
        kinds = {e for policy in steps[name]["RetryPolicies"] for e in policy["ExceptionType"]}
        assert {"Step.THROTTLING", "SageMaker.CAPACITY_ERROR"} <= kinds, name
        assert steps[name]["CacheConfig"] == {"Enabled": True, "ExpireAfter": "P30D"}
    register_kinds = {e for p in steps[REGISTER_STEP]["RetryPolicies"] for e in p["ExceptionType"]}
    assert register_kinds == {"Step.THROTTLING", "Step.SERVICE_FAULT"}


def test_caching_can_be_turned_off() -> None:
    definition = json.loads(build_definition(BUILDER, make_settings(step_caching=False)))
    assert all_steps(definition)[TRAIN_STEP]["CacheConfig"]["Enabled"] is False


def test_only_known_placeholders(definition: dict[str, Any]) -> None:
    text = json.dumps(definition)
    used = set(re.findall(r"\$\{([^}!]*)\}", text))
    assert used <= Placeholders.all() | Placeholders.PSEUDO_PARAMETERS
    assert Placeholders.all() <= used  # every declared placeholder is needed, none is dead


def test_region_selects_the_image_accounts() -> None:
    definition = json.loads(build_definition(BUILDER, make_settings(region="us-east-1")))
    image = all_steps(definition)[TRAIN_STEP]["Arguments"]["AlgorithmSpecification"]["TrainingImage"]
    assert image.endswith(".dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1")


def test_renders_without_credentials_or_network(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    attempts: list[Any] = []

    def refuse(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise OSError(f"network disabled in this test: {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    definition = json.loads(build_definition(BUILDER, make_settings(pipeline_name="offline")))
    assert len(all_steps(definition)) == 8
    assert attempts == []


def test_a_stray_aws_call_fails_loudly() -> None:
    session = offline_session("eu-west-1", default_bucket="${ArtifactBucket}")
    with pytest.raises(NetworkAccessError, match=r"tried to call AWS: GET https://s3"):
        session.boto_session.client("s3").list_buckets()
    assert session.default_bucket() == "${ArtifactBucket}"


def test_builder_is_pure_and_takes_settings() -> None:
    settings = make_settings(quality_threshold=0.9)
    pipeline = build_training_pipeline(settings, offline_session("eu-west-1", "${ArtifactBucket}"))
    params = {p["Name"]: p["DefaultValue"] for p in json.loads(pipeline.definition())["Parameters"]}
    assert params["AucThreshold"] == 0.9


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"quality_threshold": 1.5}, "quality_threshold"),
        ({"problem_type": "ranking"}, "problem_type"),
        ({"problem_type": "regression"}, "quality_metric"),
        ({"default_approval_status": "Maybe"}, "default_approval_status"),
        ({"cache_expire_after": "30 days"}, "cache_expire_after"),
        ({"region": "europe"}, "region"),
        ({"subnet_ids": ("subnet-1",)}, "subnet_ids"),
        ({"hyperparameters": {"eta": 0.2}}, "hyperparameters"),
        ({"output_prefix": "a/b"}, "output_prefix"),
        ({"training_instance_count": 0}, "training_instance_count"),
    ],
)
def test_settings_reject_bad_values(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        make_settings(**overrides)


def test_settings_dict_is_stable_and_json_able() -> None:
    first = make_settings(hyperparameters={"b": "1", "a": "2"})
    second = make_settings(hyperparameters={"a": "2", "b": "1"})
    assert json.dumps(first.to_dict()) == json.dumps(second.to_dict())
    assert list(first.to_dict()["hyperparameters"]) == ["a", "b"]
