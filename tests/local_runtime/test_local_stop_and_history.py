"""StopExecution, GetExecutionHistory and ListExecutions as the Step Functions API reference has them."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from autovid.core.errors import TransientError
from sam_emulator.testing import execution_history, run_execution, wait_for_execution

AWS_CLI = Path(sys.executable).with_name("aws")


def blocked_step(runtime, logical_id: str, outcome=None):
    """Make the next invocation of ``logical_id`` wait until released; returns (entered, release)."""
    entered, release = threading.Event(), threading.Event()

    def hold() -> Exception:
        entered.set()
        release.wait(10)
        return outcome or TransientError("failed after the stop")

    runtime.inject_fault(logical_id, hold, times=1)
    return entered, release


def handler_returned(runtime) -> None:
    """Wait until the held handler has returned and the interpreter has had a moment to use its
    result (were it still to reach the execution, the asserts after this would see it)."""
    assert not runtime.functions.wait_for_handlers(timeout=10)
    time.sleep(0.2)


def without_metadata(answer: dict) -> dict:
    return {key: value for key, value in answer.items() if key != "ResponseMetadata"}


def start(runtime, machine: str, payload: dict) -> str:
    sfn = runtime.client("stepfunctions")
    return sfn.start_execution(stateMachineArn=runtime.ref(machine), input=json.dumps(payload))["executionArn"]


def test_stop_execution_aborts_at_once_with_error_and_cause(runtime):
    sfn = runtime.client("stepfunctions")
    entered, release = blocked_step(runtime, "StepFunction")
    arn = start(runtime, "RedriveWorkflow", {"runId": "stop-now"})
    try:
        assert entered.wait(10)
        stopped = sfn.stop_execution(executionArn=arn, error="Operator.Stop", cause="stopped by the operator")

        # Before the running Lambda returns: already ABORTED, with the stop's date, error and cause.
        description = sfn.describe_execution(executionArn=arn)
        assert description["status"] == "ABORTED"
        assert description["stopDate"] == stopped["stopDate"]
        assert (description["error"], description["cause"]) == ("Operator.Stop", "stopped by the operator")
        events = execution_history(runtime, arn)
        assert events[-1]["type"] == "ExecutionAborted"
        assert events[-1]["executionAbortedEventDetails"] == {
            "error": "Operator.Stop",
            "cause": "stopped by the operator",
        }
        listed = sfn.list_executions(stateMachineArn=runtime.ref("RedriveWorkflow"), statusFilter="ABORTED")
        assert arn in [e["executionArn"] for e in listed["executions"]]
    finally:
        release.set()
    # The task's late failure changes nothing: no new events, the same status, date, error and cause.
    handler_returned(runtime)
    assert execution_history(runtime, arn) == events
    assert without_metadata(sfn.describe_execution(executionArn=arn)) == without_metadata(description)


def test_a_late_task_success_changes_nothing_either(runtime):
    sfn = runtime.client("stepfunctions")
    entered, release = threading.Event(), threading.Event()

    def hold_then_succeed() -> Exception | None:
        entered.set()
        release.wait(10)
        return None

    runtime.inject_fault("StepFunction", hold_then_succeed, times=1)
    arn = start(runtime, "RedriveWorkflow", {"runId": "stop-success"})
    assert entered.wait(10)
    sfn.stop_execution(executionArn=arn)
    events = execution_history(runtime, arn)
    release.set()
    handler_returned(runtime)
    description = sfn.describe_execution(executionArn=arn)
    assert description["status"] == "ABORTED" and "error" not in description and "cause" not in description
    assert execution_history(runtime, arn) == events
    assert events[-1]["executionAbortedEventDetails"] == {}


def test_stop_reports_aborted_once_and_the_stopped_execution_can_be_redriven(runtime):
    seen = []
    runtime.execution_observers.append(seen.append)
    sfn = runtime.client("stepfunctions")
    try:
        entered, release = blocked_step(runtime, "FlakyStepFunction")
        arn = start(runtime, "RedriveWorkflow", {"runId": "stop-redrive"})
        assert entered.wait(10)
        sfn.stop_execution(executionArn=arn, error="E", cause="C")
        assert [c.status for c in seen if c.execution_arn == arn] == ["RUNNING", "ABORTED"]
        sfn.redrive_execution(executionArn=arn)
        release.set()  # the old run's task ends now; the redriven run must not see it
        description = wait_for_execution(runtime, arn)
    finally:
        runtime.execution_observers.remove(seen.append)
    assert description["status"] == "SUCCEEDED" and description["redriveCount"] == 1
    types = [e["type"] for e in execution_history(runtime, arn)]
    assert types.count("ExecutionAborted") == 1 and types[-1] == "ExecutionSucceeded"
    statuses = [c.status for c in seen if c.execution_arn == arn]
    assert statuses == ["RUNNING", "ABORTED", "RUNNING", "SUCCEEDED"]


def test_stopping_an_ended_execution_changes_nothing(runtime):
    sfn = runtime.client("stepfunctions")
    description = run_execution(runtime, "RedriveWorkflow", {"runId": "ended"})
    assert description["status"] == "SUCCEEDED"
    answer = sfn.stop_execution(executionArn=description["executionArn"], error="late")
    assert answer["stopDate"] == description["stopDate"]
    assert sfn.describe_execution(executionArn=description["executionArn"])["status"] == "SUCCEEDED"


def test_stop_execution_errors(runtime):
    sfn = runtime.client("stepfunctions")
    machine = runtime.ref("RedriveWorkflow")
    missing = machine.replace(":stateMachine:", ":execution:") + ":no-such-execution"
    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
        sfn.stop_execution(executionArn=missing)
    description = run_execution(runtime, "RedriveWorkflow", {"runId": "long-error"})
    with pytest.raises(ClientError) as raised:
        sfn.stop_execution(executionArn=description["executionArn"], error="x" * 257)
    assert raised.value.response["Error"]["Code"] == "ValidationException"


# --- GetExecutionHistory ------------------------------------------------------------------


@pytest.fixture(scope="module")
def finished(module_runtime):
    """One succeeded execution of Prepare -> A -> B (14 events)."""
    description = run_execution(module_runtime, "RedriveWorkflow", {"runId": "history"})
    assert description["status"] == "SUCCEEDED"
    return description["executionArn"]


def test_history_previous_event_ids(runtime, finished):
    events = execution_history(runtime, finished)
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["previousEventId"] == 0
    assert events[1]["previousEventId"] == 1
    assert all(0 < e["previousEventId"] < e["id"] for e in events[1:])


def test_history_pages_forward_and_in_reverse(runtime, finished):
    sfn = runtime.client("stepfunctions")
    everything = execution_history(runtime, finished)
    first = sfn.get_execution_history(executionArn=finished, maxResults=5)
    assert [e["id"] for e in first["events"]] == [1, 2, 3, 4, 5] and first["nextToken"]
    second = sfn.get_execution_history(executionArn=finished, maxResults=5, nextToken=first["nextToken"])
    assert [e["id"] for e in second["events"]] == [6, 7, 8, 9, 10]

    pages = list(
        sfn.get_paginator("get_execution_history").paginate(
            executionArn=finished, reverseOrder=True, PaginationConfig={"PageSize": 5}
        )
    )
    assert len(pages) == -(-len(everything) // 5)
    assert [e for page in pages for e in page["events"]] == list(reversed(everything))
    assert "nextToken" not in pages[-1]


def test_history_without_execution_data(runtime, finished):
    sfn = runtime.client("stepfunctions")
    full = sfn.get_execution_history(executionArn=finished)["events"]
    bare = sfn.get_execution_history(executionArn=finished, includeExecutionData=False)["events"]
    data_fields = {"input", "inputDetails", "output", "outputDetails", "parameters"}

    def details(event):
        return next((v for k, v in event.items() if k.endswith("EventDetails")), {})

    assert sum(bool(data_fields & set(details(e))) for e in full) > 5
    assert not any(data_fields & set(details(e)) for e in bare)
    assert [(e["id"], e["type"]) for e in bare] == [(e["id"], e["type"]) for e in full]
    assert details(bare[1]) == {"name": "Prepare"}  # PassStateEntered keeps the state's name


def test_history_errors(runtime, finished):
    sfn = runtime.client("stepfunctions")
    with pytest.raises(sfn.exceptions.InvalidToken):
        sfn.get_execution_history(executionArn=finished, nextToken="not-a-token")
    with pytest.raises(ClientError) as raised:
        sfn.get_execution_history(executionArn=finished, maxResults=1001)
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
        sfn.get_execution_history(executionArn=finished + "-missing")


def test_history_through_the_aws_cli_with_max_items(runtime, finished):
    command = [str(AWS_CLI), "stepfunctions", "get-execution-history", "--execution-arn", finished]
    command += ["--endpoint-url", runtime.aws_endpoint_url, "--output", "json", "--page-size", "4"]
    env = {**runtime.client_environment(), "PATH": "/usr/bin:/bin", "AWS_CONFIG_FILE": "/dev/null"}
    first = json.loads(subprocess.run(command + ["--max-items", "6"], env=env, capture_output=True, text=True,
                                      timeout=60, check=True).stdout)  # fmt: skip
    assert [e["id"] for e in first["events"]] == [1, 2, 3, 4, 5, 6]
    rest = json.loads(subprocess.run(command + ["--starting-token", first["NextToken"], "--no-include-execution-data"],
                                     env=env, capture_output=True, text=True, timeout=60, check=True).stdout)  # fmt: skip
    assert [e["id"] for e in rest["events"]][0] == 7 and "NextToken" not in rest
    assert "input" not in json.dumps(rest["events"])


# --- ListExecutions -------------------------------------------------------------------------


def test_list_executions_pages_and_filters(runtime):
    sfn = runtime.client("stepfunctions")
    machine = runtime.ref("PipeTarget")
    started = [run_execution(runtime, "PipeTarget", {"jobId": f"list-{i}"})["executionArn"] for i in range(5)]
    everything = [
        e for p in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine) for e in p["executions"]
    ]
    pages = list(
        sfn.get_paginator("list_executions").paginate(stateMachineArn=machine, PaginationConfig={"PageSize": 2})
    )
    assert all(len(page["executions"]) <= 2 for page in pages) and len(pages) >= 3
    paged = [e["executionArn"] for page in pages for e in page["executions"]]
    assert paged == [e["executionArn"] for e in everything]
    assert set(started) <= set(paged)
    succeeded = sfn.list_executions(stateMachineArn=machine, statusFilter="SUCCEEDED", maxResults=1000)["executions"]
    assert {e["status"] for e in succeeded} == {"SUCCEEDED"} and set(started) <= {e["executionArn"] for e in succeeded}
    assert sfn.list_executions(stateMachineArn=machine, statusFilter="ABORTED")["executions"] == []
    not_redriven = sfn.list_executions(stateMachineArn=machine, redriveFilter="NOT_REDRIVEN")["executions"]
    assert len(not_redriven) == len(everything)
    assert sfn.list_executions(stateMachineArn=machine, redriveFilter="REDRIVEN")["executions"] == []


def test_list_executions_errors(runtime):
    sfn = runtime.client("stepfunctions")
    machine = runtime.ref("PipeTarget")
    map_run = machine.replace(":stateMachine:", ":mapRun:") + "/map:0f4b2c1e-0000-4000-8000-000000000000"
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.list_executions(mapRunArn=map_run)
    for request in ({"stateMachineArn": machine, "mapRunArn": map_run}, {}, {"stateMachineArn": machine,
                                                                               "statusFilter": "DONE"}):  # fmt: skip
        with pytest.raises(ClientError) as raised:
            sfn.list_executions(**request)
        assert raised.value.response["Error"]["Code"] == "ValidationException", request
    with pytest.raises(sfn.exceptions.InvalidToken):
        sfn.list_executions(stateMachineArn=machine, nextToken="nope")
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.list_executions(stateMachineArn=machine + "-missing")
