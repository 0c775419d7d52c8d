"""TestState: run one state of a definition and report what it did, as AWS's TestState API does.

The state runs on moto's TestState interpreter (the one that records ``inspectionData``), with
its ``Retry`` and ``Catch`` taken off, so it runs exactly once. What AWS would do next is then
decided here from the state's own ``Retry`` and ``Catch``:

- no error: ``SUCCEEDED`` with ``output`` and ``nextState`` (the state's ``Next``, or the Choice
  rule that matched);
- an error that a retrier matches, with attempts left after ``stateConfiguration.retrierRetryCount``
  retries: ``RETRIABLE`` (``inspectionData.errorDetails`` has ``retryIndex`` and
  ``retryBackoffIntervalSeconds``);
- otherwise an error that a catcher matches: ``CAUGHT_ERROR``, with the catcher's ``Next`` as
  ``nextState`` and the state input with the error output at the catcher's ``ResultPath`` as
  ``output`` (``errorDetails.catchIndex``);
- otherwise ``FAILED`` with ``error`` and ``cause``.

``mock.result`` stands for the task's result (what the service would have answered) and
``mock.errorOutput`` for its error; a Task state without a mock calls its resource for real (a
template function runs in its worker processes).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

INSPECTION_LEVELS = ("INFO", "DEBUG", "TRACE")
#: The name moto's TestState interpreter gives the state it runs.
_ENGINE_STATE_NAME = "TestState"


class TestStateRequestError(Exception):
    """The request cannot be run; ``code`` is AWS's error code for it."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def run_test_state(request: dict[str, Any], *, account_id: str, region: str, default_role_arn: str) -> dict[str, Any]:
    """The TestState answer for ``request`` (the API's fields, by their JSON names)."""
    state_name, state = _state_to_test(request.get("definition"), request.get("stateName"))
    level = request.get("inspectionLevel") or "INFO"
    if level not in INSPECTION_LEVELS:
        raise TestStateRequestError(
            "ValidationException",
            f"1 validation error detected: Value '{level}' at 'inspectionLevel' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{', '.join(INSPECTION_LEVELS)}]",
        )
    state_input = _json_field(request.get("input") or "{}", "input")
    mock = request.get("mock") or {}
    if mock and ("result" in mock) == ("errorOutput" in mock):
        raise TestStateRequestError("ValidationException", "mock must have exactly one of result and errorOutput")
    if mock and state.get("Type") != "Task":
        raise TestStateRequestError(
            "ValidationException", f"mock is for Task states; state {state_name!r} is a {state.get('Type')}"
        )
    if state.get("Type") in ("Map", "Parallel"):
        raise TestStateRequestError("InvalidDefinition", f"TestState of {state['Type']} states is not emulated locally")
    retry_count = int((request.get("stateConfiguration") or {}).get("retrierRetryCount") or 0)

    single = {key: value for key, value in state.items() if key not in ("Retry", "Catch")}
    outcome = _run_once(
        single,
        state_input,
        mock,
        account_id=account_id,
        region=region,
        role_arn=request.get("roleArn") or default_role_arn,
    )
    answer: dict[str, Any]
    error_details: dict[str, Any] = {}
    if outcome.error is None:
        answer = {"status": "SUCCEEDED", "output": outcome.output}
        if outcome.next_state:
            answer["nextState"] = outcome.next_state
    else:
        answer = _after_error(state, state_input, outcome.error, outcome.cause, retry_count, error_details)
    if level in ("DEBUG", "TRACE"):
        inspection = dict(outcome.inspection_data)
        if error_details:
            inspection["errorDetails"] = error_details
        answer["inspectionData"] = inspection
    return answer


class _Outcome:
    def __init__(self) -> None:
        self.output: str | None = None
        self.next_state: str | None = None
        self.error: str | None = None
        self.cause: str | None = None
        self.inspection_data: dict[str, Any] = {}


def _state_to_test(definition: Any, state_name: str | None) -> tuple[str, dict[str, Any]]:
    if not isinstance(definition, str) or not definition.strip():
        raise TestStateRequestError("ValidationException", "definition is required")
    try:
        document = json.loads(definition)
    except ValueError as error:
        raise TestStateRequestError("InvalidDefinition", f"Invalid State Machine Definition: '{error}'") from None
    if not isinstance(document, dict):
        raise TestStateRequestError("InvalidDefinition", "Invalid State Machine Definition: not a JSON object")
    if "States" not in document:
        if state_name:
            raise TestStateRequestError("ValidationException", "stateName is only for a state machine definition")
        return _ENGINE_STATE_NAME, document
    if not state_name:
        raise TestStateRequestError(
            "InvalidDefinition", "stateName is required when the definition is a state machine definition"
        )
    states = document.get("States") or {}
    if state_name not in states:
        raise TestStateRequestError("ValidationException", f"State '{state_name}' is not defined in the state machine")
    state = copy.deepcopy(states[state_name])
    if "QueryLanguage" in document and "QueryLanguage" not in state:
        state["QueryLanguage"] = document["QueryLanguage"]
    return state_name, state


def _json_field(text: str, field: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise TestStateRequestError("InvalidExecutionInput", f"Invalid {field}: {error}") from None


def _run_once(
    state: dict[str, Any], state_input: Any, mock: dict[str, Any], *, account_id: str, region: str, role_arn: str
) -> _Outcome:
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramEnded, ProgramError, ProgramTimedOut
    from moto.stepfunctions.parser.asl.eval.test_state.program_state import ProgramChoiceSelected
    from moto.stepfunctions.parser.asl.parse.test_state.asl_parser import TestStateAmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    definition = json.dumps(state)
    try:
        TestStateAmazonStateLanguageParser.parse(definition)
    except Exception as error:  # noqa: BLE001 - the parser raises several types; each is a bad definition
        raise TestStateRequestError("InvalidDefinition", f"Invalid State Machine Definition: '{error}'") from None
    execution = _test_execution(definition, state_input, _mock_test_case(mock), account_id, region, role_arn)
    execution.start()  # runs the state on this thread; moto's TestState program gives up after 5 minutes
    env = execution.exec_worker.env
    outcome = _Outcome()
    outcome.inspection_data = dict(env.inspection_data)
    program_state = env.program_state()
    if isinstance(program_state, ProgramError):
        outcome.error = program_state.error.get("error")
        outcome.cause = program_state.error.get("cause")
    elif isinstance(program_state, ProgramTimedOut):
        outcome.error, outcome.cause = "States.Timeout", "TestState ran longer than 5 minutes"
    else:
        outcome.output = to_json_str(env.states.get_input())
        if isinstance(program_state, ProgramChoiceSelected):
            outcome.next_state = program_state.next_state_name
        elif not isinstance(program_state, ProgramEnded) and env.next_state_name != _ENGINE_STATE_NAME:
            outcome.next_state = env.next_state_name
    return outcome


def _mock_test_case(mock: dict[str, Any]) -> Any:
    if not mock:
        return None
    from moto.stepfunctions.parser.mocking.mock_config import (
        MockedResponseReturn,
        MockedResponseThrow,
        MockTestCase,
        StateMockedResponses,
    )

    if "result" in mock:
        response: Any = MockedResponseReturn(0, 0, _json_field(mock["result"], "mock.result"))
    else:
        error_output = mock["errorOutput"] or {}
        if not error_output.get("error"):
            raise TestStateRequestError("ValidationException", "mock.errorOutput.error is required")
        response = MockedResponseThrow(0, 0, error_output["error"], error_output.get("cause") or "")
    responses = StateMockedResponses(_ENGINE_STATE_NAME, "mock", [response])
    return MockTestCase("TestState", "mock", [responses])


def _test_execution(
    definition: str, state_input: Any, mock_test_case: Any, account_id: str, region: str, role_arn: str
) -> Any:
    """A moto TestState execution that runs with the mock, if any."""
    from moto.stepfunctions.parser.asl.eval.evaluation_details import EvaluationDetails
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
    from moto.stepfunctions.parser.backend.state_machine import TestStateMachine
    from moto.stepfunctions.parser.backend.test_state.execution import TestStateExecution
    from moto.stepfunctions.parser.backend.test_state.execution_worker import TestStateExecutionWorker

    class Worker(TestStateExecutionWorker):
        def _get_evaluation_environment(self) -> Any:
            env = super()._get_evaluation_environment()
            env.mock_test_case = mock_test_case
            return env

    class Communication(BaseExecutionWorkerCommunication):
        def terminated(self) -> None:
            """The outcome is read from the environment (a state with ``Next`` leaves the program running)."""

    class Execution(TestStateExecution):
        def _get_start_execution_worker_comm(self) -> Any:
            return Communication(self)

        def _get_start_execution_worker(self) -> Any:
            return Worker(
                evaluation_details=EvaluationDetails(
                    aws_execution_details=self._get_start_aws_execution_details(),
                    execution_details=self.get_start_execution_details(),
                    state_machine_details=self.get_start_state_machine_details(),
                ),
                exec_comm=self._get_start_execution_worker_comm(),
                cloud_watch_logging_session=None,
                activity_store=self._activity_store,
            )

    name = f"TestState-{dt.datetime.now(dt.UTC):%Y%m%d%H%M%S%f}"
    arn = f"arn:aws:states:{region}:{account_id}:stateMachine:{name}"
    machine = TestStateMachine(name=name, arn=arn, definition=definition, role_arn=role_arn)
    return Execution(
        name=name,
        role_arn=role_arn,
        exec_arn=f"arn:aws:states:{region}:{account_id}:execution:{name}:{name}",
        account_id=account_id,
        region_name=region,
        state_machine=machine,
        start_date=dt.datetime.now(dt.UTC),
        activity_store={},
        input_data=json.dumps(state_input),
    )


# --- after an error: Retry, then Catch ----------------------------------------------------------


def _matches(error_equals: list[str], error: str, state_type: str | None) -> bool:
    if error in error_equals:
        return True
    if "States.ALL" in error_equals and error != "States.Runtime":
        return True
    task_failure = state_type == "Task" and error not in ("States.Timeout", "States.Runtime")
    return "States.TaskFailed" in error_equals and task_failure


def _after_error(
    state: dict[str, Any], state_input: Any, error: str, cause: str | None, retry_count: int, details: dict[str, Any]
) -> dict[str, Any]:
    answer: dict[str, Any] = {"error": error}
    if cause is not None:
        answer["cause"] = cause
    for index, retrier in enumerate(state.get("Retry") or []):
        if not _matches(retrier.get("ErrorEquals") or [], error, state.get("Type")):
            continue
        if retry_count < int(retrier.get("MaxAttempts", 3)):
            interval = float(retrier.get("IntervalSeconds", 1)) * float(retrier.get("BackoffRate", 2.0)) ** retry_count
            if "MaxDelaySeconds" in retrier:
                interval = min(interval, float(retrier["MaxDelaySeconds"]))
            details.update({"retryIndex": index, "retryBackoffIntervalSeconds": int(interval)})
            return {"status": "RETRIABLE", **answer}
        break  # the first retrier that matches decides; its attempts are used up
    for index, catcher in enumerate(state.get("Catch") or []):
        if _matches(catcher.get("ErrorEquals") or [], error, state.get("Type")):
            details["catchIndex"] = index
            error_output = {"Error": error, "Cause": cause or ""}
            output = _put(state_input, catcher.get("ResultPath", "$"), error_output)
            return {"status": "CAUGHT_ERROR", "nextState": catcher["Next"], "output": json.dumps(output), **answer}
    return {"status": "FAILED", **answer}


def _put(document: Any, result_path: str | None, value: Any) -> Any:
    """``ResultPath`` for a reference path of field names (``$``, ``$.a.b``); ``null`` keeps the input."""
    if result_path is None:
        return document
    if result_path == "$":
        return value
    if not result_path.startswith("$."):
        raise TestStateRequestError("InvalidDefinition", f"ResultPath {result_path!r} is not supported locally")
    result = copy.deepcopy(document) if isinstance(document, dict) else {}
    target = result
    *parents, last = result_path[2:].split(".")
    for key in parents:
        if not isinstance(target.get(key), dict):
            target[key] = {}
        target = target[key]
    target[last] = value
    return result
