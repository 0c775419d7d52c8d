"""ValidateStateMachineDefinition and TestState on the local endpoint, through boto3 and the AWS CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from autovid.core.errors import TransientError

AWS_CLI = Path(sys.executable).parent / "aws"

VALID = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
BROKEN = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Missing"}}}


def lambda_task(runtime, **extra) -> dict:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": runtime.get_att("WorkerFunction", "Arn"), "Payload.$": "$"},
        "ResultSelector": {"worked.$": "$.Payload.worked"},
        "ResultPath": "$.result",
        "Retry": [{"ErrorEquals": ["TransientError"], "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2.0}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RecordFailure"}],
        "Next": "RecordSuccess",
        **extra,
    }


# --- ValidateStateMachineDefinition ------------------------------------------------------------


def test_a_valid_definition_is_ok_with_no_diagnostics(runtime):
    answer = runtime.client("stepfunctions").validate_state_machine_definition(definition=json.dumps(VALID))

    assert answer["result"] == "OK"
    assert answer["diagnostics"] == []
    assert answer["truncated"] is False


def test_a_broken_definition_fails_with_located_diagnostics(runtime):
    answer = runtime.client("stepfunctions").validate_state_machine_definition(definition=json.dumps(BROKEN))

    assert answer["result"] == "FAIL"
    codes = {d["code"]: d for d in answer["diagnostics"]}
    assert set(codes) == {"MISSING_TRANSITION_TARGET", "MISSING_END_STATE"}
    assert codes["MISSING_TRANSITION_TARGET"]["location"] == "/States/A/Next"
    assert all(d["severity"] == "ERROR" and d["message"] for d in answer["diagnostics"])


def test_invalid_json_and_max_results(runtime):
    sfn = runtime.client("stepfunctions")

    not_json = sfn.validate_state_machine_definition(definition="{not json")
    truncated = sfn.validate_state_machine_definition(definition=json.dumps(BROKEN), maxResults=1)

    assert [d["code"] for d in not_json["diagnostics"]] == ["INVALID_JSON_DESCRIPTION"]
    assert not_json["result"] == "FAIL"
    assert len(truncated["diagnostics"]) == 1 and truncated["truncated"] is True


def test_the_project_state_machine_validates(runtime):
    definition = (Path(__file__).parents[2] / "statemachine" / "video_job.asl.json").read_text()
    answer = runtime.client("stepfunctions").validate_state_machine_definition(definition=definition)

    assert answer["result"] == "OK", answer["diagnostics"]


def test_validate_through_the_aws_cli(runtime):
    completed = subprocess.run(
        [str(AWS_CLI), "--endpoint-url", runtime.aws_endpoint_url, "stepfunctions",
         "validate-state-machine-definition", "--definition", json.dumps(BROKEN)],
        env={**os.environ, **runtime.client_environment()}, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip

    assert json.loads(completed.stdout)["result"] == "FAIL"


# --- TestState ------------------------------------------------------------------------------


def test_an_unmocked_task_runs_the_local_lambda(runtime):
    answer = runtime.client("stepfunctions").test_state(
        definition=json.dumps(lambda_task(runtime)), input=json.dumps({"jobId": "ts-1"})
    )

    assert answer["status"] == "SUCCEEDED"
    assert answer["nextState"] == "RecordSuccess"
    output = json.loads(answer["output"])
    assert output["jobId"] == "ts-1" and output["result"]["worked"].startswith("worker:")
    assert "inspectionData" not in answer  # INFO


def test_debug_inspection_data_shows_each_processing_step(runtime):
    answer = runtime.client("stepfunctions").test_state(
        definition=json.dumps(lambda_task(runtime)), input=json.dumps({"jobId": "ts-2"}), inspectionLevel="DEBUG"
    )

    inspection = answer["inspectionData"]
    assert json.loads(inspection["input"]) == {"jobId": "ts-2"}
    assert json.loads(inspection["afterParameters"])["Payload"] == {"jobId": "ts-2"}
    assert json.loads(inspection["result"])["StatusCode"] == 200
    assert json.loads(inspection["afterResultSelector"])["worked"].startswith("worker:")
    assert json.loads(inspection["afterResultPath"]) == json.loads(answer["output"])


def test_a_mocked_result_is_the_task_result(runtime):
    mock = {"result": json.dumps({"StatusCode": 200, "Payload": {"worked": "mocked"}})}

    answer = runtime.client("stepfunctions").test_state(
        definition=json.dumps(lambda_task(runtime)), input=json.dumps({"jobId": "ts-3"}), mock=mock
    )

    assert answer["status"] == "SUCCEEDED"
    assert json.loads(answer["output"]) == {"jobId": "ts-3", "result": {"worked": "mocked"}}


def test_a_mocked_error_with_attempts_left_is_retriable(runtime):
    answer = runtime.client("stepfunctions").test_state(
        definition=json.dumps(lambda_task(runtime)),
        input="{}",
        mock={"errorOutput": {"error": "TransientError", "cause": "flaky"}},
        stateConfiguration={"retrierRetryCount": 1},
        inspectionLevel="DEBUG",
    )

    assert answer["status"] == "RETRIABLE"
    assert (answer["error"], answer["cause"]) == ("TransientError", "flaky")
    assert answer["inspectionData"]["errorDetails"] == {"retryIndex": 0, "retryBackoffIntervalSeconds": 4}


def test_an_error_past_its_retries_is_caught(runtime):
    answer = runtime.client("stepfunctions").test_state(
        definition=json.dumps(lambda_task(runtime)),
        input=json.dumps({"jobId": "ts-4"}),
        mock={"errorOutput": {"error": "TransientError", "cause": "flaky"}},
        stateConfiguration={"retrierRetryCount": 3},
        inspectionLevel="DEBUG",
    )

    assert answer["status"] == "CAUGHT_ERROR"
    assert answer["nextState"] == "RecordFailure"
    assert json.loads(answer["output"]) == {"jobId": "ts-4", "error": {"Error": "TransientError", "Cause": "flaky"}}
    assert answer["inspectionData"]["errorDetails"] == {"catchIndex": 0}


def test_a_real_function_error_without_retry_or_catch_fails(runtime):
    runtime.inject_fault("WorkerFunction", lambda: TransientError("down"), times=1)
    task = lambda_task(runtime)
    del task["Retry"], task["Catch"]

    answer = runtime.client("stepfunctions").test_state(definition=json.dumps(task), input="{}")

    assert answer["status"] == "FAILED"
    assert answer["error"] == "TransientError"
    assert "nextState" not in answer


def test_one_state_of_a_machine_and_a_choice(runtime):
    machine = {
        "StartAt": "Route",
        "States": {
            "Route": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.size", "NumericGreaterThan": 10, "Next": "Big"}],
                "Default": "Small",
            },
            "Big": {"Type": "Succeed"},
            "Small": {"Type": "Succeed"},
        },
    }
    sfn = runtime.client("stepfunctions")

    big = sfn.test_state(definition=json.dumps(machine), stateName="Route", input='{"size": 11}')
    small = sfn.test_state(definition=json.dumps(machine), stateName="Route", input='{"size": 1}')

    assert (big["status"], big["nextState"]) == ("SUCCEEDED", "Big")
    assert small["nextState"] == "Small"


@pytest.mark.parametrize(
    ("request_fields", "code"),
    [
        ({"definition": "{nope"}, "InvalidDefinition"),
        ({"definition": json.dumps(VALID)}, "InvalidDefinition"),  # a machine without stateName
        ({"definition": json.dumps(VALID), "stateName": "Nope"}, "ValidationException"),
        ({"definition": json.dumps({"Type": "Pass", "End": True}), "mock": {"result": "{}"}}, "ValidationException"),
    ],
)
def test_bad_requests_are_json_400s(runtime, request_fields, code):
    with pytest.raises(ClientError) as raised:
        runtime.client("stepfunctions").test_state(**request_fields)

    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
