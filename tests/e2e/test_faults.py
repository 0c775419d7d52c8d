"""Faults on the project's own stack, each ending in the documented status with nothing
half-written at the destination. A fault is a domain function replaced in the Lambda workers
(``worker_doubles.py``): the code around it, the state machine and the status bookkeeping are real."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from e2e.conftest import Stack, started_stack, wait_for_marker

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


def test_a_render_past_the_tasks_timeout_fails_the_job_and_its_late_end_writes_nothing(stack: Stack) -> None:
    sfn = stack.runtime.client("stepfunctions")
    machine = stack.runtime.ref("VideoJobStateMachine")
    original = sfn.describe_state_machine(stateMachineArn=machine)["definition"]
    shorter = json.loads(original)
    shorter["States"]["RenderVideo"]["TimeoutSeconds"] = 2  # the deployed 930 s, shortened for the test
    sfn.update_state_machine(stateMachineArn=machine, definition=json.dumps(shorter))
    try:
        with stack.doubles.on("render", hold="before", holdSeconds=5.0):
            job = stack.run(stack.spec(), timeout=60)
            finished = wait_for_marker(stack.doubles, "render.finished", timeout=30)
            assert not stack.runtime.functions.wait_for_handlers(timeout=30)
    finally:
        sfn.update_state_machine(stateMachineArn=machine, definition=original)

    assert job["status"] == "failed"
    assert (job["error"]["type"], job["error"]["state"]) == ("States.Timeout", "RenderVideo")
    assert finished, "the Lambda ran on after the task timed out, as on AWS"
    wait_for_execution(stack.runtime, job["executionArn"])
    later = stack.api.status(job["jobId"])
    assert later["status"] == "failed" and statuses(later) == statuses(job), "the late render changed nothing"
    assert keys_under(stack, f"outputs/{job['jobId']}/") == [], "nothing at the destination"


def test_a_crash_before_the_final_copy_leaves_no_object_and_a_redrive_completes(stack: Stack) -> None:
    with stack.doubles.on("copy"):  # MemoryError on the first copy only
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


def test_a_throttled_status_write_is_retried_and_the_job_completes(stack: Stack) -> None:
    with stack.doubles.on("throttle"):  # the first write of `completed` is throttled
        job = stack.run(stack.spec())
        throttled = stack.doubles.calls("throttle")

    assert job["status"] == "completed", job["error"]
    assert throttled == [job["jobId"]]
    assert statuses(job) == ["submitted", "processing", "retrying", "processing", "completed"]
    assert "ProvisionedThroughputExceededException" in job["statusHistory"][2]["reason"]
    assert scheduled(stack, job["executionArn"], "FinalizeJob") == 2
    assert scheduled(stack, job["executionArn"], "RenderVideo") == 1
    assert len(keys_under(stack, f"outputs/{job['jobId']}/")) == 1


def test_a_duplicate_delivery_while_rendering_renders_once(stack: Stack) -> None:
    with stack.doubles.on("render", hold="before"):
        job = stack.api.submit(stack.spec())
        try:
            assert wait_for_marker(stack.doubles, "render.held", timeout=30), "the render started"
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
            stack.doubles.release("render")
    done = wait_until(
        lambda: (j := stack.api.status(job["jobId"]))["status"] in ("completed", "failed") and j, timeout=60
    )
    assert done["status"] == "completed", done["error"]
    assert statuses(done) == ["submitted", "processing", "completed"]
    assert scheduled(stack, done["executionArn"], "RenderVideo") == 1
    assert len(keys_under(stack, f"outputs/{job['jobId']}/")) == 1
