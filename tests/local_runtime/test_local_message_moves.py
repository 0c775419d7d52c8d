"""SQS message move tasks (StartMessageMoveTask, ListMessageMoveTasks, CancelMessageMoveTask) as SQS
documents them, and the redrive of a dead-letter queue back into its pipe."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from sam_emulator.testing import wait_until

AWS_CLI = Path(sys.executable).with_name("aws")


def arn(runtime, logical_id: str) -> str:
    return runtime.get_att(logical_id, "Arn")


def fill(runtime, logical_id: str, bodies: list[str]) -> None:
    sqs = runtime.client("sqs")
    for body in bodies:
        sqs.send_message(QueueUrl=runtime.ref(logical_id), MessageBody=body,
                         MessageAttributes={"kind": {"DataType": "String", "StringValue": "moved"}})  # fmt: skip


def drain(runtime, logical_id: str) -> list[dict]:
    sqs = runtime.client("sqs")
    got = []
    while messages := sqs.receive_message(QueueUrl=runtime.ref(logical_id), MaxNumberOfMessages=10,
                                          MessageAttributeNames=["All"], AttributeNames=["All"]).get("Messages"):  # fmt: skip
        got += messages
        for message in messages:
            sqs.delete_message(QueueUrl=runtime.ref(logical_id), ReceiptHandle=message["ReceiptHandle"])
    return got


def finished_task(runtime, source_arn: str) -> dict:
    sqs = runtime.client("sqs")
    return wait_until(
        lambda: (
            (r := sqs.list_message_move_tasks(SourceArn=source_arn)["Results"]) and r[0]["Status"] != "RUNNING" and r[0]
        ),
        what="the move task to end",
    )


def test_move_to_a_destination(runtime):
    sqs = runtime.client("sqs")
    dlq = arn(runtime, "OrphanDeadLetterQueue")
    fill(runtime, "OrphanDeadLetterQueue", ["one", "two", "three"])

    handle = sqs.start_message_move_task(SourceArn=dlq, DestinationArn=arn(runtime, "AsyncFailureQueue"))["TaskHandle"]

    task = finished_task(runtime, dlq)
    assert task == {
        "Status": "COMPLETED",
        "SourceArn": dlq,
        "DestinationArn": arn(runtime, "AsyncFailureQueue"),
        "ApproximateNumberOfMessagesMoved": 3,
        "ApproximateNumberOfMessagesToMove": 3,
        "StartedTimestamp": task["StartedTimestamp"],
    }
    assert json.loads(base64.b64decode(handle))["sourceArn"] == dlq
    moved = drain(runtime, "AsyncFailureQueue")
    assert sorted(m["Body"] for m in moved) == ["one", "three", "two"]
    assert {m["MessageAttributes"]["kind"]["StringValue"] for m in moved} == {"moved"}
    assert {m["Attributes"]["ApproximateReceiveCount"] for m in moved} == {"1"}  # new messages
    assert drain(runtime, "OrphanDeadLetterQueue") == []


def test_move_back_to_the_original_source_with_a_rate(runtime):
    """Messages the queue's redrive policy moved to its DLQ go back to that queue."""
    sqs = runtime.client("sqs")
    runtime.pipes["OrphanPipe"].stop()  # nobody consumes the source queue meanwhile
    try:
        source, dlq = runtime.ref("OrphanQueue"), arn(runtime, "OrphanDeadLetterQueue")
        fill(runtime, "OrphanQueue", ["a", "b"])
        for _ in range(3):  # maxReceiveCount 2: the third receive moves them to the DLQ
            sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10, VisibilityTimeout=0)
        assert int(sqs.get_queue_attributes(QueueUrl=runtime.ref("OrphanDeadLetterQueue"),
                                            AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
            "ApproximateNumberOfMessages"]) == 2  # fmt: skip

        sqs.start_message_move_task(SourceArn=dlq, MaxNumberOfMessagesPerSecond=100)
        task = finished_task(runtime, dlq)
        assert (task["Status"], task["ApproximateNumberOfMessagesMoved"], task["MaxNumberOfMessagesPerSecond"]) == (
            "COMPLETED", 2, 100)  # fmt: skip
        assert "DestinationArn" not in task and "TaskHandle" not in task
        assert sorted(m["Body"] for m in drain(runtime, "OrphanQueue")) == ["a", "b"]
    finally:
        runtime.pipes["OrphanPipe"].start()


def test_cancel_a_running_task(runtime):
    sqs = runtime.client("sqs")
    dlq = arn(runtime, "OrphanDeadLetterQueue")
    fill(runtime, "OrphanDeadLetterQueue", [f"m{i}" for i in range(10)])
    handle = sqs.start_message_move_task(SourceArn=dlq, DestinationArn=arn(runtime, "AsyncFailureQueue"),
                                         MaxNumberOfMessagesPerSecond=1)["TaskHandle"]  # fmt: skip
    running = sqs.list_message_move_tasks(SourceArn=dlq)["Results"][0]
    assert (running["Status"], running["TaskHandle"], running["ApproximateNumberOfMessagesToMove"]) == (
        "RUNNING", handle, 10)  # fmt: skip

    moved = sqs.cancel_message_move_task(TaskHandle=handle)["ApproximateNumberOfMessagesMoved"]

    task = finished_task(runtime, dlq)
    assert task["Status"] == "CANCELLED" and moved <= task["ApproximateNumberOfMessagesMoved"] < 10
    assert len(drain(runtime, "AsyncFailureQueue")) + len(drain(runtime, "OrphanDeadLetterQueue")) == 10
    with pytest.raises(sqs.exceptions.UnsupportedOperation):  # only a RUNNING task can be cancelled
        sqs.cancel_message_move_task(TaskHandle=handle)
    listed = sqs.list_message_move_tasks(SourceArn=dlq, MaxResults=10)["Results"]
    assert len(listed) >= 2 and listed[0]["Status"] == "CANCELLED"  # newest first


def test_errors_as_sqs_answers_them(runtime):
    sqs = runtime.client("sqs")
    dlq = arn(runtime, "OrphanDeadLetterQueue")
    missing = dlq.replace("OrphanDeadLetterQueue", "NoSuchQueue")

    def error(call, **request):
        with pytest.raises(ClientError) as raised:
            call(**request)
        response = raised.value.response
        return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]

    assert error(sqs.start_message_move_task, SourceArn=arn(runtime, "OrphanQueue")) == (
        "InvalidParameterValue", "Source queue must be configured as a Dead Letter Queue.", 400)  # fmt: skip
    assert error(sqs.start_message_move_task, SourceArn=missing) == (
        "ResourceNotFoundException", "The resource that you specified for the SourceArn parameter doesn't exist.",
        404)  # fmt: skip
    assert error(sqs.start_message_move_task, SourceArn=dlq, DestinationArn=missing)[0:2] == (
        "ResourceNotFoundException",
        "The resource that you specified for the DestinationArn parameter doesn't exist.",
    )
    assert error(sqs.start_message_move_task, SourceArn=dlq, MaxNumberOfMessagesPerSecond=501)[0] == (
        "InvalidParameterValue"
    )
    assert error(sqs.cancel_message_move_task, TaskHandle="garbage") == (
        "InvalidParameterValue", "Value for parameter TaskHandle is invalid.", 400)  # fmt: skip
    unknown = base64.b64encode(json.dumps({"taskId": "nope", "sourceArn": dlq}).encode()).decode()
    assert error(sqs.cancel_message_move_task, TaskHandle=unknown) == (
        "ResourceNotFoundException", "Task does not exist.", 404)  # fmt: skip

    fill(runtime, "OrphanDeadLetterQueue", [f"x{i}" for i in range(3)])
    handle = sqs.start_message_move_task(SourceArn=dlq, DestinationArn=arn(runtime, "AsyncFailureQueue"),
                                         MaxNumberOfMessagesPerSecond=1)["TaskHandle"]  # fmt: skip
    try:
        assert error(sqs.start_message_move_task, SourceArn=dlq)[0:2] == (
            "InvalidParameterValue",
            "There is already a task running. Only one active task is allowed for a source queue arn at a given time.",
        )
    finally:
        sqs.cancel_message_move_task(TaskHandle=handle)
    finished_task(runtime, dlq)
    drain(runtime, "AsyncFailureQueue")
    drain(runtime, "OrphanDeadLetterQueue")


def test_a_destination_deleted_while_moving_fails_the_task(runtime):
    sqs = runtime.client("sqs")
    dlq = arn(runtime, "OrphanDeadLetterQueue")
    doomed = sqs.create_queue(QueueName="doomed-destination")["QueueUrl"]
    doomed_arn = sqs.get_queue_attributes(QueueUrl=doomed, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    fill(runtime, "OrphanDeadLetterQueue", [f"d{i}" for i in range(5)])
    sqs.start_message_move_task(SourceArn=dlq, DestinationArn=doomed_arn, MaxNumberOfMessagesPerSecond=1)
    sqs.delete_queue(QueueUrl=doomed)
    task = finished_task(runtime, dlq)
    assert (task["Status"], task["FailureReason"]) == ("FAILED", "AWS.SimpleQueueService.NonExistentQueue")
    assert task["ApproximateNumberOfMessagesMoved"] + len(drain(runtime, "OrphanDeadLetterQueue")) == 5


def test_a_message_moved_back_is_picked_up_by_the_pipe(runtime):
    """The DLQ recipe, with the AWS CLI: the moved job message starts an execution of the pipe's target."""
    sqs, sfn = runtime.client("sqs"), runtime.client("stepfunctions")
    pipe = runtime.pipes["JobsPipe"]
    pipe.stop()
    try:
        sqs.send_message(QueueUrl=runtime.ref("JobsQueue"), MessageBody=json.dumps({"jobId": "from-the-dlq"}))
        for _ in range(3):
            sqs.receive_message(QueueUrl=runtime.ref("JobsQueue"), VisibilityTimeout=0)
        assert drain(runtime, "JobsQueue") == []  # it is in the DLQ now
    finally:
        pipe.start()
    env = {**runtime.client_environment(), "PATH": "/usr/bin:/bin", "AWS_CONFIG_FILE": "/dev/null"}
    base = [str(AWS_CLI), "sqs", "--endpoint-url", runtime.aws_endpoint_url, "--output", "json"]
    started = subprocess.run(base[:2] + ["start-message-move-task", "--source-arn", arn(runtime, "JobsDeadLetterQueue")]
                             + base[2:], env=env, capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout)["TaskHandle"]

    def execution_for_job():
        executions = sfn.list_executions(stateMachineArn=runtime.ref("PipeTarget"), statusFilter="SUCCEEDED")
        for execution in executions["executions"]:
            payload = sfn.describe_execution(executionArn=execution["executionArn"])["input"]
            if "from-the-dlq" in payload:
                return execution
        return None

    assert wait_until(execution_for_job, what="the moved message to start an execution")
    listed = subprocess.run(base[:2] + ["list-message-move-tasks", "--source-arn", arn(runtime, "JobsDeadLetterQueue")]
                            + base[2:], env=env, capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    assert json.loads(listed.stdout)["Results"][0]["Status"] == "COMPLETED"
