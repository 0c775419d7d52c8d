"""The README's DLQ recipe on the project's stack: a job whose message went to the job DLQ is moved
back with `aws sqs start-message-move-task`, picked up by the pipe, and completes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from e2e.conftest import Stack

from autovid_cli.targets import wait_for_job
from sam_emulator.testing import wait_until

AWS_CLI = Path(sys.executable).with_name("aws")
MAX_RECEIVE_COUNT = 5  # JobQueue's RedrivePolicy


def queue_depth(stack: Stack, logical_id: str) -> int:
    attributes = stack.runtime.client("sqs").get_queue_attributes(
        QueueUrl=stack.runtime.ref(logical_id), AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def aws_sqs(stack: Stack, *arguments: str) -> dict:
    env = {**stack.runtime.client_environment(), "PATH": "/usr/bin:/bin", "AWS_CONFIG_FILE": "/dev/null"}
    done = subprocess.run(
        [str(AWS_CLI), "sqs", *arguments, "--endpoint-url", stack.runtime.aws_endpoint_url, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_job_moved_back_from_the_dlq_completes(stack: Stack):
    sqs = stack.runtime.client("sqs")
    pipe = stack.runtime.pipes["JobPipe"]
    pipe.stop()  # the pipe cannot start executions: the message is received and not deleted
    try:
        job = stack.api.submit(stack.spec())
        for _ in range(MAX_RECEIVE_COUNT + 1):  # the receive after the fifth moves it to the DLQ
            sqs.receive_message(QueueUrl=stack.runtime.ref("JobQueue"), VisibilityTimeout=0)
        assert (queue_depth(stack, "JobQueue"), queue_depth(stack, "JobDeadLetterQueue")) == (0, 1)
        assert stack.api.status(job["jobId"])["status"] == "submitted"
    finally:
        pipe.start()

    dlq_arn = stack.runtime.get_att("JobDeadLetterQueue", "Arn")
    assert aws_sqs(stack, "start-message-move-task", "--source-arn", dlq_arn)["TaskHandle"]

    final = wait_for_job(stack.api, job["jobId"], poll_seconds=0.1, timeout=90)
    assert final["status"] == "completed", final
    task = wait_until(
        lambda: (
            (t := aws_sqs(stack, "list-message-move-tasks", "--source-arn", dlq_arn)["Results"][0])["Status"]
            != "RUNNING"
            and t
        ),
        what="the move task to end",
    )
    assert (task["Status"], task["ApproximateNumberOfMessagesMoved"]) == ("COMPLETED", 1)
    assert queue_depth(stack, "JobDeadLetterQueue") == 0
