"""The project's alarms, their topic and the dashboard on the local runtime: a message in a
dead-letter queue drives that queue's alarm to ALARM, and back to OK once the queue is empty."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sam_emulator.runtime import LocalRuntime
from sam_emulator.testing import running_runtime, wait_until

PROJECT_TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
DEAD_LETTER_QUEUES = ["JobDeadLetterQueue", "StatusSyncDeadLetterQueue", "NotifyDeadLetterQueue"]


@pytest.fixture(scope="module")
def project_runtime() -> Iterator[LocalRuntime]:
    with running_runtime(PROJECT_TEMPLATE) as runtime:
        yield runtime


def _alarm(runtime: LocalRuntime, logical_id: str) -> dict:
    (alarm,) = runtime.client("cloudwatch").describe_alarms(AlarmNames=[runtime.ref(logical_id)])["MetricAlarms"]
    return alarm


def _wait_for_state(runtime: LocalRuntime, logical_id: str, state: str) -> dict:
    return wait_until(
        lambda: (alarm := _alarm(runtime, logical_id))["StateValue"] == state and alarm,
        timeout=15,
        what=f"{logical_id} in {state}",
    )


def _empty(runtime: LocalRuntime, queue_url: str) -> None:
    """Receive and delete every message (PurgeQueue is allowed once a minute per queue)."""
    sqs = runtime.client("sqs")
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def _queue_name(runtime: LocalRuntime, logical_id: str) -> str:
    return runtime.get_att(logical_id, "QueueName")


def test_the_topic_alarms_and_dashboard_are_created(project_runtime):
    topic_arn = project_runtime.ref("AlarmTopic")
    assert topic_arn in [t["TopicArn"] for t in project_runtime.client("sns").list_topics()["Topics"]]
    assert "AlarmEmailSubscription" not in project_runtime.template.resources, "no AlarmEmail, no subscription"

    alarms = project_runtime.client("cloudwatch").describe_alarms()["MetricAlarms"]
    declared = project_runtime.template.of_type("AWS::CloudWatch::Alarm")
    assert len(alarms) == len(declared) >= 26
    for alarm in alarms:
        assert alarm["AlarmActions"] == [topic_arn] and alarm["OKActions"] == [topic_arn], alarm["AlarmName"]
        assert "Operating the stack" in alarm["AlarmDescription"], alarm["AlarmName"]
        assert alarm["TreatMissingData"] == "notBreaching"
    dlq_alarms = {
        alarm["Dimensions"][0]["Value"]
        for alarm in alarms
        if alarm["MetricName"] == "ApproximateNumberOfMessagesVisible" and alarm["Namespace"] == "AWS/SQS"
    }
    assert dlq_alarms == {_queue_name(project_runtime, queue) for queue in DEAD_LETTER_QUEUES}
    # Nothing publishes Lambda or Step Functions metrics locally: those alarms keep AWS's initial state.
    assert _alarm(project_runtime, "SubmitJobErrorsAlarm")["StateValue"] == "INSUFFICIENT_DATA"

    dashboard = project_runtime.client("cloudwatch").get_dashboard(
        DashboardName=project_runtime.ref("OperationsDashboard")
    )
    titles = [widget["properties"].get("title", "") for widget in json.loads(dashboard["DashboardBody"])["widgets"]]
    assert any("Jobs submitted" in title for title in titles) and any("p95" in title for title in titles)
    assert "${" not in dashboard["DashboardBody"], "every Fn::Sub variable is resolved"


@pytest.mark.parametrize("queue", DEAD_LETTER_QUEUES)
def test_a_message_in_a_dead_letter_queue_drives_its_alarm_to_alarm_then_ok(project_runtime, queue):
    sqs = project_runtime.client("sqs")
    alarm_id = f"{queue}Alarm"
    _wait_for_state(project_runtime, alarm_id, "OK")  # evaluated: the queue is empty

    sqs.send_message(QueueUrl=project_runtime.ref(queue), MessageBody=json.dumps({"jobId": "dead-letter"}))

    alarm = _wait_for_state(project_runtime, alarm_id, "ALARM")
    assert alarm["StateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints [1.0 (")
    assert "was greater than the threshold (0.0)" in alarm["StateReason"]
    assert json.loads(alarm["StateReasonData"])["recentDatapoints"] == [1.0]
    others = [f"{other}Alarm" for other in DEAD_LETTER_QUEUES if other != queue]
    assert all(_alarm(project_runtime, other)["StateValue"] == "OK" for other in others)

    _empty(project_runtime, project_runtime.ref(queue))

    alarm = _wait_for_state(project_runtime, alarm_id, "OK")
    assert "was not greater than the threshold (0.0)" in alarm["StateReason"]


def test_a_transition_notifies_the_alarm_topic(project_runtime):
    sqs, sns = project_runtime.client("sqs"), project_runtime.client("sns")
    inbox = sqs.create_queue(QueueName="alarm-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=project_runtime.ref("AlarmTopic"), Protocol="sqs", Endpoint=inbox_arn)
    dlq = project_runtime.ref("JobDeadLetterQueue")
    _wait_for_state(project_runtime, "JobDeadLetterQueueAlarm", "OK")

    sqs.send_message(QueueUrl=dlq, MessageBody="{}")
    _wait_for_state(project_runtime, "JobDeadLetterQueueAlarm", "ALARM")
    _empty(project_runtime, dlq)
    _wait_for_state(project_runtime, "JobDeadLetterQueueAlarm", "OK")

    def notifications() -> list[dict]:
        received = sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(json.loads(message["Body"])["Message"]) for message in received]

    seen: list[dict] = []
    wait_until(lambda: seen.extend(notifications()) or len(seen) >= 2, timeout=10, what="two notifications")
    assert [(n["OldStateValue"], n["NewStateValue"]) for n in seen] == [("OK", "ALARM"), ("ALARM", "OK")]
    assert seen[0]["AlarmName"] == project_runtime.ref("JobDeadLetterQueueAlarm")
    assert seen[0]["Trigger"]["MetricName"] == "ApproximateNumberOfMessagesVisible"


def test_the_queue_metrics_are_published_and_any_queue_alarm_is_evaluated(project_runtime):
    """The evaluator reads every alarm, including one added through the API, and publishes the
    values it computes under AWS/SQS, as SQS would."""
    sqs, cloudwatch = project_runtime.client("sqs"), project_runtime.client("cloudwatch")
    url = sqs.create_queue(QueueName="slow-consumer")["QueueUrl"]
    cloudwatch.put_metric_alarm(
        AlarmName="slow-consumer-age",
        Namespace="AWS/SQS",
        MetricName="ApproximateAgeOfOldestMessage",
        Dimensions=[{"Name": "QueueName", "Value": "slow-consumer"}],
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=2,
        DatapointsToAlarm=2,
        Threshold=0.5,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    sqs.send_message(QueueUrl=url, MessageBody="waiting")
    time.sleep(0.6)

    alarm = wait_until(
        lambda: (
            (found := cloudwatch.describe_alarms(AlarmNames=["slow-consumer-age"])["MetricAlarms"][0])["StateValue"]
            == "ALARM"
            and found
        ),
        timeout=15,
        what="slow-consumer-age in ALARM",
    )
    assert "2 out of the last 2 datapoints" in alarm["StateReason"]

    statistics = cloudwatch.get_metric_statistics(
        Namespace="AWS/SQS",
        MetricName="ApproximateAgeOfOldestMessage",
        Dimensions=[{"Name": "QueueName", "Value": "slow-consumer"}],
        StartTime=time.time() - 600,
        EndTime=time.time() + 60,
        Period=60,
        Statistics=["Maximum"],
    )
    assert statistics["Datapoints"], "the computed age is published as a metric"
