"""Faults on the project's own stack, each ending in the documented status with nothing
half-written at the destination. The handlers run in this process, so a fault is a patched
domain function: the code around it, the state machine and the status bookkeeping are real."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from e2e.conftest import Stack, started_stack

import autovid.aws.jobs as jobs_module
import autovid.aws.storage as storage_module
import autovid.workflow.render_video as render_module
from autovid.aws.errors import raise_for_client_error
from sam_emulator.testing import execution_history, wait_for_execution, wait_until


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with started_stack(tmp_path_factory.mktemp("fault-media")) as started:
        yield started


def keys_under(stack: Stack, prefix: str) -> list[str]:
    listing = stack.runtime.client("s3").list_objects_v2(Bucket=stack.bucket, Prefix=prefix)
    return [item["Key"] for item in listing.get("Contents", [])]


def statuses(job: dict) -> list[str]:
    return [entry["status"] for entry in job["statusHistory"]]


def scheduled(stack: Stack, execution_arn: str, state: str) -> int:
    count, current = 0, None
    for event in execution_history(stack.runtime, execution_arn):
        if event["type"].endswith("StateEntered"):
            current = event["stateEnteredEventDetails"]["name"]
        elif event["type"] == "TaskScheduled" and current == state:
            count += 1
    return count


class SlowRender:
    """Wraps the render: each call waits until released (or ``seconds``), then renders."""

    def __init__(self, seconds: float = 30.0):
        self.seconds = seconds
        self.started = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()
        self.original = render_module.render

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.started.set()
        self.release.wait(self.seconds)
        try:
            return self.original(*args, **kwargs)
        finally:
            self.finished.set()


def test_a_render_past_the_tasks_timeout_fails_the_job_and_its_late_end_writes_nothing(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    sfn = stack.runtime.client("stepfunctions")
    machine = stack.runtime.ref("VideoJobStateMachine")
    original = sfn.describe_state_machine(stateMachineArn=machine)["definition"]
    shorter = json.loads(original)
    shorter["States"]["RenderVideo"]["TimeoutSeconds"] = 2  # the deployed 930 s, shortened for the test
    slow = SlowRender(seconds=5.0)
    monkeypatch.setattr(render_module, "render", slow)
    sfn.update_state_machine(stateMachineArn=machine, definition=json.dumps(shorter))
    try:
        job = stack.run(stack.spec(), timeout=60)
    finally:
        sfn.update_state_machine(stateMachineArn=machine, definition=original)

    assert job["status"] == "failed"
    assert (job["error"]["type"], job["error"]["state"]) == ("States.Timeout", "RenderVideo")
    assert slow.finished.wait(30), "the Lambda ran on after the task timed out, as on AWS"
    wait_for_execution(stack.runtime, job["executionArn"])
    later = stack.api.status(job["jobId"])
    assert later["status"] == "failed" and statuses(later) == statuses(job), "the late render changed nothing"
    assert keys_under(stack, f"outputs/{job['jobId']}/") == [], "nothing at the destination"


def test_a_crash_before_the_final_copy_leaves_no_object_and_a_redrive_completes(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = storage_module.copy_object
    crashes: list[tuple] = []

    def crash_once(*args: Any) -> None:
        if not crashes:
            crashes.append(args)
            raise MemoryError("the upload Lambda was killed before its copy")
        original(*args)

    monkeypatch.setattr(storage_module, "copy_object", crash_once)
    job = stack.run(stack.spec())

    assert job["status"] == "failed"
    assert job["error"] == {
        "type": "InternalError",
        "message": "UploadOutput failed unexpectedly (MemoryError)",
        "state": "UploadOutput",
    }
    job_id = job["jobId"]
    assert keys_under(stack, f"outputs/{job_id}/") == [], "no object, not half of one"
    (work_key,) = keys_under(stack, f"work/{job_id}/")
    rendered = stack.runtime.client("s3").head_object(Bucket=stack.bucket, Key=work_key)["ContentLength"]

    wait_for_execution(stack.runtime, job["executionArn"])
    stack.runtime.client("stepfunctions").redrive_execution(executionArn=job["executionArn"])
    done = wait_until(
        lambda: (j := stack.api.status(job_id))["status"] == "completed" and j, timeout=60, what="the redrive"
    )
    (output_key,) = keys_under(stack, f"outputs/{job_id}/")
    stored = stack.runtime.client("s3").head_object(Bucket=stack.bucket, Key=output_key)["ContentLength"]
    assert stored == rendered == done["output"]["size"], "the whole rendered file, once"
    assert statuses(done)[-4:] == ["failed", "retrying", "processing", "completed"]
    assert scheduled(stack, job["executionArn"], "RenderVideo") == 1, "the render is not redone"


def test_a_throttled_status_write_is_retried_and_the_job_completes(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = jobs_module.JobsTable.update
    throttled: list[str] = []

    def throttle_completion_once(self: Any, job_id: str, **request: Any) -> Any:
        if request["values"].get(":new") == "completed" and not throttled:
            throttled.append(job_id)
            error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "Rate exceeded"}}
            raise_for_client_error(ClientError(error, "UpdateItem"), "DynamoDB UpdateItem")
        return original(self, job_id, **request)

    monkeypatch.setattr(jobs_module.JobsTable, "update", throttle_completion_once)
    job = stack.run(stack.spec())

    assert job["status"] == "completed", job["error"]
    assert throttled == [job["jobId"]]
    assert statuses(job) == ["submitted", "processing", "retrying", "processing", "completed"]
    assert "ProvisionedThroughputExceededException" in job["statusHistory"][2]["reason"]
    assert scheduled(stack, job["executionArn"], "FinalizeJob") == 2
    assert scheduled(stack, job["executionArn"], "RenderVideo") == 1
    assert len(keys_under(stack, f"outputs/{job['jobId']}/")) == 1


def test_a_duplicate_delivery_while_rendering_renders_once(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    slow = SlowRender()
    monkeypatch.setattr(render_module, "render", slow)
    job = stack.api.submit(stack.spec())
    try:
        assert slow.started.wait(30), "the render started"
        stack.runtime.client("sqs").send_message(
            QueueUrl=stack.runtime.ref("JobQueue"), MessageBody=json.dumps({"jobId": job["jobId"]})
        )
        sfn = stack.runtime.client("stepfunctions")
        machine = stack.runtime.ref("VideoJobStateMachine")

        def second_execution_ended() -> bool:
            mine = [
                e
                for e in sfn.list_executions(stateMachineArn=machine)["executions"]
                if job["jobId"] in sfn.describe_execution(executionArn=e["executionArn"])["input"]
            ]
            return any(e["status"] == "SUCCEEDED" for e in mine) and len(mine) == 2

        wait_until(second_execution_ended, timeout=30, what="the duplicate's execution to end while rendering")
    finally:
        slow.release.set()
    done = wait_until(
        lambda: (j := stack.api.status(job["jobId"]))["status"] in ("completed", "failed") and j, timeout=60
    )
    assert done["status"] == "completed", done["error"]
    assert statuses(done) == ["submitted", "processing", "completed"]
    assert scheduled(stack, done["executionArn"], "RenderVideo") == 1
    assert len(keys_under(stack, f"outputs/{job['jobId']}/")) == 1
