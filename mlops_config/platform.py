"""The top of the configuration: the project, its environments, its models and the CI/CD toolchain."""

from __future__ import annotations

import re
from typing import Self

from pydantic import Field, ValidationInfo, field_validator, model_validator

from mlops_config.base import (
    AccountId,
    Email,
    EnvironmentName,
    LogRetentionDays,
    ModelName,
    ProjectName,
    Region,
    S3Prefix,
    Settings,
    ascii_fullmatch,
    shown,
)
from mlops_config.inference_modes import SharedEndpointSettings
from mlops_config.mode_rules import check_inference_modes
from mlops_config.model_kind import (
    DEFAULT_GATES,
    METRICS,
    ImageScope,
    ImageSettings,
    ModelImages,
    ProblemType,
    QualityGate,
    QualityMetric,
    gate_for,
)
from mlops_config.monitoring import MonitoringSettings, monitoring_fits_problem_type, quality_alarm
from mlops_config.retraining import RetrainingSettings
from mlops_config.serving import ServingSettings
from mlops_config.training import TrainingSettings


class VpcSettings(Settings):
    """Existing private subnets and security groups that SageMaker jobs and endpoints run in."""

    subnet_ids: tuple[str, ...] = Field(min_length=1, max_length=16)
    security_group_ids: tuple[str, ...] = Field(min_length=1, max_length=5)

    @field_validator("subnet_ids")
    @classmethod
    def _subnets(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for subnet in value:
            if not ascii_fullmatch(r"subnet-[0-9a-f]{8,17}", subnet):
                raise ValueError(f"{shown(subnet)} is not a subnet ID; allowed: subnet- followed by 8-17 hex digits")
        return value

    @field_validator("security_group_ids")
    @classmethod
    def _groups(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for group in value:
            if not ascii_fullmatch(r"sg-[0-9a-f]{8,17}", group):
                raise ValueError(f"{shown(group)} is not a security group ID; allowed: sg- followed by 8-17 hex digits")
        return value


class LifecycleSettings(Settings):
    """How long objects are kept in the environment's buckets (days)."""

    noncurrent_version_expiration_days: int = Field(default=90, ge=1, le=3650)
    data_capture_expiration_days: int = Field(default=90, ge=1, le=3650)
    monitoring_reports_expiration_days: int = Field(default=365, ge=1, le=3650)
    access_logs_expiration_days: int = Field(default=365, ge=1, le=3650)
    infrequent_access_after_days: int | None = Field(default=30, ge=30, le=3650)


class EnvironmentSettings(Settings):
    """One deployment target: an AWS account and region."""

    name: EnvironmentName
    account: AccountId
    region: Region
    production: bool = Field(default=False, description="Production environments must retain data.")
    trains: bool = Field(default=False, description="Runs training pipelines and holds a model registry.")
    retain_data: bool = Field(default=True, description="Keep keys, buckets, registry and logs on stack deletion.")
    manual_approval: bool | None = Field(
        default=None, description="CI/CD waits for a person before deploying here; defaults to `production`."
    )
    log_retention_days: LogRetentionDays = 90
    notification_emails: tuple[Email, ...] = ()
    lifecycle: LifecycleSettings = LifecycleSettings()
    vpc: VpcSettings | None = None
    inference_components: SharedEndpointSettings | None = Field(
        default=None, description="The shared endpoint of models with serving.mode 'components' (docs/serving.md)."
    )

    @model_validator(mode="after")
    def _production_retains(self) -> Self:
        if self.name.startswith("prod") and not self.production:
            raise ValueError(
                f"environment {self.name!r} looks like production but sets production: false; "
                "allowed: production: true, or a name that does not start with 'prod'"
            )
        if self.production and not self.retain_data:
            raise ValueError("retain_data: a production environment must retain its data; allowed: true")
        return self

    @property
    def needs_manual_approval(self) -> bool:
        """Whether CI/CD waits for a person before deploying here."""
        return self.production if self.manual_approval is None else self.manual_approval


class ModelEnvironmentSettings(Settings):
    """What one model does in one environment."""

    serving: ServingSettings = ServingSettings()
    monitoring: MonitoringSettings = MonitoringSettings()
    retraining: RetrainingSettings = RetrainingSettings()

    @field_validator("monitoring")
    @classmethod
    def _backend_fits_serving(cls, value: MonitoringSettings, info: ValidationInfo) -> MonitoringSettings:
        # The monitoring backend depends on the endpoint kind (serverless endpoints have no data capture).
        serving = info.data.get("serving")
        return value.for_serving_mode(serving.mode) if isinstance(serving, ServingSettings) else value


def _user_serving_image_fits(index: int, image: ImageSettings, env: EnvironmentSettings) -> None:
    """A user serving image must be pullable by the environment's models, and fixed where production serves it."""
    where = f"models[{index}].images.serving.uri (environment {env.name!r})"
    pulled = image.repository("inference", env.region)
    # ContainerDefinition.Image (SageMaker API reference): "the Docker image for inference container in Amazon
    # EC2 Container Registry must be in the same region as the model or endpoint you are creating".
    if pulled.region != env.region:
        raise ValueError(
            f"{where}: {image.uri!r} is in region {pulled.region}, the environment in {env.region}; SageMaker pulls "
            f"a model's image from its own Region only; allowed: an image in {env.region} (replicate the repository "
            "there, docs/bring-your-own-model.md)"
        )
    # Promotion verifies the model's bytes by SHA-256; a tag can be pointed at other image bytes after approval,
    # so production serves a user image by digest only (promotion then accepts exactly that digest).
    if env.production and not (pulled.reference or "").startswith("sha256:"):
        raise ValueError(
            f"{where}: {image.uri!r} is pinned by tag, which can be moved to other bytes after the model was "
            "approved; allowed in a production environment: <repository>@sha256:<64 hex digits>"
        )


class ModelSettings(Settings):
    """A model the platform manages. Adding one is adding an entry to `models`."""

    name: ModelName
    description: str = Field(default="", max_length=256)
    data_prefix: S3Prefix | None = Field(
        default=None, description="Training data prefix; defaults to '<name>/training/'."
    )
    problem_type: ProblemType = Field(
        default="binary_classification",
        description="What the model predicts; decides its quality metrics, gate, drift metrics and alarms.",
    )
    images: ModelImages = ModelImages()
    training: TrainingSettings = TrainingSettings()
    environments: dict[str, ModelEnvironmentSettings] = Field(
        default_factory=dict,
        description="Per-environment settings keyed by environment name; an environment left out gets the defaults.",
    )

    @model_validator(mode="after")
    def _gate_fits_problem_type(self) -> Self:
        gate = self.training.quality_gate
        allowed = METRICS[self.problem_type]
        if gate is not None and gate.metric not in allowed:
            raise ValueError(
                f"training.quality_gate.metric: {gate.metric!r} is not a {self.problem_type} metric; "
                f"allowed: {', '.join(allowed)}"
            )
        if gate is None and self.problem_type not in DEFAULT_GATES:
            raise ValueError(
                f"training.quality_gate: required for a {self.problem_type} model (no default); "
                f"allowed metrics: {', '.join(allowed)}"
            )
        for env_name, in_env in self.environments.items():
            problem = monitoring_fits_problem_type(self.problem_type, in_env.monitoring)
            if problem is not None:
                raise ValueError(f"environments.{env_name}.{problem}")
        return self

    def quality_alarm(self, environment: str) -> QualityGate:
        """The metric and threshold of this model's model-quality alarm in ``environment``."""
        return quality_alarm(self.problem_type, self.in_environment(environment).monitoring.alarms, self.quality_gate)

    @property
    def quality_gate(self) -> QualityGate:
        """The gate a newly trained version must pass to be registered (the problem type's default if unset)."""
        return gate_for(self.problem_type, self.training.quality_gate)

    @property
    def quality_metrics(self) -> tuple[QualityMetric, ...]:
        """Every quality metric this model reports (evaluation, drift monitor, alarms)."""
        return METRICS[self.problem_type]

    @property
    def training_data_prefix(self) -> str:
        """Where this model's raw training data lands in the data bucket."""
        return self.data_prefix or f"{self.name}/training/"

    def in_environment(self, environment: str) -> ModelEnvironmentSettings:
        """The model's settings in ``environment`` (defaults where the config says nothing)."""
        return self.environments.get(environment, _DEFAULT_MODEL_ENVIRONMENT)


_DEFAULT_MODEL_ENVIRONMENT = ModelEnvironmentSettings()


# IAM role and managed policy names ("IAM object quotas and limits": names of up to 64 / 128 characters).
IAM_NAME = r"[\w+=,.@-]{1,64}"
IAM_POLICY_NAME = r"[\w+=,.@-]{1,128}"
# An approver: a role of the tooling account (checked below); ASCII only, the whole value.
_APPROVER_ARN = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):role/[\w+=,.@/*-]{1,512}", re.ASCII)


class ToolingSettings(Settings):
    """The CI/CD toolchain account and its source repository."""

    account: AccountId
    region: Region
    connection_arn: str | None = Field(
        default=None, description="CodeConnections ARN; without it the pipeline stack is not synthesized."
    )
    repository: str = Field(default="my-org/sagemaker-mlops-cdk", max_length=200)
    branch: str = Field(default="main", min_length=1, max_length=255)
    notification_emails: tuple[Email, ...] = ()
    approver_role_name: str | None = Field(
        default=None,
        description="The tooling-account role that alone may approve the release's manual approvals (created by "
        "the pipeline stack); defaults to '<project>-release-approver'.",
    )
    approver_principal_arns: tuple[str, ...] = Field(
        default=(),
        max_length=10,
        description="Who in the tooling account may assume the approver role (IAM role ARNs, '*' allowed in the "
        "name part, e.g. an IAM Identity Center permission set's role); empty: any principal of the tooling account "
        "that its IAM policies allow to assume it.",
    )

    @field_validator("approver_role_name")
    @classmethod
    def _approver_role(cls, value: str | None) -> str | None:
        if value is not None and not ascii_fullmatch(IAM_NAME, value):
            raise ValueError(f"{value!r} is not an IAM role name; allowed: 1-64 letters, digits and + = , . @ _ -")
        return value

    @field_validator("approver_principal_arns")
    @classmethod
    def _approvers(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        account = info.data.get("account")
        for arn in value:
            match = _APPROVER_ARN.fullmatch(arn) if arn.isascii() else None
            if match is None or match.group(1) != account:
                raise ValueError(
                    f"{arn!r} is not a role ARN of the tooling account {account}; allowed: "
                    f"arn:aws:iam::{account}:role/<path and name, '*' allowed>"
                )
        return value

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str) -> str:
        if not ascii_fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", value):
            raise ValueError(
                f"{shown(value)} is not a repository; allowed: 'owner/name' of ASCII letters, digits, _ . -"
            )
        return value

    @field_validator("connection_arn")
    @classmethod
    def _connection(cls, value: str | None) -> str | None:
        pattern = r"arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:[0-9]{12}:connection/[0-9a-f-]{36}"
        if value is not None and not ascii_fullmatch(pattern, value):
            raise ValueError(
                f"{shown(value)} is not a CodeConnections ARN; allowed: "
                "arn:aws:codeconnections:<region>:<account>:connection/<uuid>"
            )
        return value


class PlatformConfig(Settings):
    """The whole platform: validated once in app.py, then passed down as typed props."""

    project: ProjectName = "mlops"
    registry_environment: str = Field(
        description="The environment that trains and whose model registry the other environments read from."
    )
    environments: tuple[EnvironmentSettings, ...] = Field(min_length=1, max_length=10)
    models: tuple[ModelSettings, ...] = Field(min_length=1, max_length=200)
    tooling: ToolingSettings | None = None
    permissions_boundary: str | None = Field(
        default=None,
        description="Name of the customer-managed policy every IAM role of the app carries as its permissions "
        "boundary (bootstrap/permissions-boundary.json, created in every account before deploying; docs/security.md); "
        "defaults to '<project>-permissions-boundary'.",
    )

    @field_validator("permissions_boundary")
    @classmethod
    def _boundary(cls, value: str | None) -> str | None:
        if value is not None and not ascii_fullmatch(IAM_POLICY_NAME, value):
            raise ValueError(
                f"{value!r} is not an IAM policy name; allowed: 1-128 letters, digits and + = , . @ _ - "
                "(a name, not an ARN: the policy is looked up in each environment's own account)"
            )
        return value

    @property
    def permissions_boundary_name(self) -> str:
        """The managed policy every role of the app carries as its permissions boundary, in every account."""
        return self.permissions_boundary or f"{self.project}-permissions-boundary"

    @property
    def approver_role_name(self) -> str:
        """The tooling-account role that may approve the release pipeline's manual approvals."""
        configured = self.tooling.approver_role_name if self.tooling else None
        return configured or f"{self.project}-release-approver"

    @model_validator(mode="after")
    def _cross_references(self) -> Self:
        env_names = [env.name for env in self.environments]
        _no_duplicates("environments", "name", env_names)
        _no_duplicates("models", "name", [model.name for model in self.models])
        accounts = [(env.account, env.region) for env in self.environments]
        for index, pair in enumerate(accounts):
            if accounts.index(pair) != index:
                raise ValueError(
                    f"environments[{index}]: account {pair[0]} in {pair[1]} is already used by environment "
                    f"{self.environments[accounts.index(pair)].name!r}; allowed: one account and region per environment"
                )
        if self.tooling is not None:
            for env in self.environments:
                if env.account == self.tooling.account:
                    raise ValueError(
                        f"tooling.account: {env.account} is also the account of environment {env.name!r}; the "
                        "toolchain and that environment would both create the CDK pipeline's cross-account roles "
                        "under the same names in one account; allowed: a tooling account no environment uses"
                    )
        if self.registry_environment not in env_names:
            raise ValueError(
                f"registry_environment: {self.registry_environment!r} is not an environment; "
                f"allowed: {', '.join(env_names)}"
            )
        if not self.environment(self.registry_environment).trains:
            raise ValueError(
                f"registry_environment: environment {self.registry_environment!r} must set trains: true "
                "(the registry lives where models are trained)"
            )
        for index, model in enumerate(self.models):
            for env_name in model.environments:
                if env_name not in env_names:
                    raise ValueError(
                        f"models[{index}].environments: {shown(env_name)} is not an environment; "
                        f"allowed: {', '.join(env_names)}"
                    )
            self._images_resolve(index, model)
        check_inference_modes(self)
        return self

    def _images_resolve(self, index: int, model: ModelSettings) -> None:
        # A framework image must exist, in that version, in every Region that uses it: training and processing
        # where models train, serving everywhere (the SDK's image registry, read offline).
        uses: list[tuple[str, ImageSettings | None, ImageScope, EnvironmentSettings]] = []
        for env in self.environments:
            if env.trains:
                uses.append(("training", model.images.training, "training", env))
                uses.append(("processing", model.images.processing, "training", env))
            uses.append(("serving", model.images.serving, "inference", env))
        for role, image, scope, env in uses:
            if image is not None and image.uri is not None and role == "serving":
                _user_serving_image_fits(index, image, env)
            if image is None or image.uri is not None:
                continue
            try:
                image.repository(scope, env.region)
            except ValueError as error:
                raise ValueError(f"models[{index}].images.{role} (environment {env.name!r}): {error}") from None

    def environment(self, name: str) -> EnvironmentSettings:
        """The environment called ``name``."""
        for env in self.environments:
            if env.name == name:
                return env
        raise KeyError(name)

    @property
    def registry(self) -> EnvironmentSettings:
        """The environment holding the model registry that serving environments read."""
        return self.environment(self.registry_environment)

    def consumer_accounts(self) -> tuple[str, ...]:
        """Accounts (other than the registry's) that read model packages, in config order, without repeats."""
        seen: list[str] = []
        for env in self.environments:
            if env.account != self.registry.account and env.account not in seen:
                seen.append(env.account)
        return tuple(seen)


def _no_duplicates(section: str, key: str, values: list[str]) -> None:
    for index, value in enumerate(values):
        if values.index(value) != index:
            raise ValueError(
                f"{section}[{index}].{key}: {shown(value)} is already used by {section}[{values.index(value)}]; "
                f"allowed: unique {key}s"
            )
