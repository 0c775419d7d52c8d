"""The template's CloudWatch alarms and dashboards, created in the local endpoint.

``AWS::CloudWatch::Alarm`` is created with PutMetricAlarm (``Ref`` is the alarm name, ``Fn::GetAtt
.Arn`` its ARN) and ``AWS::CloudWatch::Dashboard`` with PutDashboard (``Ref`` is its name; the body
must be JSON once its ``Fn::Sub`` is resolved). Alarms are evaluated by
:class:`sam_emulator.cloudwatch.alarms.AlarmEvaluator`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sam_emulator.cloudwatch.alarms import ALARM, DASHBOARD, watched_queue_metric
from sam_emulator.errors import TemplateError
from sam_emulator.template.intrinsics import Identity

if TYPE_CHECKING:
    from sam_emulator.template.parser import DeclaredResource, Template
    from sam_emulator.template.provision import ProvisionedStack

#: PutMetricAlarm parameters that are CloudFormation properties of the same name, by type.
_ALARM_TEXT = ("AlarmDescription", "ComparisonOperator", "EvaluateLowSampleCountPercentile", "ExtendedStatistic")
_ALARM_TEXT += ("MetricName", "Namespace", "Statistic", "ThresholdMetricId", "TreatMissingData", "Unit")
_ALARM_INTEGERS = ("DatapointsToAlarm", "EvaluationPeriods", "Period")
_ALARM_LISTS = ("AlarmActions", "Dimensions", "InsufficientDataActions", "Metrics", "OKActions", "Tags")


def _name_alarm(template: Template, resource: DeclaredResource) -> Identity:
    name = template.default_name(resource, "AlarmName", 255)
    return Identity(ref=name, attributes={"Arn": template.arn("cloudwatch", f"alarm:{name}")})


def _name_dashboard(template: Template, resource: DeclaredResource) -> Identity:
    return Identity(ref=template.default_name(resource, "DashboardName", 255), attributes={})


NAMERS: dict[str, Callable[[Template, DeclaredResource], Identity]] = {
    ALARM: _name_alarm,
    DASHBOARD: _name_dashboard,
}


def creators(
    template: Template, client: Callable[[str], Any], stack: ProvisionedStack
) -> dict[str, Callable[[DeclaredResource], None]]:
    """The provisioner's ``_create_*`` methods for the CloudWatch types."""
    not_evaluated: list[str] = []  # alarms on metrics nothing computes locally, reported in one note

    def create_alarm(resource: DeclaredResource) -> None:
        props = template.resolved_properties(resource.logical_id)
        request: dict[str, Any] = {"AlarmName": template.identity(resource.logical_id).ref}
        request.update({key: str(props[key]) for key in _ALARM_TEXT if key in props})
        request.update({key: int(props[key]) for key in _ALARM_INTEGERS if key in props})
        request.update({key: list(props[key]) for key in _ALARM_LISTS if props.get(key)})
        if "Threshold" in props:
            request["Threshold"] = float(props["Threshold"])
        if "ActionsEnabled" in props:
            request["ActionsEnabled"] = props["ActionsEnabled"] in (True, "true", "True")
        if "ComparisonOperator" not in request or "EvaluationPeriods" not in request:
            raise TemplateError(f"{resource.logical_id}: ComparisonOperator and EvaluationPeriods are required")
        cloudwatch = client("cloudwatch")
        cloudwatch.put_metric_alarm(**request)
        # moto starts alarms at OK; AWS at INSUFFICIENT_DATA, until the first evaluation.
        cloudwatch.set_alarm_state(
            AlarmName=request["AlarmName"],
            StateValue="INSUFFICIENT_DATA",
            StateReason="Unchecked: Initial alarm creation",
        )
        if watched_queue_metric(request) is None:
            if not_evaluated:
                stack.notes.remove(_not_evaluated_note(len(not_evaluated)))
            not_evaluated.append(resource.logical_id)
            stack.notes.append(_not_evaluated_note(len(not_evaluated)))

    def create_dashboard(resource: DeclaredResource) -> None:
        props = template.resolved_properties(resource.logical_id)
        body = props.get("DashboardBody")
        try:
            json.loads(body if isinstance(body, str) else "")
        except ValueError as error:
            raise TemplateError(f"{resource.logical_id}: DashboardBody is not JSON once resolved: {error}") from None
        name = template.identity(resource.logical_id).ref
        client("cloudwatch").put_dashboard(DashboardName=name, DashboardBody=body)

    return {ALARM: create_alarm, DASHBOARD: create_dashboard}


def _not_evaluated_note(count: int) -> str:
    return f"{count} alarms watch metrics nothing publishes locally (only SQS queue metrics are): INSUFFICIENT_DATA"
