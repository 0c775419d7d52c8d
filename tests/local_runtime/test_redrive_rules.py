"""The redrive rules that need no running engine: where an execution resumes, and client tokens."""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace

import pytest

from sam_emulator.stepfunctions.redrive import ExecutionNotRedrivableError, ExecutionRedriver, ResumePoint, resume_point

DEFINITION = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Next": "Fan"},
        "Fan": {"Type": "Map", "ItemProcessor": {"StartAt": "Work", "States": {"Work": {"Type": "Pass"}}}},
        "Work": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True},
    },
}


def entered(name: str, data: dict, kind: str = "Task") -> dict:
    return {"type": f"{kind}StateEntered", "stateEnteredEventDetails": {"name": name, "input": json.dumps(data)}}


def exited(name: str, kind: str = "Task") -> dict:
    return {"type": f"{kind}StateExited", "stateExitedEventDetails": {"name": name, "output": "{}"}}


STARTED = {"type": "ExecutionStarted", "executionStartedEventDetails": {"input": '{"runId": "r"}'}}


def test_it_resumes_at_the_state_entered_and_not_exited_with_its_input() -> None:
    events = [STARTED, entered("Prepare", {"a": 1}, "Pass"), exited("Prepare", "Pass"), entered("Work", {"b": 2})]
    assert resume_point(DEFINITION, events) == ResumePoint("Work", {"b": 2})


def test_a_failure_before_any_state_resumes_at_the_start_with_the_execution_input() -> None:
    assert resume_point(DEFINITION, [STARTED]) == ResumePoint("Prepare", {"runId": "r"})


def test_a_nested_state_named_like_a_top_level_one_is_not_taken_for_it() -> None:
    events = [
        STARTED,
        entered("Fan", {"items": [1]}, "Map"),
        entered("Work", {"item": 1}, "Pass"),  # inside the Map
        exited("Work", "Pass"),
    ]
    with pytest.raises(ExecutionNotRedrivableError, match="Map state 'Fan'"):
        resume_point(DEFINITION, events)


def test_a_run_whose_states_all_exited_has_nothing_to_resume() -> None:
    events = [STARTED, entered("Prepare", {}, "Pass"), exited("Prepare", "Pass")]
    with pytest.raises(ExecutionNotRedrivableError, match="no unsuccessful state"):
        resume_point(DEFINITION, events)


def test_a_client_token_is_honoured_for_15_minutes() -> None:
    now = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
    clock = {"now": now}
    redriver = ExecutionRedriver(clock=lambda: clock["now"])
    running = SimpleNamespace(exec_arn="arn:x", sm_type="STANDARD", status="RUNNING", stop_date=None)
    first_redrive = now - dt.timedelta(minutes=1)
    redriver.record(running).tokens["token-1"] = first_redrive

    clock["now"] = now + dt.timedelta(minutes=13)
    assert redriver.redrive(running, "token-1") == first_redrive, "a repeat answers the first redrive"
    clock["now"] = now + dt.timedelta(minutes=15)
    with pytest.raises(ExecutionNotRedrivableError, match="RUNNING"):
        redriver.redrive(running, "token-1")  # expired: a new request, refused as the execution runs
    assert "token-1" not in redriver.record(running).tokens
