"""Step Functions on the local runtime: Lambda tasks with Retry/Catch and the DynamoDB integration."""

from __future__ import annotations

import json
import uuid

from autovid.core.errors import InvalidAssetError, TransientError
from sam_emulator.testing import execution_history, run_execution


def _job_id() -> str:
    return f"job-{uuid.uuid4().hex[:8]}"


def _events(runtime, description, event_type):
    return [event for event in execution_history(runtime, description["executionArn"]) if event["type"] == event_type]


def test_task_retries_transient_error_then_succeeds(runtime):
    runtime.inject_fault("WorkerFunction", lambda: TransientError("upstream hiccup"), times=2)
    job_id = _job_id()

    description = run_execution(runtime, "JobWorkflow", {"jobId": job_id})

    assert description["status"] == "SUCCEEDED"
    failed = _events(runtime, description, "LambdaFunctionFailed")
    succeeded = _events(runtime, description, "LambdaFunctionSucceeded")
    assert len(failed) == 2 and len(succeeded) == 1
    for event in failed:
        details = event["lambdaFunctionFailedEventDetails"]
        assert details["error"] == "TransientError" == TransientError.__name__
        cause = json.loads(details["cause"])
        assert cause["errorType"] == "TransientError"
        assert cause["errorMessage"] == "upstream hiccup"
        assert isinstance(cause["stackTrace"], list)
    assert description["output"]["work"]["worked"].startswith("worker:")
    item = runtime.client("dynamodb").get_item(TableName=runtime.ref("JobsTable"), Key={"jobId": {"S": job_id}})
    assert item["Item"]["status"] == {"S": "SUCCEEDED"}


def test_catch_with_result_path_receives_error_and_cause(runtime):
    runtime.inject_fault("WorkerFunction", lambda: InvalidAssetError("not a video"), times=1)

    description = run_execution(runtime, "InvokeWorkflow", {"jobId": _job_id()})

    assert description["status"] == "SUCCEEDED"
    error = description["output"]["error"]
    assert set(error) == {"Error", "Cause"}
    assert error["Error"] == "InvalidAssetError"
    cause = json.loads(error["Cause"])
    assert cause["errorType"] == "InvalidAssetError"
    assert cause["errorMessage"] == "not a video"


def test_lambda_invoke_integration_passes_payload(runtime):
    job_id = _job_id()

    description = run_execution(runtime, "InvokeWorkflow", {"jobId": job_id})

    assert description["status"] == "SUCCEEDED"
    assert description["output"]["invoked"]["result"]["jobId"] == job_id


def test_retry_exhausted_is_caught_and_recorded_in_dynamodb(runtime):
    # MaxAttempts 3 = three retries after the first attempt.
    runtime.inject_fault("WorkerFunction", lambda: TransientError("still down"), times=4)
    job_id = _job_id()

    description = run_execution(runtime, "JobWorkflow", {"jobId": job_id})

    assert description["status"] == "SUCCEEDED"
    assert len(_events(runtime, description, "LambdaFunctionFailed")) == 4
    assert description["output"]["error"]["Error"] == "TransientError"
    item = runtime.client("dynamodb").get_item(TableName=runtime.ref("JobsTable"), Key={"jobId": {"S": job_id}})
    assert item["Item"]["status"] == {"S": "FAILED"}
    assert item["Item"]["errorName"] == {"S": "TransientError"}


def test_dynamodb_condition_failure_is_catchable_by_name(runtime):
    job_id = _job_id()
    first = run_execution(runtime, "JobWorkflow", {"jobId": job_id})
    assert first["status"] == "SUCCEEDED" and "duplicate" not in first["output"]

    second = run_execution(runtime, "JobWorkflow", {"jobId": job_id})

    assert second["status"] == "SUCCEEDED"
    assert second["output"]["duplicate"]["Error"] == "DynamoDB.ConditionalCheckFailedException"
    task_failures = _events(runtime, second, "TaskFailed")
    assert [event["taskFailedEventDetails"]["error"] for event in task_failures] == [
        "DynamoDB.ConditionalCheckFailedException"
    ]


def test_unnamed_executions_get_distinct_generated_names(runtime):
    sfn = runtime.client("stepfunctions")
    arns = [sfn.start_execution(stateMachineArn=runtime.ref("PipeTarget"))["executionArn"] for _ in range(2)]

    assert arns[0] != arns[1]
    assert not any(arn.endswith(":None") for arn in arns)
