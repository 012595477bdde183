"""Model Monitor schedules and job definitions: schedule forms, run time within the period, ground-truth offsets."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch
from cfnlint.template import Template

from cfn_rules._shared import monitoring_period_seconds, properties, referenced_id, resources

SCHEDULE = "AWS::SageMaker::MonitoringSchedule"
# Job definition resource type -> (MonitoringType, its job input property).
JOB_DEFINITIONS = {
    "AWS::SageMaker::DataQualityJobDefinition": ("DataQuality", "DataQualityJobInput"),
    "AWS::SageMaker::ModelQualityJobDefinition": ("ModelQuality", "ModelQualityJobInput"),
    "AWS::SageMaker::ModelBiasJobDefinition": ("ModelBias", "ModelBiasJobInput"),
    "AWS::SageMaker::ModelExplainabilityJobDefinition": ("ModelExplainability", "ModelExplainabilityJobInput"),
}
# Kinds whose hourly run is a ground-truth merge job plus the monitoring job, sharing the hour.
GROUND_TRUTH_KINDS = frozenset({"ModelQuality", "ModelBias"})
_OFFSET = re.compile(r"^-P(?:(\d+)D|T(?:(\d+)H)?(?:(\d+)M)?)$")


def _expression(props: Mapping[str, Any]) -> Any:
    config = props.get("MonitoringScheduleConfig")
    schedule = config.get("ScheduleConfig") if isinstance(config, Mapping) else None
    return schedule.get("ScheduleExpression") if isinstance(schedule, Mapping) else None


def _schedule_jobs(template: Mapping[str, Any]) -> Iterator[tuple[str, Any, str | None, Any, tuple[str | int, ...]]]:
    """(schedule id, expression, monitoring type, MaxRuntimeInSeconds, path of the runtime) per schedule."""
    definitions = dict(resources(template, *JOB_DEFINITIONS))
    for logical_id, resource in resources(template, SCHEDULE):
        props = properties(resource)
        config = props.get("MonitoringScheduleConfig")
        if not isinstance(config, Mapping):
            continue
        kind = config.get("MonitoringType")
        inline = config.get("MonitoringJobDefinition")
        if isinstance(inline, Mapping):
            stopping = inline.get("StoppingCondition")
            runtime = stopping.get("MaxRuntimeInSeconds") if isinstance(stopping, Mapping) else None
            path: tuple[str | int, ...] = ("Resources", logical_id, "Properties", "MonitoringScheduleConfig")
            yield logical_id, _expression(props), kind or "DataQuality", runtime, path
            continue
        name = config.get("MonitoringJobDefinitionName")
        target = referenced_id(name)
        for def_id, definition in definitions.items():
            def_props = properties(definition)
            if target != def_id and not (isinstance(name, str) and def_props.get("JobDefinitionName") == name):
                continue
            stopping = def_props.get("StoppingCondition")
            runtime = stopping.get("MaxRuntimeInSeconds") if isinstance(stopping, Mapping) else None
            yield (
                logical_id,
                _expression(props),
                kind or JOB_DEFINITIONS[str(definition.get("Type"))][0],
                runtime,
                ("Resources", def_id, "Properties", "StoppingCondition"),
            )


class MonitoringScheduleExpression(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type information
    """Monitoring schedule expressions must be of a form Model Monitor accepts.

    AWS doc: "The cron expression for monitoring schedule" (SageMaker Developer Guide) and the API reference
    ``ScheduleConfig``: hourly ``cron(0 * ? * * *)``, daily ``cron(0 H ? * * *)``, every N hours
    ``cron(0 H/N ? * * *)``, or ``NOW``. Any other cron (minutes other than 0, days of week, rate()) is refused.
    """

    id = "E9010"
    shortdesc = "Monitoring schedule expression Model Monitor does not accept"
    description = "Model Monitor accepts only hourly, daily, every-N-hours cron expressions or NOW"
    source_url = "https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-schedule-expression.html"
    tags = ["mlops", "sagemaker", "model-monitor"]  # noqa: RUF012 -- cfn-lint declares tags as a class-level list

    def match(self, cfn: Template) -> list[RuleMatch]:
        """Every literal schedule expression outside the accepted forms."""
        matches = []
        for logical_id, resource in resources(cfn.template, SCHEDULE):
            expression = _expression(properties(resource))
            if isinstance(expression, str) and monitoring_period_seconds(expression) is None:
                matches.append(
                    RuleMatch(
                        ["Resources", logical_id, "Properties", "MonitoringScheduleConfig", "ScheduleConfig"],
                        f"{logical_id}: {expression!r} is not a Model Monitor schedule expression; use "
                        "cron(0 * ? * * *), cron(0 H ? * * *), cron(0 H/N ? * * *) or NOW "
                        "(The cron expression for monitoring schedule)",
                    )
                )
        return matches


class MonitoringRuntimeWithinPeriod(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type information
    """A monitoring job's ``MaxRuntimeInSeconds`` fits its schedule.

    AWS doc: API reference "MonitoringStoppingCondition": ``MaxRuntimeInSeconds`` cannot exceed the frequency of
    the job; up to 3600 seconds for an hourly data-quality or explainability schedule and up to 1800 seconds
    for an hourly model-quality or model-bias schedule. "Schedule model quality monitoring jobs" gives the
    reason: the hour is split between the ground-truth merge job and the monitoring job.
    """

    id = "E9011"
    shortdesc = "Monitoring MaxRuntimeInSeconds longer than its schedule allows"
    description = "MaxRuntimeInSeconds must fit the schedule: hourly quality/bias <= 1800, other hourly <= 3600"
    source_url = "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_MonitoringStoppingCondition.html"
    tags = ["mlops", "sagemaker", "model-monitor"]  # noqa: RUF012 -- cfn-lint declares tags as a class-level list

    def match(self, cfn: Template) -> list[RuleMatch]:
        """Each schedule joined to its job definition (inline, by Ref/GetAtt, or by literal name)."""
        matches = []
        for schedule_id, expression, kind, runtime, path in _schedule_jobs(cfn.template):
            if not isinstance(expression, str) or not isinstance(runtime, int):
                continue
            period = monitoring_period_seconds(expression)
            if not period:
                continue
            limit = period // 2 if period == 3600 and kind in GROUND_TRUTH_KINDS else period
            if runtime > limit:
                matches.append(
                    RuleMatch(
                        list(path),
                        f"{schedule_id} ({kind}, {expression}): MaxRuntimeInSeconds {runtime} exceeds {limit} "
                        "(MonitoringStoppingCondition: hourly model quality and bias up to 1800, other hourly "
                        "up to 3600, never more than the schedule's period)",
                    )
                )
        return matches


def _offset_seconds(value: str) -> int | None:
    found = _OFFSET.match(value)
    if not found or not any(found.groups()):
        return None
    days, hours, minutes = (int(g) if g else 0 for g in found.groups())
    return days * 86400 + hours * 3600 + minutes * 60


class GroundTruthOffsets(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type information
    """Model-quality and bias inputs carry ``StartTimeOffset`` and ``EndTimeOffset``, well formed and ordered.

    AWS doc: "Schedule model quality monitoring jobs" (section "Model monitor offsets"): ground-truth labels
    arrive late, so the job input gives offsets in ISO 8601 duration form (``-PT#H``, ``-P#D``, minutes
    ``-PT#M``) that the job subtracts from its window's start and end time. Without them every run merges the
    last hour's captures with labels that have not arrived, and the monitor reports on nothing. The start offset
    must lie further in the past than the end offset, or the window is empty.
    """

    id = "E9012"
    shortdesc = "Model quality or bias monitor without ground-truth offsets"
    description = "Model quality and bias job inputs need StartTimeOffset and EndTimeOffset for late ground truth"
    source_url = "https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-schedule.html"
    tags = ["mlops", "sagemaker", "model-monitor"]  # noqa: RUF012 -- cfn-lint declares tags as a class-level list

    def match(self, cfn: Template) -> list[RuleMatch]:
        """The EndpointInput / BatchTransformInput of every model-quality and model-bias job definition."""
        matches = []
        for type_, (kind, input_property) in JOB_DEFINITIONS.items():
            if kind not in GROUND_TRUTH_KINDS:
                continue
            for logical_id, resource in resources(cfn.template, type_):
                job_input = properties(resource).get(input_property)
                if not isinstance(job_input, Mapping):
                    continue
                for source in ("EndpointInput", "BatchTransformInput"):
                    data = job_input.get(source)
                    if not isinstance(data, Mapping):
                        continue
                    path = ["Resources", logical_id, "Properties", input_property, source]
                    problem = self._problem(data)
                    if problem:
                        matches.append(RuleMatch(path, f"{logical_id} ({kind}) {source}: {problem}"))
        return matches

    @staticmethod
    def _problem(data: Mapping[str, Any]) -> str | None:
        start, end = data.get("StartTimeOffset"), data.get("EndTimeOffset")
        if start is None or end is None:
            return (
                "StartTimeOffset and EndTimeOffset are required so that runs wait for late ground truth "
                "(Schedule model quality monitoring jobs, Model monitor offsets)"
            )
        if not isinstance(start, str) or not isinstance(end, str):
            return None
        start_s, end_s = _offset_seconds(start), _offset_seconds(end)
        if start_s is None or end_s is None:
            return f"offsets {start!r}/{end!r} are not ISO 8601 negative durations such as -PT7H or -P1D"
        if start_s <= end_s:
            return f"StartTimeOffset {start} must reach further back than EndTimeOffset {end} (empty window)"
        return None


class MonitoringInputExclusive(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type information
    """A monitoring job reads an endpoint or a batch transform, not both.

    AWS docs: "Schedule model quality monitoring jobs" and "Schedule data quality monitoring jobs": you can
    specify either a batch transform input or an endpoint input, but not both, when you create the schedule.
    """

    id = "E9013"
    shortdesc = "Monitoring job input with both EndpointInput and BatchTransformInput"
    description = "A monitoring job input takes either an endpoint input or a batch transform input"
    source_url = "https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-schedule.html"
    tags = ["mlops", "sagemaker", "model-monitor"]  # noqa: RUF012 -- cfn-lint declares tags as a class-level list

    def match(self, cfn: Template) -> list[RuleMatch]:
        """Job definitions of every kind, and inline schedule job definitions."""
        matches = []
        for type_, (kind, input_property) in JOB_DEFINITIONS.items():
            for logical_id, resource in resources(cfn.template, type_):
                job_input = properties(resource).get(input_property)
                if (
                    isinstance(job_input, Mapping)
                    and "EndpointInput" in job_input
                    and "BatchTransformInput" in job_input
                ):
                    matches.append(
                        RuleMatch(
                            ["Resources", logical_id, "Properties", input_property],
                            f"{logical_id} ({kind}) reads both an endpoint and a batch transform: specify one "
                            "(Schedule model quality monitoring jobs)",
                        )
                    )
        for logical_id, resource in resources(cfn.template, SCHEDULE):
            config = properties(resource).get("MonitoringScheduleConfig")
            inline = config.get("MonitoringJobDefinition") if isinstance(config, Mapping) else None
            inputs = inline.get("MonitoringInputs") if isinstance(inline, Mapping) else None
            for index, item in enumerate(inputs if isinstance(inputs, list) else []):
                if isinstance(item, Mapping) and "EndpointInput" in item and "BatchTransformInput" in item:
                    path = [
                        "Resources",
                        logical_id,
                        "Properties",
                        "MonitoringScheduleConfig",
                        "MonitoringJobDefinition",
                    ]
                    matches.append(
                        RuleMatch(
                            [*path, "MonitoringInputs", index],
                            f"{logical_id} reads both an endpoint and a batch transform: specify one "
                            "(Schedule data quality monitoring jobs)",
                        )
                    )
        return matches
