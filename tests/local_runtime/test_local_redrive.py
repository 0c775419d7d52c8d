"""RedriveExecution on the local engine, with AWS's semantics, on a small machine: Pass -> A -> B."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from autovid.core.errors import InvalidAssetError
from sam_emulator.testing import execution_history, run_execution, wait_for_execution, wait_until

AWS_CLI = Path(sys.executable).with_name("aws")


def _calls(runtime, run_id: str, step: str) -> int:
    item = runtime.client("dynamodb").get_item(
        TableName=runtime.ref("JobsTable"), Key={"jobId": {"S": f"{run_id}#{step}"}}
    )
    return int(item["Item"]["calls"]["N"]) if "Item" in item else 0


def _scheduled(events: list[dict], state: str) -> int:
    """How often ``state``'s task was scheduled (each attempt, failed or not)."""
    count, current = 0, None
    for event in events:
        if event["type"].endswith("StateEntered"):
            current = event["stateEnteredEventDetails"]["name"]
        elif event["type"] == "TaskScheduled" and current == state:
            count += 1
    return count


def _entered(events: list[dict]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]


def _failed_run(runtime, times: int = 1) -> tuple[str, dict]:
    runtime.inject_fault("FlakyStepFunction", lambda: InvalidAssetError("B is broken"), times=times)
    run_id = uuid.uuid4().hex
    description = run_execution(runtime, "RedriveWorkflow", {"runId": run_id})
    assert description["status"] == "FAILED"
    return run_id, description


def _not_redrivable(error: pytest.ExceptionInfo) -> str:
    assert error.value.response["Error"]["Code"] == "ExecutionNotRedrivable"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return error.value.response["Error"]["Message"]


def test_redrive_resumes_at_the_failed_state_with_the_same_arn(runtime):
    sfn = runtime.client("stepfunctions")
    run_id, failed = _failed_run(runtime)
    arn = failed["executionArn"]
    assert failed["error"] == "InvalidAssetError"
    assert (failed["redriveCount"], failed["redriveStatus"]) == (0, "REDRIVABLE")
    assert "redriveDate" not in failed
    before = execution_history(runtime, arn)

    redrive_date = sfn.redrive_execution(executionArn=arn)["redriveDate"]
    description = wait_for_execution(runtime, arn)

    assert description["executionArn"] == arn and description["status"] == "SUCCEEDED"
    assert description["redriveCount"] == 1
    assert description["redriveDate"] == redrive_date
    assert description["redriveStatus"] == "NOT_REDRIVABLE"
    assert description["redriveStatusReason"] == "Execution is SUCCEEDED and cannot be redriven."
    events = execution_history(runtime, arn)
    assert events[: len(before)] == before, "the first attempt's events are kept as they were"
    redriven = events[len(before)]
    assert redriven["type"] == "ExecutionRedriven"
    assert redriven["executionRedrivenEventDetails"] == {"redriveCount": 1}
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert _entered(events) == ["Prepare", "A", "B", "B"], "only B is entered again"
    assert (_scheduled(events, "A"), _scheduled(events, "B")) == (1, 2)
    assert (_calls(runtime, run_id, "A"), _calls(runtime, run_id, "B")) == (1, 1), "A's handler ran once"
    # B resumed with the input it failed with, and saw $$.Execution.RedriveCount.
    output = description["output"]
    assert output["prepare"] == {"prepared": True}
    assert output["a"]["result"]["redriveCount"] == 0
    assert output["b"]["result"] == {"step": "B", "calls": 1, "redriveCount": 1}


def test_redriving_a_succeeded_or_running_execution_is_refused(runtime):
    sfn = runtime.client("stepfunctions")
    succeeded = run_execution(runtime, "RedriveWorkflow", {"runId": uuid.uuid4().hex})
    assert succeeded["status"] == "SUCCEEDED"
    with pytest.raises(ClientError) as refused:
        sfn.redrive_execution(executionArn=succeeded["executionArn"])
    assert _not_redrivable(refused) == "Execution is SUCCEEDED and cannot be redriven."

    release = threading.Event()

    def blocked() -> Exception:  # A is running until released
        release.wait(10)
        return InvalidAssetError("released")

    runtime.inject_fault("StepFunction", blocked, times=1)
    arn = sfn.start_execution(stateMachineArn=runtime.ref("RedriveWorkflow"), input='{"runId": "r"}')["executionArn"]
    try:
        with pytest.raises(ClientError) as refused:
            sfn.redrive_execution(executionArn=arn)
        assert _not_redrivable(refused) == "Execution is RUNNING and cannot be redriven."
        running = sfn.describe_execution(executionArn=arn)
        assert (running["status"], running["redriveStatus"]) == ("RUNNING", "NOT_REDRIVABLE")
    finally:
        release.set()
    assert wait_for_execution(runtime, arn)["status"] == "FAILED"
    with pytest.raises(ClientError) as missing:
        sfn.redrive_execution(executionArn=arn.rsplit(":", 1)[0] + ":no-such-execution")
    assert missing.value.response["Error"]["Code"] == "ExecutionDoesNotExist"


def test_an_aborted_execution_resumes_at_the_state_it_was_stopped_in(runtime):
    sfn = runtime.client("stepfunctions")
    release = threading.Event()
    entered = threading.Event()

    def blocked() -> Exception:
        entered.set()
        release.wait(10)
        return InvalidAssetError("stopped meanwhile")

    runtime.inject_fault("StepFunction", blocked, times=1)
    run_id = uuid.uuid4().hex
    arn = sfn.start_execution(stateMachineArn=runtime.ref("RedriveWorkflow"), input=json.dumps({"runId": run_id}))[
        "executionArn"
    ]
    assert entered.wait(10)
    sfn.stop_execution(executionArn=arn, error="Operator", cause="stopped by a test")
    release.set()
    assert wait_for_execution(runtime, arn)["status"] == "ABORTED"

    sfn.redrive_execution(executionArn=arn)
    description = wait_for_execution(runtime, arn)

    assert (description["status"], description["redriveCount"]) == ("SUCCEEDED", 1)
    assert _entered(execution_history(runtime, arn)) == ["Prepare", "A", "A", "B"]
    assert (_calls(runtime, run_id, "A"), _calls(runtime, run_id, "B")) == (1, 1)


def test_a_repeated_client_token_does_not_redrive_twice(runtime):
    sfn = runtime.client("stepfunctions")
    _, failed = _failed_run(runtime, times=2)  # B fails again after the first redrive
    arn = failed["executionArn"]

    first = sfn.redrive_execution(executionArn=arn, clientToken="token-1")["redriveDate"]
    assert wait_for_execution(runtime, arn)["status"] == "FAILED"
    again = sfn.redrive_execution(executionArn=arn, clientToken="token-1")["redriveDate"]

    assert again == first
    assert sfn.describe_execution(executionArn=arn)["redriveCount"] == 1
    sfn.redrive_execution(executionArn=arn, clientToken="token-2")
    description = wait_for_execution(runtime, arn)
    assert (description["status"], description["redriveCount"]) == ("SUCCEEDED", 2)
    redrives = [e for e in execution_history(runtime, arn) if e["type"] == "ExecutionRedriven"]
    assert [e["executionRedrivenEventDetails"]["redriveCount"] for e in redrives] == [1, 2]


def test_list_executions_reports_redrives_and_filters_by_them(runtime):
    sfn = runtime.client("stepfunctions")
    _, failed = _failed_run(runtime)
    sfn.redrive_execution(executionArn=failed["executionArn"])
    wait_for_execution(runtime, failed["executionArn"])
    plain = run_execution(runtime, "RedriveWorkflow", {"runId": uuid.uuid4().hex})
    machine = runtime.ref("RedriveWorkflow")

    redriven = sfn.list_executions(stateMachineArn=machine, redriveFilter="REDRIVEN")["executions"]
    not_redriven = sfn.list_executions(stateMachineArn=machine, redriveFilter="NOT_REDRIVEN")["executions"]

    assert failed["executionArn"] in [e["executionArn"] for e in redriven]
    assert all(e["redriveCount"] >= 1 and "redriveDate" in e for e in redriven)
    assert plain["executionArn"] in [e["executionArn"] for e in not_redriven]
    assert failed["executionArn"] not in [e["executionArn"] for e in not_redriven]
    assert all(e["redriveCount"] == 0 for e in not_redriven)
    page = sfn.list_executions(stateMachineArn=machine, maxResults=1)
    assert len(page["executions"]) == 1 and page["nextToken"]
    rest = sfn.list_executions(stateMachineArn=machine, maxResults=1000, nextToken=page["nextToken"])["executions"]
    everything = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert [e["executionArn"] for e in page["executions"] + rest] == [e["executionArn"] for e in everything]
    with pytest.raises(ClientError) as bad:
        sfn.list_executions(stateMachineArn=machine, redriveFilter="SOMETIMES")
    assert bad.value.response["Error"]["Code"] == "ValidationException"


def test_the_redrive_period_is_14_days(runtime):
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    sfn = runtime.client("stepfunctions")
    _, failed = _failed_run(runtime)
    arn = failed["executionArn"]
    backend = stepfunctions_parser_backends[runtime.pseudo.account_id][runtime.pseudo.region]
    backend.describe_execution(arn).stop_date -= dt.timedelta(days=14, minutes=1)

    description = sfn.describe_execution(executionArn=arn)
    assert description["redriveStatus"] == "NOT_REDRIVABLE"
    assert description["redriveStatusReason"] == "Execution redrivable period exceeded."
    with pytest.raises(ClientError) as refused:
        sfn.redrive_execution(executionArn=arn)
    assert _not_redrivable(refused) == "Execution redrivable period exceeded."


def test_a_redrive_is_a_running_status_change_with_its_count(runtime):
    seen = []
    runtime.execution_observers.append(seen.append)
    try:
        _, failed = _failed_run(runtime)
        arn = failed["executionArn"]
        runtime.client("stepfunctions").redrive_execution(executionArn=arn)
        wait_for_execution(runtime, arn)
        wait_until(lambda: len([c for c in seen if c.execution_arn == arn]) == 4, timeout=5, what="4 changes")
    finally:
        runtime.execution_observers.remove(seen.append)
    changes = [(c.status, c.redrive_count) for c in seen if c.execution_arn == arn]
    assert changes == [("RUNNING", 0), ("FAILED", 0), ("RUNNING", 1), ("SUCCEEDED", 1)]


def test_the_aws_cli_redrives_and_describes(runtime):
    assert AWS_CLI.exists(), "the AWS CLI is a pinned dev requirement (requirements/dev.txt)"
    _, failed = _failed_run(runtime)
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(runtime.client_environment())

    def cli(*args: str) -> dict:
        completed = subprocess.run(
            [str(AWS_CLI), "stepfunctions", *args, "--endpoint-url", runtime.aws_endpoint_url, "--output", "json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        return json.loads(completed.stdout or "{}")

    assert "redriveDate" in cli("redrive-execution", "--execution-arn", failed["executionArn"])
    wait_for_execution(runtime, failed["executionArn"])
    described = cli("describe-execution", "--execution-arn", failed["executionArn"])
    assert (described["status"], described["redriveCount"]) == ("SUCCEEDED", 1)


def _machine(runtime, name: str, definition: dict) -> str:
    return runtime.client("stepfunctions").create_state_machine(
        name=f"{name}-{uuid.uuid4().hex[:6]}",
        definition=json.dumps(definition),
        roleArn=f"arn:aws:iam::{runtime.pseudo.account_id}:role/test",
    )["stateMachineArn"]


def _invoke(function_arn: str, step: str, **fields) -> dict:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {
            "FunctionName": function_arn,
            "Payload": {"runId.$": "$.runId", "step": step, "redriveCount.$": "$$.Execution.RedriveCount"},
        },
        "ResultSelector": {"result.$": "$.Payload"},
        **fields,
    }


def test_a_redrive_runs_the_definition_the_execution_started_with(runtime):
    sfn = runtime.client("stepfunctions")
    machine = runtime.ref("RedriveWorkflow")
    original = sfn.describe_state_machine(stateMachineArn=machine)["definition"]
    run_id, failed = _failed_run(runtime)
    changed = json.loads(original)
    changed["States"]["B"] = {"Type": "Pass", "Result": "skipped", "ResultPath": "$.b", "End": True}
    sfn.update_state_machine(stateMachineArn=machine, definition=json.dumps(changed))
    try:
        sfn.redrive_execution(executionArn=failed["executionArn"])
        description = wait_for_execution(runtime, failed["executionArn"])
    finally:
        sfn.update_state_machine(stateMachineArn=machine, definition=original)
    assert description["status"] == "SUCCEEDED"
    assert description["output"]["b"]["result"]["step"] == "B", "B ran as the original definition says"
    assert _calls(runtime, run_id, "B") == 1


def test_an_execution_that_failed_inside_a_parallel_state_is_refused_with_the_reason(runtime):
    sfn = runtime.client("stepfunctions")
    flaky = runtime.get_att("FlakyStepFunction", "Arn")
    machine = _machine(
        runtime,
        "parallel",
        {
            "StartAt": "Both",
            "States": {
                "Both": {
                    "Type": "Parallel",
                    "Branches": [
                        {"StartAt": "B", "States": {"B": _invoke(flaky, "B", End=True)}},
                        {"StartAt": "Noop", "States": {"Noop": {"Type": "Pass", "End": True}}},
                    ],
                    "End": True,
                }
            },
        },
    )
    runtime.inject_fault("FlakyStepFunction", lambda: InvalidAssetError("B is broken"), times=1)
    arn = sfn.start_execution(stateMachineArn=machine, input='{"runId": "p"}')["executionArn"]
    assert wait_for_execution(runtime, arn)["status"] == "FAILED"

    reason = sfn.describe_execution(executionArn=arn)
    assert reason["redriveStatus"] == "NOT_REDRIVABLE"
    assert "Parallel state 'Both'" in reason["redriveStatusReason"]
    with pytest.raises(ClientError) as refused:
        sfn.redrive_execution(executionArn=arn)
    assert "does not redrive Parallel states" in _not_redrivable(refused)


def test_a_timed_out_execution_resumes_without_events_from_the_run_it_left_behind(runtime):
    sfn = runtime.client("stepfunctions")
    step = runtime.get_att("StepFunction", "Arn")
    machine = _machine(
        runtime,
        "timeout",
        {"StartAt": "A", "TimeoutSeconds": 1, "States": {"A": _invoke(step, "A", ResultPath="$.a", End=True)}},
    )
    release = threading.Event()

    def blocked() -> Exception:  # A outlives the machine's timeout
        release.wait(10)
        return InvalidAssetError("the old run's late failure")

    runtime.inject_fault("StepFunction", blocked, times=1)
    run_id = uuid.uuid4().hex
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"runId": run_id}))["executionArn"]
    assert wait_for_execution(runtime, arn)["status"] == "TIMED_OUT"

    sfn.redrive_execution(executionArn=arn)
    description = wait_for_execution(runtime, arn)
    release.set()  # the old run's task ends only now
    wait_until(lambda: runtime.faults.remaining("StepFunction") == 0, what="the fault to be taken")
    assert (description["status"], description["redriveCount"]) == ("SUCCEEDED", 1)
    events = execution_history(runtime, arn)
    after = [e["type"] for e in events[[e["type"] for e in events].index("ExecutionRedriven") + 1 :]]
    assert after[0] == "TaskStateEntered" and after[-1] == "ExecutionSucceeded"
    assert "TaskFailed" not in after and "ExecutionTimedOut" not in after
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
