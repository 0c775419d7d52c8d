"""The video job workflow under the Step Functions Local mock test cases in video_job.mock.json,
and its logs in the endpoint's CloudWatch Logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from sam_emulator.runtime import LocalRuntime
from sam_emulator.testing import execution_history, running_runtime, wait_for_execution, wait_until

ROOT = Path(__file__).parents[2]
MOCK_CONFIG = Path(__file__).parent / "video_job.mock.json"
AWS_CLI = Path(sys.executable).parent / "aws"
LOG_GROUP = "/aws/vendedlogs/states/auto-vid-auto-vid-local-video-job"


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    with running_runtime(ROOT / "template.yaml", stack_name="auto-vid-local", sfn_mock_config=MOCK_CONFIG) as rt:
        yield rt


def run_case(runtime: LocalRuntime, case: str, job_id: str) -> dict:
    """A submitted job (MarkProcessing runs for real and claims it) run under test case ``case``."""
    runtime.client("dynamodb").put_item(
        TableName=runtime.ref("JobsTable"), Item={"jobId": {"S": job_id}, "status": {"S": "submitted"}}
    )
    arn = runtime.ref("VideoJobStateMachine") + "#" + case
    started = runtime.client("stepfunctions").start_execution(stateMachineArn=arn, input=json.dumps({"jobId": job_id}))
    return wait_for_execution(runtime, started["executionArn"])


def attempts(runtime: LocalRuntime, execution_arn: str, state: str) -> list[str]:
    """The outcome of each attempt of ``state``'s task: TaskSucceeded or TaskFailed."""
    events = execution_history(runtime, execution_arn)
    scheduled = {e["id"] for e in events if e["type"] == "TaskScheduled"
                 and json.loads(e["taskScheduledEventDetails"]["parameters"]).get("FunctionName", "").endswith(state + "Function")}  # fmt: skip
    outcomes = []
    for event in events:
        if event["type"] in ("TaskSucceeded", "TaskFailed") and _scheduled_by(events, event) in scheduled:
            outcomes.append(event["type"])
    return outcomes


def _scheduled_by(events: list[dict], event: dict) -> int | None:
    by_id = {e["id"]: e for e in events}
    current = event
    while current and current["type"] != "TaskScheduled":
        current = by_id.get(current.get("previousEventId"))
    return current["id"] if current else None


def test_happy_path_mocks_the_lambdas_and_runs_the_rest_for_real(runtime):
    description = run_case(runtime, "HappyPath", "mock-happy")

    assert description["status"] == "SUCCEEDED"
    assert description["output"]["job"] == {"status": "completed"}
    assert description["output"]["render"]["file"]["key"] == "work/job/rendered.mp4"
    item = runtime.client("dynamodb").get_item(TableName=runtime.ref("JobsTable"), Key={"jobId": {"S": "mock-happy"}})
    assert item["Item"]["status"]["S"] == "processing", "MarkProcessing is not mocked: it ran against the table"
    assert item["Item"]["executionArn"]["S"] == description["executionArn"]


def test_a_render_retry_that_succeeds(runtime):
    description = run_case(runtime, "RenderRetrySucceeds", "mock-retry")

    assert description["status"] == "SUCCEEDED"
    assert attempts(runtime, description["executionArn"], "RenderVideo") == ["TaskFailed", "TaskSucceeded"]


def test_render_retries_that_run_out_fail_the_execution(runtime):
    description = run_case(runtime, "RenderRetriesExhausted", "mock-exhausted")

    assert (description["status"], description["error"]) == ("FAILED", "TransientError")
    assert description["cause"] == "ffmpeg was killed"
    # MaxAttempts 3: the first attempt and three retries.
    assert attempts(runtime, description["executionArn"], "RenderVideo") == ["TaskFailed"] * 4
    assert attempts(runtime, description["executionArn"], "UploadOutput") == []


def test_an_unknown_test_case_is_a_validation_error(runtime):
    with pytest.raises(ClientError, match="Invalid mock test case name 'Nope'"):
        runtime.client("stepfunctions").start_execution(stateMachineArn=runtime.ref("VideoJobStateMachine") + "#Nope")


def test_describe_state_machine_shows_the_logging_configuration(runtime):
    description = runtime.client("stepfunctions").describe_state_machine(
        stateMachineArn=runtime.ref("VideoJobStateMachine")
    )

    logging_config = description["loggingConfiguration"]
    assert (logging_config["level"], logging_config["includeExecutionData"]) == ("ALL", True)
    assert logging_config["destinations"][0]["cloudWatchLogsLogGroup"]["logGroupArn"] == runtime.get_att(
        "VideoJobStateMachineLogGroup", "Arn"
    )
    assert description["tracingConfiguration"] == {"enabled": True}
    assert "VideoJobStateMachine: Tracing (X-Ray) is not emulated locally" in runtime.stack.notes


def test_execution_events_go_to_the_state_machine_log_group(runtime):
    description = run_case(runtime, "HappyPath", "mock-logged")
    cli = [str(AWS_CLI), "--endpoint-url", runtime.aws_endpoint_url, "logs", "filter-log-events",
           "--log-group-name", LOG_GROUP, "--filter-pattern", "ExecutionSucceeded"]  # fmt: skip
    env = {**os.environ, **runtime.client_environment()}

    def succeeded_events() -> list[dict]:
        completed = subprocess.run(cli, env=env, capture_output=True, text=True, check=True, timeout=60)
        events = [json.loads(e["message"]) for e in json.loads(completed.stdout)["events"]]
        return [e for e in events if e["execution_arn"] == description["executionArn"]]

    [event] = wait_until(succeeded_events, what="ExecutionSucceeded in the log group")
    assert event["type"] == "ExecutionSucceeded"
    assert json.loads(event["details"]["output"])["job"] == {"status": "completed"}  # IncludeExecutionData
    history_ids = [e["id"] for e in execution_history(runtime, description["executionArn"])]
    logged = runtime.client("logs").filter_log_events(logGroupName=LOG_GROUP)["events"]
    logged_ids = [int(json.loads(e["message"])["id"]) for e in logged
                  if json.loads(e["message"])["execution_arn"] == description["executionArn"]]  # fmt: skip
    assert logged_ids == history_ids, "level ALL logs every history event"


def test_function_output_goes_to_its_lambda_log_group(runtime):
    runtime.invoke("ReconcileJobsFunction", {})
    group = "/aws/lambda/" + runtime.ref("ReconcileJobsFunction")

    messages = [e["message"] for e in runtime.client("logs").filter_log_events(logGroupName=group)["events"]]

    assert any(m.startswith("START RequestId: ") for m in messages)
    assert any(m.startswith("REPORT RequestId: ") for m in messages)
    log_file = runtime.log_dir / "ReconcileJobsFunction.log"
    assert messages == log_file.read_text().splitlines(), "the same lines as the function's log file"
