"""Step Functions executions in the state folder, and resuming the ones a stop interrupted.

Each execution has a folder, ``stepfunctions/<hash of its ARN>/``, holding ``execution`` (its
description: status, input, output, error, the definition it started with, its redrive record),
rewritten when it starts, ends or is redriven, and ``history``, to which each event is appended
as the interpreter adds it. At start-up every execution is put back under its ARN with its whole
history. One that was RUNNING goes on, as AWS would, from the state it was in:

* a state that had been entered and not exited runs again with the input it entered with (a
  Task's interrupted invocation is invoked again, as Lambda retries a crashed invocation; the
  state's Retry policy applies to what that invocation returns);
* after a state that had exited, the run goes on at its ``Next`` with its output (a ``Choice``
  is evaluated again), or ends SUCCEEDED when it was the last;
* a run whose end event was written but not its description ends as that event says.

Limits: a ``Wait`` state waits its whole time again; an execution interrupted inside a ``Map``
or ``Parallel`` state ends FAILED with ``States.Runtime`` and a cause saying so, because the
engine does not track their branches.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Any

from sam_emulator.state.directory import RecordLog, StateDirectory, file_name, read_pickle, write_pickle
from sam_emulator.stepfunctions.redrive import (
    ExecutionNotRedrivableError,
    ExecutionRedriver,
    NoUnsuccessfulStateError,
    RedriveRecord,
    ResumePoint,
    resume_point,
)

logger = logging.getLogger("sam_emulator")

_DESCRIPTION = "execution"
_HISTORY = "history"
_END_EVENTS = {
    "ExecutionSucceeded": ("SUCCEEDED", "executionSucceededEventDetails"),
    "ExecutionFailed": ("FAILED", "executionFailedEventDetails"),
    "ExecutionAborted": ("ABORTED", "executionAbortedEventDetails"),
    "ExecutionTimedOut": ("TIMED_OUT", "executionTimedOutEventDetails"),
}
_INTERRUPTED_IN_CONTAINER = "States.Runtime"


@dataclass(frozen=True)
class EndRun:
    """The interrupted run had left its last state: it ends SUCCEEDED with this output."""

    output: Any


@dataclass(frozen=True)
class FailRun:
    """The interrupted run cannot go on here: it ends FAILED with ``States.Runtime``."""

    cause: str


@dataclass
class Restored:
    """An execution put back RUNNING, and how its run goes on."""

    execution: Any
    point: ResumePoint | EndRun | FailRun
    events: list[dict[str, Any]]


class ExecutionStore:
    def __init__(self, state: StateDirectory, redriver: ExecutionRedriver):
        self._root = state.folder("stepfunctions")
        self._redriver = redriver

    def _folder(self, execution_arn: str) -> Any:
        folder = self._root / file_name(execution_arn)
        folder.mkdir(exist_ok=True)
        return folder

    def save(self, execution: Any) -> None:
        """Write ``execution``'s description (at its start, end and redrive)."""
        description = {
            "arn": execution.exec_arn,
            "name": execution.name,
            "state_machine_arn": execution.state_machine_arn,
            "role_arn": execution.role_arn,
            "account": execution.account_id,
            "region": execution.region_name,
            "start_date": execution.start_date,
            "input": execution.input_data,
            "trace_header": execution.trace_header,
            "status": execution.status,
            "stop_date": execution.stop_date,
            "output": execution.output,
            "error": execution.error,
            "cause": execution.cause,
            "definition": execution.state_machine.definition,
            "redrive": copy.deepcopy(self._redriver.record(execution)),
        }
        write_pickle(self._folder(execution.exec_arn) / _DESCRIPTION, description)

    def add_event(self, execution_arn: str, event: dict[str, Any]) -> None:
        RecordLog(self._folder(execution_arn) / _HISTORY).append(dict(event))

    # --- restoring --------------------------------------------------------------------------

    def restore(self) -> list[Restored]:
        """Put every saved execution back; the ones to run on (oldest first)."""
        saved = []
        for folder in self._root.iterdir():
            if (folder / _DESCRIPTION).exists():
                saved.append((read_pickle(folder / _DESCRIPTION), list(RecordLog(folder / _HISTORY))))
        saved.sort(key=lambda pair: pair[0]["start_date"])
        to_run = []
        for description, events in saved:
            restored = self._restore_one(description, events)
            if restored is not None:
                to_run.append(restored)
        return to_run

    def _restore_one(self, description: dict[str, Any], events: list[dict[str, Any]]) -> Restored | None:
        from moto.stepfunctions.parser.api import ExecutionStatus
        from moto.stepfunctions.parser.asl.eval.event.event_manager import EventHistoryContext
        from moto.stepfunctions.parser.backend.execution import Execution
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        backend = stepfunctions_parser_backends[description["account"]][description["region"]]
        machine = next((m for m in backend.state_machines if m.arn == description["state_machine_arn"]), None)
        if machine is None:
            logger.warning("state: state machine %s is gone; execution %s is not restored",
                           description["state_machine_arn"], description["name"])  # fmt: skip
            return None
        snapshot = copy.deepcopy(machine, {id(machine.executions): [], id(machine.backend): machine.backend})
        snapshot.definition = description["definition"]
        execution = Execution(
            name=description["name"],
            sm_type=snapshot.sm_type,
            role_arn=description["role_arn"],
            exec_arn=description["arn"],
            account_id=description["account"],
            region_name=description["region"],
            state_machine=snapshot,
            start_date=description["start_date"],
            cloud_watch_logging_session=None,
            activity_store={},
            input_data=json.dumps(description["input"]),
            trace_header=description["trace_header"],
        )
        self._redriver.restore_record(execution.exec_arn, description["redrive"] or RedriveRecord())
        worker = execution._get_start_execution_worker()
        env = worker._get_evaluation_environment()
        last_event_id = max((int(e["id"]) for e in events), default=0)
        env.event_manager._history_event_list.extend(events)
        env.event_manager._event_id_gen._next_id = last_event_id + 1
        env.event_history_context = EventHistoryContext(previous_event_id=last_event_id)
        worker.env = env
        execution.exec_worker = worker
        status = description["status"]
        execution.stop_date = description["stop_date"]
        execution.output, execution.error, execution.cause = (
            description["output"], description["error"], description["cause"]
        )  # fmt: skip
        ended = _end_event(events)
        if status == "RUNNING" and ended is not None:
            status = ended[0]  # the end was written, its description was not
            execution.stop_date, details = ended[1], ended[2]
            execution.output = _json(details.get("output"))
            execution.error, execution.cause = details.get("error"), details.get("cause")
        execution.exec_status = ExecutionStatus(status)
        machine.executions.append(execution)
        if status != "RUNNING":
            return None
        point = _point_after_restart(json.loads(description["definition"]), events, description["input"])
        return Restored(execution, point, events)


def _end_event(events: list[dict[str, Any]]) -> tuple[str, dt.datetime, dict[str, Any]] | None:
    for event in reversed(events):
        kind = str(getattr(event.get("type"), "value", event.get("type")))
        if kind == "ExecutionRedriven":
            return None
        if kind in _END_EVENTS:
            status, details_key = _END_EVENTS[kind]
            return status, event["timestamp"], event.get(details_key) or {}
    return None


def _point_after_restart(
    definition: dict[str, Any], events: list[dict[str, Any]], execution_input: Any
) -> ResumePoint | EndRun | FailRun:
    """Where a run interrupted by a stop goes on."""
    states: dict[str, Any] = definition.get("States") or {}
    if not any(str(e.get("type", "")).endswith("StateEntered") for e in events):
        return ResumePoint(definition["StartAt"], execution_input)
    try:
        return resume_point(definition, events)
    except NoUnsuccessfulStateError:
        pass
    except ExecutionNotRedrivableError as reason:
        return FailRun(f"The local stack stopped during this execution: {reason}")
    exited = next(e for e in reversed(events) if str(e.get("type", "")).endswith("StateExited"))
    details = exited.get("stateExitedEventDetails") or {}
    name = details.get("name")
    state = states.get(name) or {}
    if state.get("Type") == "Choice":
        entered = next(
            e for e in reversed(events)
            if (e.get("stateEnteredEventDetails") or {}).get("name") == name
        )  # fmt: skip
        return ResumePoint(name, _json(entered["stateEnteredEventDetails"].get("input")))
    output = _json(details.get("output"))
    if state.get("End") or state.get("Type") == "Succeed":
        return EndRun(output)
    return ResumePoint(state["Next"], output)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
