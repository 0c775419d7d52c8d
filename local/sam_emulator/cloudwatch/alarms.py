"""CloudWatch alarm evaluation, which moto does not do (the template's alarms and dashboards are
created by :mod:`sam_emulator.template.cloudwatch_resources`).

moto stores alarms but computes no AWS metric and evaluates no alarm, so :class:`AlarmEvaluator`
does the part that matters locally: the SQS queue metrics. Every evaluation period it reads each
queue that an alarm watches (``ApproximateNumberOfMessagesVisible``, ``...NotVisible``,
``...Delayed`` from GetQueueAttributes; ``ApproximateAgeOfOldestMessage`` from moto's queue),
publishes the values under ``AWS/SQS`` with PutMetricData (once a minute, as SQS does), and
compares them with each alarm: ``DatapointsToAlarm`` of the last ``EvaluationPeriods`` values
breaching sets ``ALARM``, fewer set ``OK`` (SetAlarmState, with a reason worded like AWS's). Each
evaluation stands for one of the alarm's periods, so a state changes within seconds rather than
minutes. A transition publishes AWS's alarm message to the SNS topics among the alarm's actions.
Alarms on other metrics (Lambda, Step Functions, API Gateway, custom ones) are created and stay
``INSUFFICIENT_DATA``: nothing publishes those metrics locally.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from sam_emulator.event_sources.pollers import BackgroundPoller

if TYPE_CHECKING:
    from sam_emulator.template.parser import Template

logger = logging.getLogger("sam_emulator")

ALARM = "AWS::CloudWatch::Alarm"
DASHBOARD = "AWS::CloudWatch::Dashboard"

#: How often alarms are evaluated (AWS: every minute), before ``wait_scale``; never under the floor.
EVALUATION_SECONDS = 10.0
MIN_EVALUATION_SECONDS = 0.25
#: SQS publishes its queue metrics once a minute.
PUBLISH_SECONDS = 60.0

_SQS = "AWS/SQS"
#: Queue metrics computed locally, and the GetQueueAttributes attribute each one is.
_QUEUE_ATTRIBUTES = {
    "ApproximateNumberOfMessagesVisible": "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible": "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed": "ApproximateNumberOfMessagesDelayed",
}
_AGE = "ApproximateAgeOfOldestMessage"
_NO_QUEUE = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")
_COMPARISONS: dict[str, tuple[str, Callable[[float, float], bool]]] = {
    "GreaterThanThreshold": ("greater than", lambda value, threshold: value > threshold),
    "GreaterThanOrEqualToThreshold": ("greater than or equal to", lambda value, threshold: value >= threshold),
    "LessThanThreshold": ("less than", lambda value, threshold: value < threshold),
    "LessThanOrEqualToThreshold": ("less than or equal to", lambda value, threshold: value <= threshold),
}


# --- evaluation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    """One alarm's change of state made by :meth:`AlarmEvaluator.evaluate`."""

    alarm_name: str
    old_state: str
    new_state: str
    reason: str


class AlarmEvaluator(BackgroundPoller):
    """Evaluates the alarms on SQS queue metrics; see the module's docstring."""

    def __init__(
        self,
        client_factory: Callable[[str], Any],
        *,
        region: str,
        account_id: str,
        interval_seconds: float = EVALUATION_SECONDS,
        publish_seconds: float = PUBLISH_SECONDS,
    ):
        super().__init__()
        self._client = client_factory
        self._region = region
        self._account_id = account_id
        self.interval_seconds = interval_seconds
        self._publish_seconds = publish_seconds
        self._last_published: dict[tuple[str, str], float] = {}
        self._datapoints: dict[str, deque[tuple[datetime, float]]] = {}
        self._lock = threading.Lock()

    @classmethod
    def start_for(
        cls, template: Template, client_factory: Callable[[str], Any], *, wait_scale: float = 1.0
    ) -> AlarmEvaluator | None:
        """A started evaluator when the template declares alarms; ``None`` otherwise."""
        if not template.of_type(ALARM):
            return None
        evaluator = cls(
            client_factory,
            region=template.pseudo.region,
            account_id=template.pseudo.account_id,
            interval_seconds=max(MIN_EVALUATION_SECONDS, EVALUATION_SECONDS * wait_scale),
            publish_seconds=PUBLISH_SECONDS * wait_scale,
        )
        evaluator._start_thread("cloudwatch-alarms")
        return evaluator

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.evaluate()
            except (BotoCoreError, ClientError) as error:
                if self._stopping.is_set():
                    return
                logger.warning("alarm evaluation failed: %s", error)
            self._stopping.wait(self.interval_seconds)

    def evaluate(self) -> list[Transition]:
        """One evaluation of every alarm on a queue metric; returns the state changes it made."""
        with self._lock:
            cloudwatch = self._client("cloudwatch")
            now = datetime.now(UTC)
            values: dict[tuple[str, str], float | None] = {}
            transitions: list[Transition] = []
            for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"]):
                for alarm in page.get("MetricAlarms", []):
                    watched = watched_queue_metric(alarm)
                    if watched is None or alarm.get("ComparisonOperator") not in _COMPARISONS:
                        continue
                    if watched not in values:
                        values[watched] = self._queue_metric(*watched)
                        self._publish(cloudwatch, watched, values[watched], now)
                    if values[watched] is not None:
                        transition = self._apply(cloudwatch, alarm, now, values[watched])
                        if transition is not None:
                            transitions.append(transition)
            return transitions

    def _queue_metric(self, queue_name: str, metric: str) -> float | None:
        if metric == _AGE:
            return _oldest_message_age(self._account_id, self._region, queue_name)
        sqs = self._client("sqs")
        try:
            url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[_QUEUE_ATTRIBUTES[metric]])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _NO_QUEUE:
                return None  # no data, as for a queue that is gone
            raise
        return float(attributes["Attributes"][_QUEUE_ATTRIBUTES[metric]])

    def _publish(self, cloudwatch: Any, watched: tuple[str, str], value: float | None, now: datetime) -> None:
        if value is None:
            return
        last = self._last_published.get(watched)
        if last is not None and time.monotonic() - last < self._publish_seconds:
            return
        queue_name, metric = watched
        cloudwatch.put_metric_data(
            Namespace=_SQS,
            MetricData=[
                {
                    "MetricName": metric,
                    "Dimensions": [{"Name": "QueueName", "Value": queue_name}],
                    "Timestamp": now,
                    "Value": value,
                    "Unit": "Seconds" if metric == _AGE else "Count",
                }
            ],
        )
        self._last_published[watched] = time.monotonic()

    def _apply(self, cloudwatch: Any, alarm: dict[str, Any], now: datetime, value: float) -> Transition | None:
        name = alarm["AlarmName"]
        periods = max(1, int(alarm.get("EvaluationPeriods") or 1))
        needed = min(periods, max(1, int(alarm.get("DatapointsToAlarm") or periods)))
        recent = self._datapoints.setdefault(name, deque(maxlen=periods))
        if recent.maxlen != periods:  # the alarm was changed since
            recent = self._datapoints[name] = deque(recent, maxlen=periods)
        recent.append((now, value))
        wording, crosses = _COMPARISONS[alarm["ComparisonOperator"]]
        threshold = float(alarm.get("Threshold", 0.0))
        breaching = [point for point in recent if crosses(point[1], threshold)]
        new_state = "ALARM" if len(breaching) >= needed else "OK"
        old_state = alarm.get("StateValue", "INSUFFICIENT_DATA")
        if new_state == old_state:
            return None
        shown = breaching if new_state == "ALARM" else [point for point in recent if not crosses(point[1], threshold)]
        listed = ", ".join(f"{point_value} ({at:%d/%m/%y %H:%M:%S})" for at, point_value in reversed(shown))
        reason = (
            f"Threshold Crossed: {len(shown)} out of the last {len(recent)} datapoints [{listed}] was "
            f"{'' if new_state == 'ALARM' else 'not '}{wording} the threshold ({threshold}) (minimum {needed} "
            f"datapoint{'s' if needed > 1 else ''} for {old_state} -> {new_state} transition)."
        )
        reason_data = {
            "version": "1.0",
            "queryDate": _iso(now),
            "startDate": _iso(recent[0][0]),
            "statistic": alarm.get("Statistic") or alarm.get("ExtendedStatistic"),
            "period": alarm.get("Period"),
            "recentDatapoints": [point_value for _, point_value in recent],
            "threshold": threshold,
            "evaluatedDatapoints": [
                {"timestamp": _iso(at), "sampleCount": 1.0, "value": point_value} for at, point_value in reversed(shown)
            ],
        }
        cloudwatch.set_alarm_state(
            AlarmName=name, StateValue=new_state, StateReason=reason[:1023], StateReasonData=json.dumps(reason_data)
        )
        logger.info("alarm %s: %s -> %s", name, old_state, new_state)
        self._notify(alarm, old_state, new_state, reason, now)
        return Transition(name, old_state, new_state, reason)

    def _notify(self, alarm: dict[str, Any], old_state: str, new_state: str, reason: str, now: datetime) -> None:
        """AWS's alarm message, to the SNS topics among the actions of the new state."""
        if not alarm.get("ActionsEnabled", True):
            return
        actions = {"ALARM": "AlarmActions", "OK": "OKActions", "INSUFFICIENT_DATA": "InsufficientDataActions"}
        topics = [arn for arn in alarm.get(actions[new_state], []) if arn.split(":")[2:3] == ["sns"]]
        if not topics:
            return
        message = {
            "AlarmName": alarm["AlarmName"],
            "AlarmDescription": alarm.get("AlarmDescription"),
            "AWSAccountId": self._account_id,
            "NewStateValue": new_state,
            "NewStateReason": reason,
            "StateChangeTime": _iso(now),
            "Region": self._region,
            "AlarmArn": alarm.get("AlarmArn"),
            "OldStateValue": old_state,
            "Trigger": {
                "MetricName": alarm.get("MetricName"),
                "Namespace": alarm.get("Namespace"),
                "StatisticType": "Statistic",
                "Statistic": (alarm.get("Statistic") or "").upper(),
                "Dimensions": [{"name": d["Name"], "value": d["Value"]} for d in alarm.get("Dimensions", [])],
                "Period": alarm.get("Period"),
                "EvaluationPeriods": alarm.get("EvaluationPeriods"),
                "ComparisonOperator": alarm.get("ComparisonOperator"),
                "Threshold": alarm.get("Threshold"),
                "TreatMissingData": alarm.get("TreatMissingData", "missing"),
            },
        }
        subject = f'{new_state}: "{alarm["AlarmName"]}" in {self._region}'[:100]
        sns = self._client("sns")
        for topic_arn in topics:
            try:
                sns.publish(TopicArn=topic_arn, Subject=subject, Message=json.dumps(message))
            except ClientError as error:
                logger.warning("alarm %s: could not notify %s: %s", alarm["AlarmName"], topic_arn, error)


def watched_queue_metric(alarm: dict[str, Any]) -> tuple[str, str] | None:
    """``(queue name, metric)`` when the alarm watches one queue metric computed here."""
    if alarm.get("Namespace") != _SQS or alarm.get("Metrics"):
        return None
    metric = alarm.get("MetricName")
    dimensions = alarm.get("Dimensions") or []
    if metric not in (*_QUEUE_ATTRIBUTES, _AGE) or len(dimensions) != 1 or dimensions[0]["Name"] != "QueueName":
        return None
    return dimensions[0]["Value"], metric


def _oldest_message_age(account_id: str, region: str, queue_name: str) -> float | None:
    """Seconds since the oldest message still in the queue was sent (0 when empty), read from
    moto's queue: no SQS API returns it. ``None`` when the queue or moto's model is not there."""
    try:
        from moto.sqs.models import sqs_backends

        queue = sqs_backends[account_id][region].queues.get(queue_name)
        if queue is None:
            return None
        sent = [message.sent_timestamp for message in list(queue._messages) if message.sent_timestamp]
    except (ImportError, AttributeError, KeyError) as error:
        logger.debug("no %s for %s: %s", _AGE, queue_name, error)
        return None
    return max(0.0, time.time() - min(sent) / 1000) if sent else 0.0


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"
